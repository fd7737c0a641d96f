// Controllers + scheduler against a real apiserver, with fake nodes acting as kubelets.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { CoreEvent, Deployment, EndpointSlice, Endpoints, Node, Pod, ReplicaSet, Service } from '../../src/api/types.js'
import { ANNOTATION_REVISION } from '../../src/api/types.js'
import { getCondition, podIsReady } from '../../src/api/meta.js'
import { R } from '../../src/controllers/informers.js'
import { isNotFound } from '../../src/client/errors.js'
import { eventually, withCluster } from './fakecluster.js'

const exec = promisify(execFile)

/** Deleted means the apiserver answers 404 for it; any other error is not an answer. */
async function isDeleted(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get()
    return false
  } catch (err) {
    if (isNotFound(err)) return true
    throw err
  }
}

function deployment(image: string): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 6,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image, ports: [{ name: 'http', containerPort: 8080 }], resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
      },
    },
  }
}

t.test('controllers and scheduler drive fake nodes', async (t) => {
  // A grace period well above the fake kubelet's 1 s renewals: on a loaded 2-core machine (the
  // apiserver fuzz runs beside this file) a 6 s grace let a live node turn unreachable mid-test.
  const { api, client, kubelet } = await withCluster(t, { graceMs: 12_000 })
  const pods = client.resource<Pod>(R.pods, 'default')
  const deps = client.resource<Deployment>(R.deployments, 'default')
  const rss = client.resource<ReplicaSet>(R.replicasets, 'default')
  const webPods = async () => (await pods.list({ labelSelector: 'app=web' })).items
  const readyWeb = (l: Pod[]) => l.filter((p) => !p.metadata.deletionTimestamp && podIsReady(p))
  for (const n of ['node1', 'node2', 'node3']) await kubelet.addNode(n)

  await t.test('a Deployment of 6 spreads over 3 nodes', async (t) => {
    await deps.create(deployment('agnhost:v1'))
    const l = await eventually('6 ready pods', async () => {
      const l = readyWeb(await webPods())
      return l.length === 6 && l
    })
    const perNode: Record<string, number> = {}
    for (const p of l) perNode[p.spec.nodeName!] = (perNode[p.spec.nodeName!] ?? 0) + 1
    t.same(perNode, { node1: 2, node2: 2, node3: 2 }, 'two per node')
    for (const p of l) {
      t.match(p.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
      const ref = p.metadata.ownerReferences?.[0]
      t.equal(ref?.kind, 'ReplicaSet')
      t.equal(ref?.controller, true)
    }
    const d = await eventually('deployment status', async () => {
      const d = await deps.get('web')
      return d.status?.availableReplicas === 6 && d.status.observedGeneration === d.metadata.generation && d
    })
    t.equal(d.metadata.annotations?.[ANNOTATION_REVISION], '1')
    t.equal(d.metadata.generation, 1, 'the revision annotation goes through /status: generation stays 1, as upstream')
    t.equal(getCondition(d.status?.conditions, 'Available')?.status, 'True')
    t.equal(getCondition(d.status?.conditions, 'Progressing')?.reason, 'NewReplicaSetAvailable')
    const rs = (await rss.list()).items
    t.equal(rs.length, 1)
    t.equal(rs[0]!.status?.readyReplicas, 6)
  })

  await t.test('Service → Endpoints and EndpointSlice, ready and not ready', async (t) => {
    await client.resource<Service>(R.services, 'default').create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    })
    const ep = await eventually('endpoints with 6 addresses', async () => {
      const ep = await client.resource<Endpoints>(R.endpoints, 'default').get('web')
      return ep.subsets?.[0]?.addresses?.length === 6 && ep
    })
    t.same(ep.subsets![0]!.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }], 'named targetPort resolved')
    t.ok(ep.subsets![0]!.addresses!.every((a) => a.nodeName && a.targetRef?.kind === 'Pod'))
    const slices = await eventually('one slice with 6 endpoints', async () => {
      const l = (await client.resource<EndpointSlice>(R.endpointslices, 'default').list({ labelSelector: 'kubernetes.io/service-name=web' })).items
      return l.length === 1 && l[0]!.endpoints.length === 6 && l
    })
    t.equal(slices[0]!.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io')
    t.equal(slices[0]!.metadata.ownerReferences?.[0]?.kind, 'Service')
    t.same(slices[0]!.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }])
    const victim = readyWeb(await webPods())[0]!
    await kubelet.setReady(victim, false)
    await eventually('pod moves to notReadyAddresses', async () => {
      const ep = await client.resource<Endpoints>(R.endpoints, 'default').get('web')
      return ep.subsets?.[0]?.addresses?.length === 5 && ep.subsets[0].notReadyAddresses?.[0]?.targetRef?.name === victim.metadata.name
    })
    await eventually('slice condition ready=false', async () => {
      const l = (await client.resource<EndpointSlice>(R.endpointslices, 'default').list({ labelSelector: 'kubernetes.io/service-name=web' })).items
      const e = l[0]?.endpoints.find((e) => e.targetRef?.name === victim.metadata.name)
      return e?.conditions?.ready === false && e.conditions.serving === false
    })
    await kubelet.setReady((await pods.get(victim.metadata.name!)), true)
    await eventually('6 ready again', async () => readyWeb(await webPods()).length === 6)
  })

  await t.test('rolling update keeps ≥ 5 ready, kubectl rollout status and undo work', async (t) => {
    let minReady = 6
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        minReady = Math.min(minReady, readyWeb(await webPods()).length)
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    await deps.patch('web', { spec: { template: { spec: { containers: [{ name: 'web', image: 'agnhost:v2' }] } } } }, 'strategic')
    const kubectl = (...args: string[]) => exec('kubectl', ['--kubeconfig', api.kubeconfigPath, ...args], { timeout: 90_000 })
    const rs = await kubectl('rollout', 'status', 'deployment/web', '--timeout=80s')
    t.match(rs.stdout, /successfully rolled out/)
    const d = await eventually('rollout complete', async () => {
      const d = await deps.get('web')
      return d.status?.updatedReplicas === 6 && d.status.availableReplicas === 6 && d.status.replicas === 6 && d
    })
    sampling = false
    await sampler
    t.ok(minReady >= 5, `never below 5 ready (min ${minReady})`)
    t.equal(d.metadata.annotations?.[ANNOTATION_REVISION], '2')
    t.equal(d.metadata.generation, 2, 'one template change, one bump (revision 2 is a status write)')
    const l = readyWeb(await webPods())
    t.ok(l.every((p) => p.spec.containers[0]!.image === 'agnhost:v2'), 'all pods run v2')

    const undo = await kubectl('rollout', 'undo', 'deployment/web')
    t.match(undo.stdout, /rolled back/)
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=80s')
    const d2 = await eventually('rolled back', async () => {
      const d = await deps.get('web')
      const l = readyWeb(await webPods())
      return d.status?.updatedReplicas === 6 && d.status.replicas === 6 && l.length === 6 && l.every((p) => p.spec.containers[0]!.image === 'agnhost:v1') && d
    })
    t.equal(d2.metadata.annotations?.[ANNOTATION_REVISION], '3')
    const list = (await rss.list()).items
    t.equal(list.length, 2, `the old RS was reused, not a third one: ${JSON.stringify(list.map((r) => [r.metadata.name, r.metadata.creationTimestamp, r.spec.template]))} deployment: ${JSON.stringify(d2.spec.template)}`)
    const v1 = list.find((r) => r.spec.template?.spec.containers[0]?.image === 'agnhost:v1')!
    t.equal(v1.spec.replicas, 6)
    t.equal(v1.metadata.annotations?.[ANNOTATION_REVISION], '3')
    const hist = await kubectl('rollout', 'history', 'deployment/web')
    t.match(hist.stdout, /REVISION[\s\S]*\n2 [\s\S]*\n3 /, 'rollout history lists revisions 2 and 3')

    // pause: a template change makes no rollout progress until resume.
    await kubectl('rollout', 'pause', 'deployment/web')
    await kubectl('set', 'image', 'deployment/web', 'web=agnhost:v3')
    await new Promise((r) => setTimeout(r, 1500))
    t.equal((await rss.list()).items.length, 2, 'paused: no new ReplicaSet')
    const dp = await deps.get('web')
    t.equal(getCondition(dp.status?.conditions, 'Progressing')?.reason, 'DeploymentPaused')
    await kubectl('rollout', 'resume', 'deployment/web')
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=80s')
    await eventually('v3 everywhere', async () => {
      const l = readyWeb(await webPods())
      return l.length === 6 && l.every((p) => p.spec.containers[0]!.image === 'agnhost:v3')
    })
    t.equal((await deps.get('web')).metadata.annotations?.[ANNOTATION_REVISION], '4')
  })

  await t.test('scale to 0 and back to 6', async (t) => {
    await deps.patch('web', { spec: { replicas: 0 } }, 'merge')
    await eventually('no pods', async () => (await webPods()).length === 0)
    await deps.patch('web', { spec: { replicas: 6 } }, 'merge')
    await eventually('6 ready', async () => readyWeb(await webPods()).length === 6)
    const d = await eventually('status 6', async () => {
      const d = await deps.get('web')
      return d.status?.availableReplicas === 6 && d
    })
    t.equal(d.status?.updatedReplicas, 6)
  })

  await t.test('an unschedulable pod gets PodScheduled=False and runs once a node fits', async (t) => {
    await pods.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'picky', namespace: 'default' },
      spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', image: 'agnhost', resources: { requests: { cpu: '1' } } }] },
    })
    const cond = await eventually('Unschedulable condition', async () => {
      const p = await pods.get('picky')
      const c = getCondition(p.status?.conditions, 'PodScheduled')
      return c?.reason === 'Unschedulable' && c
    })
    t.equal(cond.status, 'False')
    t.equal(cond.message, "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    await kubelet.addNode('node4', { labels: { disk: 'ssd' } })
    const p = await eventually('picky bound to node4', async () => {
      const p = await pods.get('picky')
      return p.spec.nodeName && p
    })
    t.equal(p.spec.nodeName, 'node4')
    await eventually('PodScheduled=True after binding', async () => getCondition((await pods.get('picky')).status?.conditions, 'PodScheduled')?.status === 'True')
    await pods.delete('picky')
  })

  await t.test('controllers and the scheduler leave upstream events', async (t) => {
    const events = client.resource<CoreEvent>(R.events, 'default')
    const about = async (kind: string, name: string) =>
      (await events.list({ fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` })).items
    // The rollout, undo and rescale above made more than 10 distinct ScalingReplicaSet messages:
    // client-go's aggregator folds the rest into one counted "(combined from similar events)"
    // event, and the per-object spam filter lets 25 sightings through (then one per 5 min).
    const scaling = await eventually('ScalingReplicaSet events on the Deployment', async () => {
      const l = (await about('Deployment', 'web')).filter((e) => e.reason === 'ScalingReplicaSet')
      return l.some((e) => /^\(combined from similar events\): Scaled (up|down) replica set web-[a-z0-9]+ from \d+ to \d+$/.test(e.message ?? '') && (e.count ?? 0) > 1) && l
    })
    t.ok(scaling.reduce((n, e) => n + (e.count ?? 1), 0) <= 25, 'spam filter: at most 25 sightings of one object')
    t.ok(scaling.some((e) => /^Scaled down replica set web-[a-z0-9]+ from 6 to 5$/.test(e.message ?? '')), 'a rolling step')
    t.ok(scaling.some((e) => /^Scaled up replica set web-[a-z0-9]+ to 6$/.test(e.message ?? '')), 'the first RS created at 6')
    t.ok(scaling.every((e) => e.source?.component === 'deployment-controller' && e.type === 'Normal'))
    const rsName = (await rss.list({ labelSelector: 'app=web' })).items.find((r) => (r.spec.replicas ?? 0) > 0)!.metadata.name!
    const rsEvents = await eventually('SuccessfulCreate and SuccessfulDelete on the ReplicaSet', async () => {
      const l = await about('ReplicaSet', rsName)
      return l.some((e) => e.reason === 'SuccessfulDelete') && l.some((e) => e.reason === 'SuccessfulCreate') && l
    })
    t.match(rsEvents.find((e) => e.reason === 'SuccessfulCreate')!.message, new RegExp(`^Created pod: ${rsName}-[a-z0-9]{5}$`))
    t.match(rsEvents.find((e) => e.reason === 'SuccessfulDelete')!.message, new RegExp(`^Deleted pod: ${rsName}-[a-z0-9]{5}$`))
    const picky = await eventually('FailedScheduling then Scheduled on picky', async () => {
      const l = await about('Pod', 'picky')
      return l.some((e) => e.reason === 'Scheduled') && l
    })
    const failed = picky.find((e) => e.reason === 'FailedScheduling')!
    t.equal(failed.type, 'Warning')
    t.equal(failed.message, "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    t.equal(failed.reportingComponent, 'default-scheduler', 'written through events.k8s.io/v1 as kube-scheduler does')
    t.equal(picky.find((e) => e.reason === 'Scheduled')!.message, 'Successfully assigned default/picky to node4')
  })

  await t.test('a node whose lease stops becomes Unknown; its pods are replaced elsewhere', async (t) => {
    kubelet.kill('node3')
    const n = await eventually('node3 Unknown and tainted', async () => {
      const n = await client.resource<Node>(R.nodes).get('node3')
      return getCondition(n.status?.conditions, 'Ready')?.status === 'Unknown' && (n.spec?.taints ?? []).length === 2 && n
    }, 25_000)
    t.equal(getCondition(n.status?.conditions, 'Ready')?.reason, 'NodeStatusUnknown')
    const nodeEvents = await eventually('NodeNotReady event on node3', async () => {
      const l = (await client.resource<CoreEvent>(R.events, 'default').list({ fieldSelector: 'involvedObject.name=node3,reason=NodeNotReady' })).items
      return l.length > 0 && l
    })
    t.equal(nodeEvents[0]!.message, 'Node node3 status is now: NodeNotReady')
    t.same(n.spec!.taints!.map((x) => `${x.key}:${x.effect}`).sort(), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule'])
    await eventually('6 ready web pods, none on node3', async () => {
      const l = readyWeb(await webPods())
      return l.length === 6 && l.every((p) => p.spec.nodeName !== 'node3')
    }, 30_000)
    // The agent comes back: its kubelet posts Ready again and renews its lease → taints removed.
    await kubelet.revive('node3')
    const back = await eventually('node3 untainted', async () => {
      const n = await client.resource<Node>(R.nodes).get('node3')
      return (n.spec?.taints ?? []).length === 0 && n
    }, 10_000)
    t.equal(getCondition(back.status?.conditions, 'Ready')?.reason, 'KubeletReady', 'Ready=True as the kubelet posted it')
  })

  await t.test('foreground and orphan deletion of a ReplicaSet', async (t) => {
    const mk = async (name: string) => {
      await rss.create({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name, namespace: 'default' },
        spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } },
      })
      await eventually(`${name}: 2 ready pods`, async () => readyWeb((await pods.list({ labelSelector: `app=${name}` })).items).length === 2)
    }
    await mk('fg')
    await rss.delete('fg', { propagationPolicy: 'Foreground' })
    const during = await rss.get('fg')
    t.ok(during.metadata.deletionTimestamp && during.metadata.finalizers?.includes('foregroundDeletion'), 'owner waits with the foregroundDeletion finalizer')
    let podsLeftWhenOwnerGone = -1
    await eventually('fg gone', async () => {
      const left = (await pods.list({ labelSelector: 'app=fg' })).items.length
      if (!(await isDeleted(() => rss.get('fg')))) return false
      podsLeftWhenOwnerGone = left
      return true
    })
    t.equal(podsLeftWhenOwnerGone, 0, 'dependents were gone before the owner')

    await mk('orph')
    await rss.delete('orph', { propagationPolicy: 'Orphan' })
    await eventually('orph RS gone', () => isDeleted(() => rss.get('orph')))
    const left = (await pods.list({ labelSelector: 'app=orph' })).items
    t.equal(left.length, 2, 'orphaned pods stay')
    t.ok(left.every((p) => (p.metadata.ownerReferences ?? []).length === 0), 'and lost their ownerReference')
    for (const p of left) await pods.delete(p.metadata.name!, { gracePeriodSeconds: 0 })
  })

  await t.test('deleting the Deployment cascades to ReplicaSets and pods; Service deletion to its slices', async (t) => {
    await deps.delete('web')
    await eventually('RSes gone', async () => (await rss.list()).items.length === 0)
    await eventually('pods gone', async () => (await webPods()).length === 0)
    await client.resource<Service>(R.services, 'default').delete('web')
    await eventually('slices gone', async () => (await client.resource<EndpointSlice>(R.endpointslices, 'default').list({ labelSelector: 'kubernetes.io/service-name=web' })).items.length === 0)
    await eventually('endpoints gone', () => isDeleted(() => client.resource<Endpoints>(R.endpoints, 'default').get('web')))
    t.pass('cascade done')
  })
})
