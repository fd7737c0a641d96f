// bench:storage — what binding costs. (1) the pure binder: µs per claim decision against a
// pool of available volumes (findMatchingVolume scans the pool, as upstream's does without its
// index). (2) end to end through a real apiserver + etcd + the controller manager: N static
// volumes and N claims of an Immediate class created at once, time until every claim is Bound
// (four writes per pair, one binder worker). Baseline: upstream's binder resyncs every 15 s, so a
// claim bound well under that is not the bottleneck of a pod start.
// Usage: npm run bench:storage [-- --count 200]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEtcd } from '../src/etcd/process.js'
import { startApiServer } from '../src/apiserver/server.js'
import { createClient } from '../src/client/index.js'
import { startControllerManager } from '../src/controllers/manager.js'
import { resourceFor } from '../src/api/resources.js'
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../src/api/types.js'
import { syncClaim, type BinderView } from '../src/controllers/persistentvolume-core.js'
import { nullRecorder } from '../src/events/recorder.js'

const i = process.argv.indexOf('--count')
const COUNT = i >= 0 ? Number(process.argv[i + 1]) : 200

const pv = (n: number): PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: `pv-${n}`, resourceVersion: '1' },
  spec: { capacity: { storage: `${1 + (n % 7)}Gi` }, accessModes: ['ReadWriteOnce'], storageClassName: 'manual', hostPath: { path: `/tmp/bench-pv-${n}` } },
  status: { phase: 'Available' },
})
const pvc = (n: number): PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: `c-${n}`, namespace: 'default', uid: `u${n}`, resourceVersion: '1' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'manual' },
  status: { phase: 'Pending' },
})
const manual: StorageClass = { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'manual' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'Immediate' }

const rows: [string, string, string][] = []
for (const pool of [100, 1000, 10_000]) {
  const volumes = Array.from({ length: pool }, (_, k) => pv(k))
  const view: BinderView = { claims: () => undefined, volumes, volume: () => undefined, classes: [manual], node: () => undefined, pods: () => [] }
  const N = Math.max(200, Math.round(2_000_000 / pool))
  const t0 = performance.now()
  for (let k = 0; k < N; k++) syncClaim(pvc(k), view)
  rows.push([`binder decision, ${pool.toLocaleString('en')} available volumes`, `${(((performance.now() - t0) * 1000) / N).toFixed(1)} µs/claim`, '≪ 15 s resync'])
}

const dir = mkdtempSync(join(tmpdir(), 'netkube-bench-storage-'))
const etcd = await startEtcd({ dataDir: join(dir, 'etcd') })
const api = await startApiServer({ etcdEndpoints: [etcd.endpoint], stateDir: join(dir, 'api'), port: 0, logLevel: 'warn' })
try {
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const cm = await startControllerManager({ client, events: nullRecorder })
  try {
    await client.resource<StorageClass>(resourceFor('storageclasses')).create(manual)
    const pvs = client.resource<PersistentVolume>(resourceFor('persistentvolumes'))
    const claims = client.resource<PersistentVolumeClaim>(resourceFor('persistentvolumeclaims'), 'default')
    const strip = <T extends PersistentVolume | PersistentVolumeClaim>(o: T): T => ({ ...o, metadata: { name: o.metadata.name!, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) }, status: undefined })
    const t0 = performance.now()
    await Promise.all(Array.from({ length: COUNT }, (_, k) => pvs.create(strip(pv(k)))))
    await Promise.all(Array.from({ length: COUNT }, (_, k) => claims.create(strip(pvc(k)))))
    const created = performance.now() - t0
    for (;;) {
      const l = await claims.list()
      if (l.items.filter((c) => c.status?.phase === 'Bound').length === COUNT) break
      if (performance.now() - t0 > 300_000) throw new Error('claims not all bound after 300 s')
      await new Promise((r) => setTimeout(r, 100))
    }
    const ms = performance.now() - t0
    rows.push([`${COUNT} volumes + ${COUNT} claims created`, `${Math.round(created)} ms`, '—'])
    rows.push([`… all ${COUNT} claims Bound (controller, 4 writes each)`, `${Math.round(ms)} ms, ${Math.round((COUNT / ms) * 1000)} claims/s`, '≪ 15 s per claim'])
  } finally {
    await cm.stop()
  }
  const w = Math.max(...rows.map((r) => r[0].length))
  process.stdout.write(`storage bench (count ${COUNT}; one binder worker)\n`)
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w)}  ${b.padEnd(36)}  ${c}\n`)
} finally {
  await api.close()
  await etcd.stop()
  rmSync(dir, { recursive: true, force: true })
}
