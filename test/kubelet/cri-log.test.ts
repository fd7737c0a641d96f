// The CRI log format (pure): the shim's encoder and the kubelet's reader agree on one format,
// and the reader follows the kubelet's ReadLogs for tail, since, timestamps and limitBytes.
import t from 'tap'
import { formatTimestamp, LogLineEncoder, LogRenderer, MAX_LINE, parseLogRecord, parseTimestamp, tailStart } from '../../src/kubelet/cri-log.js'
import { logTarget } from '../../src/kubelet/log-target.js'
import { logOptions } from '../../src/kubelet/server.js'

const T0 = 1_764_613_649_000_000_000n // 2025-12-01T18:27:29Z

t.test('timestamps: RFC3339Nano as Go prints it, parsed back at any precision', async (t) => {
  t.equal(formatTimestamp(T0), '2025-12-01T18:27:29Z', 'no fraction when it is zero')
  t.equal(formatTimestamp(T0 + 123_450_000n), '2025-12-01T18:27:29.12345Z', 'trailing zeros trimmed')
  t.equal(formatTimestamp(T0 + 1n), '2025-12-01T18:27:29.000000001Z')
  t.equal(parseTimestamp('2025-12-01T18:27:29.000000001Z'), T0 + 1n)
  t.equal(parseTimestamp('2025-12-01T19:27:29.5+01:00'), T0 + 500_000_000n, 'offsets')
  t.equal(parseTimestamp('yesterday'), undefined)
})

t.test('encoder: whole lines F, long lines in P pieces, an unterminated tail P at EOF', async (t) => {
  let now = T0
  const enc = new LogLineEncoder('stderr', () => now)
  t.same(enc.push(Buffer.from('a\nb')).map(String), ['2025-12-01T18:27:29Z stderr F a\n'], 'b waits for its newline')
  now += 1000n
  t.same(enc.push(Buffer.from('c\n\n')).map(String), ['2025-12-01T18:27:29.000001Z stderr F bc\n', '2025-12-01T18:27:29.000001Z stderr F \n'], 'an empty line is a record')
  const long = enc.push(Buffer.alloc(MAX_LINE + 10, 'x'))
  t.equal(long.length, 1, 'a line over the limit is cut')
  t.match(String(long[0]), /^\S+ stderr P x{16384}\n$/)
  t.same(enc.end().map(String), [`2025-12-01T18:27:29.000001Z stderr P ${'x'.repeat(10)}\n`])
  t.same(enc.end(), [], 'nothing left')
})

t.test('parser and renderer round-trip the bytes the container wrote', async (t) => {
  const enc = new LogLineEncoder('stdout', () => T0)
  const file = Buffer.concat([...enc.push(Buffer.from('one\ntwo\npartial')), ...enc.end()])
  t.equal(new LogRenderer({}).push(file).toString(), 'one\ntwo\npartial')
  t.equal(new LogRenderer({ timestamps: true }).push(file).toString(), '2025-12-01T18:27:29Z one\n2025-12-01T18:27:29Z two\n2025-12-01T18:27:29Z partial')
  t.same(parseLogRecord(Buffer.from('2025-12-01T18:27:29Z stdout F:x hi there')), { timestamp: '2025-12-01T18:27:29Z', nanos: T0, stream: 'stdout', partial: false, content: Buffer.from('hi there') }, 'extra tags after a colon')
  t.equal(parseLogRecord(Buffer.from('plain old output')), undefined)
  t.equal(new LogRenderer({}).push(Buffer.from('garbage\n2025-12-01T18:27:29Z stdout F ok\n')).toString(), 'ok\n', 'unparsable lines skipped')
  const r = new LogRenderer({})
  t.equal(r.push(Buffer.from('2025-12-01T18:27:29Z stdout F ha')).toString(), '', 'half a record waits')
  t.equal(r.push(Buffer.from('lf\n')).toString(), 'half\n')
})

t.test('since, limitBytes, tail', async (t) => {
  const lines = [0n, 1n, 2n, 3n].map((s) => `${formatTimestamp(T0 + s * 1_000_000_000n)} stdout F line${s}\n`).join('')
  const file = Buffer.from(lines)
  t.equal(new LogRenderer({ sinceNanos: T0 + 2_000_000_000n }).push(file).toString(), 'line2\nline3\n', 'records older than since are dropped')
  t.equal(new LogRenderer({ limitBytes: 8 }).push(file).toString(), 'line0\nli', 'cut at limitBytes')
  t.equal(new LogRenderer({ limitBytes: 6 }).push(file).toString(), 'line0\n')
  const ts = new LogRenderer({ limitBytes: 25, timestamps: true })
  t.equal(ts.push(file).toString(), '2025-12-01T18:27:29Z line', 'the timestamps count against the limit')
  t.ok(ts.done)
  t.equal(file.subarray(tailStart(file, 2)).toString().split('\n').length - 1, 2, 'the last two lines')
  t.equal(tailStart(file, 0), file.length, 'tail 0: nothing')
  t.equal(tailStart(file, 10), 0, 'more than there are: everything')
  t.equal(tailStart(Buffer.from('a\nb'), 1), 2, 'an unterminated last line counts')
})

t.test('which instance kubectl logs reads, and upstream texts when there is none', async (t) => {
  const running = { name: 'c', ready: true, restartCount: 2, image: 'x', imageID: '', containerID: 'process://u_c_2', state: { running: { startedAt: '' } }, lastState: { terminated: { exitCode: 1, containerID: 'process://u_c_1' } } }
  t.same(logTarget(running, 'c', 'p', false), { id: 'u_c_2' })
  t.same(logTarget(running, 'c', 'p', true), { id: 'u_c_1' }, '--previous: the last terminated instance')
  const crashLoop = { ...running, containerID: 'process://u_c_2', state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, containerID: 'process://u_c_2' } } }
  t.same(logTarget(crashLoop, 'c', 'p', false), { id: 'u_c_2' }, 'a crash-looping container shows its last run')
  const fresh = { name: 'c', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } }
  t.same(logTarget(fresh, 'c', 'p', true), { message: 'previous terminated container "c" in pod "p" not found' })
  t.same(logTarget(fresh, 'c', 'p', false), { message: 'container "c" in pod "p" is waiting to start: ContainerCreating' })
  t.same(logTarget({ ...fresh, state: { waiting: { reason: 'ErrImagePull' } } }, 'c', 'p', false), { message: `container "c" in pod "p" is waiting to start: image can't be pulled` })
  t.same(logTarget(undefined, 'c', 'p', false), { message: 'container "c" in pod "p" is not available' })
})

t.test('the kubelet reads PodLogOptions from the query', async (t) => {
  t.same(logOptions({ follow: 'true', tailLines: '3', limitBytes: '10', timestamps: 'true' }), { follow: true, timestamps: true, tailLines: 3, limitBytes: 10 })
  t.same(logOptions({ sinceSeconds: '10' }, 1_000_000), { follow: false, timestamps: false, sinceNanos: 990_000_000_000n })
  t.same(logOptions({ sinceTime: '2025-12-01T18:27:29Z' }), { follow: false, timestamps: false, sinceNanos: T0 })
  t.equal(logOptions({ tailLines: 'x' }), 'invalid tailLines: "x"')
})
