// kubectl port-forward under load: 16 concurrent connections, each reading an 8 MiB random
// file the pod serves, must all arrive whole and byte-exact (sha256) — over SPDY/3.1 (kubectl
// 1.27) and SPDY inside WebSocket (1.33). Random bytes, not zeros: interleaved or dropped
// frames change the hash, not just the length.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { rmSync, writeFileSync } from 'node:fs'
import type { Pod } from '../../src/api/types.js'
import { portForward, streamRig } from '../helpers/stream-rig.js'
import { need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

const CONNS = 16
const SIZE = 8 * 1024 * 1024
const PORT = 9000
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Everything the server sends on one connection to 127.0.0.1:port, until it closes. */
function readAll(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect({ host: '127.0.0.1', port })
    s.setTimeout(60_000, () => s.destroy(new Error('no data for 60 s')))
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('end', () => resolve(Buffer.concat(chunks)))
    s.on('error', reject)
  })
}

t.test('kubectl port-forward: 16 concurrent 8 MiB streams arrive byte-exact', { skip: need('busybox', 'etcd', 'addon:setns', 'kubectl 1.27', 'kubectl 1.33', 'socat') }, async (t) => {
  const r = await streamRig(t, '10.250.13.0/24', 'f')
  const kc = r.api.kubeconfigPath
  // The process runtime shares the node's filesystem: the file the pod serves, removed afterwards.
  const data = randomBytes(SIZE)
  const file = `/tmp/netkube-pf-${randomBytes(4).toString('hex')}`
  writeFileSync(file, data)
  t.teardown(() => rmSync(file, { force: true }))
  await r.pods.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'blob' },
    spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', `exec socat -U TCP-LISTEN:${PORT},fork,reuseaddr OPEN:${file}`] }] },
  } as Pod)
  await waitUntil('blob running', async () => (await r.pods.get('blob')).status?.containerStatuses?.[0]?.state?.running !== undefined, 30_000)
  const want = sha(data)

  for (const v of ['1.27', '1.33']) {
    await t.test(`kubectl ${v}`, async (t) => {
      const { port, stderr } = await portForward(t, v, kc, 'pod/blob', PORT)
      const t0 = Date.now()
      const got = await Promise.all(Array.from({ length: CONNS }, () => readAll(port)))
      const secs = (Date.now() - t0) / 1000
      t.same(
        got.map((b) => b.length),
        got.map(() => SIZE),
        'every connection got all 8 MiB',
      )
      t.equal(got.filter((b) => sha(b) === want).length, CONNS, `all ${CONNS} byte-exact (${((CONNS * SIZE) / 2 ** 20 / secs).toFixed(0)} MiB/s, noisy)`)
      t.notMatch(stderr(), /error/i, `kubectl reported no stream errors: ${stderr().slice(0, 2000)}`)
    })
  }
})
