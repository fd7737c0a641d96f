// `netkube lab supervise` as a real process: restarts with back-off, a status file that says
// why the child died, a crash loop announced in one line, and a clean stop on SIGTERM.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, existsSync, openSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { netnsHandle } from '../../src/net/door.js'
import { processAlive, procStartTicks } from '../../src/util/proc.js'
import { statusFileFor, type ComponentStatus } from '../../src/lab/supervise-core.js'
import { MAIN, need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

const readStatus = (f: string): ComponentStatus | undefined => {
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ComponentStatus
  } catch {
    return undefined
  }
}

function supervise(dir: string, flags: string[], cmd: string[]): { pid: number; log: string; pidfile: string; status: string; stop(): Promise<void> } {
  const log = join(dir, 'c.log')
  closeSync(openSync(log, 'a'))
  const pidfile = join(dir, 'c.pid')
  const child = netnsHandle().spawn([process.execPath, MAIN, 'lab', 'supervise', '--pidfile', pidfile, ...flags, '--', ...cmd], { logPath: log })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    pid: child.pid!, log, pidfile, status: statusFileFor(pidfile),
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

t.test('a child that keeps failing: backs off, says why in one line, status says crash-loop', { skip: need('build') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-sup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = "console.log('{\"level\":30,\"msg\":\"starting\"}'); console.error('netkube: no such etcd: 10.9.9.9'); process.exit(3)"
  const s = supervise(dir, ['--backoff-initial', '100ms', '--backoff-max', '400ms', '--healthy-after', '5s'], [process.execPath, '-e', script])
  t.teardown(() => s.stop())
  await waitUntil('four failed runs', async () => (readStatus(s.status)?.restarts ?? 0) >= 4, 30_000)
  const st = readStatus(s.status)!
  t.equal(st.lastExit?.reason, 'exit code 3: netkube: no such etcd: 10.9.9.9', 'the reason is the exit code and the last error line')
  t.ok(st.consecutiveFailures >= 4, `fast exits counted in a row (${st.consecutiveFailures})`)
  const lines = readFileSync(s.log, 'utf8').split('\n').filter((l) => l.startsWith('supervise:'))
  const delays = lines.map((l) => Number(/in (\d+) ms/.exec(l)?.[1]))
  t.same(delays.slice(0, 4), [100, 200, 400, 400], `exponential back-off, capped: ${delays.join(',')}`)
  t.match(lines[3], /crash-looping \(4 fast exits in a row\)/, 'a crash loop is said in the log line')
  t.match(lines[3], /exit code 3: netkube: no such etcd: 10\.9\.9\.9/, 'with its reason')
  const out = await netnsHandle().run(process.execPath, [MAIN, 'lab', 'status', '--state-dir', dir], { allowFailure: true })
  t.match(out.stdout, /not running/, 'lab status on a dir without a lab says so')
})

t.test('kill -9 of the child: restarted, status names the signal; SIGTERM stops both', { skip: need('build') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-sup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const s = supervise(dir, ['--backoff-initial', '100ms'], [process.execPath, '-e', 'setInterval(() => {}, 1000)'])
  await waitUntil('child started', async () => readStatus(s.status)?.state === 'running', 15_000)
  const first = Number(readFileSync(s.pidfile, 'utf8'))
  t.equal(readStatus(s.status)!.pid, first, 'status and pidfile agree on the PID')
  process.kill(first, 'SIGKILL')
  await waitUntil('child restarted', async () => existsSync(s.pidfile) && Number(readFileSync(s.pidfile, 'utf8')) !== first && readStatus(s.status)?.state === 'running', 15_000)
  const st = readStatus(s.status)!
  t.equal(st.restarts, 1)
  t.equal(st.lastExit?.signal, 'SIGKILL')
  t.equal(st.lastExit?.reason, 'killed by signal 9 (SIGKILL)')
  const second = st.pid!
  const ticks = procStartTicks(second)!
  t.equal(st.pidStartTicks, ticks, 'the start time recorded identifies the child')
  await s.stop()
  t.notOk(processAlive(second, ticks), 'SIGTERM to the supervisor stopped the child')
  t.notOk(existsSync(s.pidfile), 'pidfile removed')
  t.equal(readStatus(s.status)?.state, 'stopped')
})
