// 60 pods of one ReplicaSet on 3 fake nodes: all created, bound 20/20/20 and ready (the
// scheduler's assumed placements keep back-to-back decisions spread). Timings are printed as a
// comment, never asserted.
import t from 'tap'
import type { Pod, ReplicaSet } from '../../src/api/types.js'
import { podIsReady } from '../../src/api/meta.js'
import { R } from '../../src/controllers/informers.js'
import { eventually, withCluster } from './fakecluster.js'

t.test('60 pods spread evenly and become ready', async (t) => {
  const { client, kubelet } = await withCluster(t)
  for (const n of ['n1', 'n2', 'n3']) await kubelet.addNode(n, { readyDelayMs: 0 })
  const pods = client.resource<Pod>(R.pods, 'default')
  const t0 = Date.now()
  await client.resource<ReplicaSet>(R.replicasets, 'default').create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'm', namespace: 'default' },
    spec: { replicas: 60, selector: { matchLabels: { app: 'm' } }, template: { metadata: { labels: { app: 'm' } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } },
  })
  let created = 0
  let bound = 0
  const l = await eventually('60 ready pods', async () => {
    const l = (await pods.list({ labelSelector: 'app=m' })).items
    if (!created && l.length === 60) created = Date.now() - t0
    if (!bound && l.length === 60 && l.every((p) => p.spec.nodeName)) bound = Date.now() - t0
    return l.length === 60 && l.every(podIsReady) && l
  }, 60_000, 50)
  t.comment(`60 pods: all created ${created} ms, all bound ${bound} ms, all ready ${Date.now() - t0} ms`)
  const per: Record<string, number> = {}
  for (const p of l) per[p.spec.nodeName!] = (per[p.spec.nodeName!] ?? 0) + 1
  t.same(per, { n1: 20, n2: 20, n3: 20 })
  const rs = await eventually('RS status', async () => {
    const rs = await client.resource<ReplicaSet>(R.replicasets, 'default').get('m')
    return rs.status?.readyReplicas === 60 && rs
  })
  t.equal(rs.status?.replicas, 60, 'no double creates')
  t.equal((await pods.list({ labelSelector: 'app=m' })).items.length, 60)
})
