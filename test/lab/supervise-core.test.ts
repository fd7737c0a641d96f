// The supervisor's pure decisions: back-off, the one-line exit reason, the status cells.
import t from 'tap'
import { DEFAULT_BACKOFF, describeStatus, exitReason, formatAge, lastWords, nextRestart, statusFileFor, type ComponentStatus } from '../../src/lab/supervise-core.js'

t.test('back-off: doubles per fast exit, capped, reset after a healthy run', async (t) => {
  const p = { initialMs: 500, maxMs: 4000, healthyAfterMs: 10_000 }
  let n = 0
  const delays: number[] = []
  for (let i = 0; i < 6; i++) {
    const r = nextRestart(p, n, 200)
    n = r.consecutive
    delays.push(r.delayMs)
  }
  t.same(delays, [500, 1000, 2000, 4000, 4000, 4000], 'exponential, then capped')
  t.same(nextRestart(p, n, 60_000), { consecutive: 1, delayMs: 500 }, 'a long run resets the count')
  t.same(nextRestart(p, 0, 10_000), { consecutive: 1, delayMs: 500 }, 'exactly healthyAfter counts as healthy')
  t.equal(nextRestart(DEFAULT_BACKOFF, 1000, 0).delayMs, DEFAULT_BACKOFF.maxMs, 'no overflow after many exits')
})

t.test('exit reason: the signal by number and name, or the code and the last words', async (t) => {
  t.equal(exitReason(null, 'SIGKILL', 'whatever'), 'killed by signal 9 (SIGKILL)')
  t.equal(exitReason(null, 'SIGUSR2', ''), 'killed by signal SIGUSR2')
  t.equal(exitReason(1, null, 'netkube: etcd not reachable'), 'exit code 1: netkube: etcd not reachable')
  t.equal(exitReason(0, null, ''), 'exit code 0')
})

t.test("last words: netkube's error line, not stack frames or info logs", async (t) => {
  const node = [
    '{"level":30,"time":1,"pid":7,"component":"server","msg":"starting"}',
    'netkube: failed to allocate IP 10.96.0.10: provided IP is already allocated',
    'supervise: something of ours',
    '',
  ].join('\n')
  t.equal(lastWords(node), 'netkube: failed to allocate IP 10.96.0.10: provided IP is already allocated')
  const stack = ['file:///x.js:3', "Error: Cannot find module '/nope.js'", '    at Module._resolveFilename (node:internal/modules/cjs/loader:1145:15)', '    at node:internal/main/run_main_module:28:49', '^^^'].join('\n')
  t.equal(lastWords(stack), "Error: Cannot find module '/nope.js'")
  const zap = [
    '{"level":"warn","ts":"x","msg":"slow"}',
    '{"level":"fatal","ts":"x","caller":"etcdmain/etcd.go:204","msg":"discovery failed","error":"listen tcp 1.2.3.4:2380: bind: cannot assign requested address"}',
  ].join('\n')
  t.equal(lastWords(zap), 'discovery failed: listen tcp 1.2.3.4:2380: bind: cannot assign requested address', "etcd's fatal JSON line")
  t.equal(lastWords('{"level":30,"msg":"only info"}\n'), 'only info', 'no error anywhere: the last line')
  t.equal(lastWords(''), '')
  t.equal(lastWords('x'.repeat(500)).length, 200, 'one line, bounded')
  t.equal(lastWords('dnsmasq: failed to create listening socket for 192.168.56.1: Address already in use\n'), 'dnsmasq: failed to create listening socket for 192.168.56.1: Address already in use')
})

t.test('status cells', async (t) => {
  const base: ComponentStatus = { command: 'etcd', supervisorPid: 1, state: 'running', pid: 42, startedAt: 1_000, restarts: 2, consecutiveFailures: 1,
    lastExit: { code: null, signal: 'SIGKILL', at: 900, ranMs: 50_000, reason: 'killed by signal 9 (SIGKILL)' } }
  t.same(describeStatus(base, true, 1_000 + 125_000), { state: 'running', restarts: '2', age: '2m05s', reason: 'killed by signal 9 (SIGKILL)' })
  t.equal(describeStatus({ ...base, state: 'backing-off', consecutiveFailures: 1, nextStartAt: 5_000 }, true, 1_000).state, 'backing-off')
  t.same(describeStatus({ ...base, state: 'backing-off', consecutiveFailures: 3, nextStartAt: 5_000 }, true, 1_000), { state: 'crash-loop', restarts: '2', age: 'next in 4s', reason: 'killed by signal 9 (SIGKILL)' })
  t.equal(describeStatus(base, false, 0).state, 'DEAD', 'a dead supervisor is DEAD whatever its file says')
  t.equal(describeStatus(undefined, true, 0).state, 'starting')
  t.equal(formatAge(3_600_000 * 2 + 60_000 * 3), '2h03m')
  t.equal(statusFileFor('/s/run/etcd-node1.pid'), '/s/run/etcd-node1.status.json')
})
