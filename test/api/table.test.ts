import t from 'tap'
import { RESOURCES, resourceFor } from '../../src/api/resources.js'
import { age, formatEndpoints, humanDuration, podStatusReason, tableColumns, toTable } from '../../src/api/table.js'
import type { KubeObject, Pod } from '../../src/api/types.js'

const res = resourceFor
const now = new Date('2026-11-28T12:00:00Z')
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString()

t.test('humanDuration matches apimachinery duration.HumanDuration', async (t) => {
  const cases: [number, string][] = [
    [-5, '<invalid>'],
    [-1, '0s'],
    [0, '0s'],
    [5, '5s'],
    [119, '119s'],
    [120, '2m'],
    [182, '3m2s'],
    [599, '9m59s'],
    [600, '10m'],
    [179 * 60, '179m'],
    [3 * 3600, '3h'],
    [3 * 3600 + 25 * 60, '3h25m'],
    [8 * 3600, '8h'],
    [47 * 3600, '47h'],
    [48 * 3600, '2d'],
    [50 * 3600, '2d2h'],
    [8 * 86400, '8d'],
    [400 * 86400, '400d'],
    [2 * 365 * 86400, '2y'],
    [(3 * 365 + 10) * 86400, '3y10d'],
    [9 * 365 * 86400, '9y'],
  ]
  for (const [s, want] of cases) t.equal(humanDuration(s * 1000), want, `${s}s`)
  t.equal(age(undefined, now), '<unknown>')
  t.equal(age(ago(65), now), '65s')
})

function pod(over: Partial<Pod> & { status?: Pod['status'] }): Pod {
  return {
    metadata: { name: 'web-1', namespace: 'default', creationTimestamp: ago(300), ...(over.metadata ?? {}) },
    spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }], nodeName: 'node-1', ...(over.spec ?? {}) },
    status: over.status,
  } as Pod
}

const running = (name: string, ready = true, restarts = 0) => ({ name, ready, restartCount: restarts, image: '', imageID: '', state: { running: { startedAt: ago(100) } } })

t.test('pod STATUS column follows kubectl', async (t) => {
  const cases: [string, Pod, string][] = [
    ['pending', pod({ status: { phase: 'Pending' } }), 'Pending'],
    ['container creating', pod({ status: { phase: 'Pending', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, image: '', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } }] } }), 'ContainerCreating'],
    ['running', pod({ status: { phase: 'Running', containerStatuses: [running('a'), running('b')] } }), 'Running'],
    ['crashloop', pod({ status: { phase: 'Running', containerStatuses: [running('a'), { name: 'b', ready: false, restartCount: 4, image: '', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }), 'CrashLoopBackOff'],
    ['completed', pod({ status: { phase: 'Succeeded', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] } }), 'Completed'],
    ['exit code without reason', pod({ status: { phase: 'Failed', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 2 } } }] } }), 'ExitCode:2'],
    ['signal', pod({ status: { phase: 'Failed', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 137, signal: 9 } } }] } }), 'Signal:9'],
    ['one done one running, ready → Running', pod({ status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'a', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running('b')] } }), 'Running'],
    ['one done one running, not ready → NotReady', pod({ status: { phase: 'Running', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running('b')] } }), 'NotReady'],
    ['init waiting', pod({ spec: { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'i', image: 'x' }] }, status: { phase: 'Pending', initContainerStatuses: [{ name: 'i', ready: false, restartCount: 0, image: '', imageID: '', state: { running: {} } }] } }), 'Init:0/1'],
    ['init error', pod({ spec: { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'i', image: 'x' }] }, status: { phase: 'Pending', initContainerStatuses: [{ name: 'i', ready: false, restartCount: 1, image: '', imageID: '', state: { terminated: { exitCode: 1, reason: 'Error' } } }] } }), 'Init:Error'],
    ['init crashloop', pod({ spec: { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'i', image: 'x' }] }, status: { phase: 'Pending', initContainerStatuses: [{ name: 'i', ready: false, restartCount: 3, image: '', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }), 'Init:CrashLoopBackOff'],
    ['terminating', pod({ metadata: { name: 'x', deletionTimestamp: ago(1) }, status: { phase: 'Running', containerStatuses: [running('a')] } }), 'Terminating'],
    ['evicted', pod({ status: { phase: 'Failed', reason: 'Evicted' } }), 'Evicted'],
    ['no status', pod({}), ''],
  ]
  for (const [what, p, want] of cases) t.equal(podStatusReason(p), want, what)
})

t.test('pods table: columns, cells, wide columns by priority', async (t) => {
  const p = pod({ status: { phase: 'Running', podIP: '10.244.1.5', containerStatuses: [running('a'), running('b', false, 2)] } })
  p.status!.containerStatuses![1]!.lastState = { terminated: { exitCode: 1, finishedAt: ago(90) } }
  const table = toTable(res('pods'), [p], { now })
  t.equal(table.kind, 'Table')
  t.equal(table.apiVersion, 'meta.k8s.io/v1')
  t.same(table.columnDefinitions.map((c) => [c.name, c.priority]), [
    ['Name', 0], ['Ready', 0], ['Status', 0], ['Restarts', 0], ['Age', 0], ['IP', 1], ['Node', 1], ['Nominated Node', 1], ['Readiness Gates', 1],
  ])
  t.equal(table.columnDefinitions[0]!.format, 'name')
  t.same(table.rows[0]!.cells, ['web-1', '1/2', 'Running', '2 (90s ago)', '5m', '10.244.1.5', 'node-1', '<none>', '<none>'])
  t.same(table.rows[0]!.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: p.metadata }, 'Metadata by default')
  const full = toTable(res('pods'), [p], { now, includeObject: 'Object' })
  t.equal((full.rows[0]!.object as KubeObject).kind, 'Pod')
  t.equal((full.rows[0]!.object as KubeObject).apiVersion, 'v1')
  t.equal((full.rows[0]!.object as Pod).status?.podIP, '10.244.1.5')
  t.notOk('object' in toTable(res('pods'), [p], { now, includeObject: 'None' }).rows[0]!)
  const unscheduled = toTable(res('pods'), [pod({ spec: { containers: [{ name: 'a', image: 'x' }] }, status: { phase: 'Pending' } })], { now })
  t.same(unscheduled.rows[0]!.cells.slice(0, 4), ['web-1', '0/1', 'Pending', '0'])
})

t.test('services table', async (t) => {
  const svcs = [
    { metadata: { name: 'web', creationTimestamp: ago(4 * 3600) }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], selector: { tier: 'fe', app: 'web' } } },
    { metadata: { name: 'np', creationTimestamp: ago(10) }, spec: { type: 'NodePort', clusterIP: '10.96.0.21', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] } },
    { metadata: { name: 'lb', creationTimestamp: ago(10) }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.22', ports: [{ port: 443, nodePort: 31443, protocol: 'TCP' }] }, status: { loadBalancer: {} } },
    { metadata: { name: 'lb2', creationTimestamp: ago(10) }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.23', ports: [] }, status: { loadBalancer: { ingress: [{ ip: '192.168.50.200' }] } } },
    { metadata: { name: 'ext', creationTimestamp: ago(10) }, spec: { type: 'ExternalName', externalName: 'db.example.com' } },
    { metadata: { name: 'headless', creationTimestamp: ago(10) }, spec: { type: 'ClusterIP', clusterIP: 'None', selector: { app: 'db' } } },
  ] as unknown as KubeObject[]
  const table = toTable(res('services'), svcs, { now })
  t.same(table.columnDefinitions.map((c) => c.name), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector'])
  t.same(table.rows.map((r) => r.cells), [
    ['web', 'ClusterIP', '10.96.0.20', '<none>', '80/TCP,53/UDP', '4h', 'app=web,tier=fe'],
    ['np', 'NodePort', '10.96.0.21', '<none>', '80:30080/TCP', '10s', '<none>'],
    ['lb', 'LoadBalancer', '10.96.0.22', '<pending>', '443:31443/TCP', '10s', '<none>'],
    ['lb2', 'LoadBalancer', '10.96.0.23', '192.168.50.200', '<none>', '10s', '<none>'],
    ['ext', 'ExternalName', '<none>', 'db.example.com', '<none>', '10s', '<none>'],
    ['headless', 'ClusterIP', 'None', '<none>', '<none>', '10s', 'app=db'],
  ])
})

t.test('deployments, replicasets, nodes, namespaces, configmaps, leases', async (t) => {
  const dep = {
    metadata: { name: 'web', creationTimestamp: ago(2 * 86400) },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'log', image: 'busybox' }] } } },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  } as unknown as KubeObject
  t.same(toTable(res('deployments'), [dep], { now }).rows[0]!.cells, ['web', '2/3', 3, 2, '2d', 'web,log', 'nginx:1.25,busybox', 'app=web'])
  t.same(tableColumns(res('deployments')).map((c) => c.name), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector'])
  const fresh = { metadata: { name: 'new', creationTimestamp: ago(1) }, spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [] } } } } as unknown as KubeObject
  t.same(toTable(res('deployments'), [fresh], { now }).rows[0]!.cells.slice(0, 4), ['new', '0/1', 0, 0], 'no status yet')

  const rs = { metadata: { name: 'web-5d8f7', creationTimestamp: ago(70) }, spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d8f7' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx' }] } } }, status: { replicas: 3, readyReplicas: 1 } } as unknown as KubeObject
  t.same(toTable(res('replicasets'), [rs], { now }).rows[0]!.cells, ['web-5d8f7', 3, 3, 1, '70s', 'web', 'nginx', 'app=web,pod-template-hash=5d8f7'])

  const node = {
    metadata: { name: 'node-1', creationTimestamp: ago(3600), labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/worker': '' } },
    spec: { unschedulable: true },
    status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '192.168.50.11' }], nodeInfo: { kubeletVersion: 'v1.33.0-netkube', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.18.0', containerRuntimeVersion: 'podman://4.3.1' } },
  } as unknown as KubeObject
  t.same(toTable(res('nodes'), [node], { now }).rows[0]!.cells, ['node-1', 'Ready,SchedulingDisabled', 'control-plane,worker', '60m', 'v1.33.0-netkube', '192.168.50.11', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.18.0', 'podman://4.3.1'])
  const notReady = { metadata: { name: 'n2', creationTimestamp: ago(5) }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } } as unknown as KubeObject
  t.same(toTable(res('nodes'), [notReady], { now }).rows[0]!.cells.slice(0, 3), ['n2', 'NotReady', '<none>'])
  const noCond = { metadata: { name: 'n3', creationTimestamp: ago(5) } } as unknown as KubeObject
  t.equal(toTable(res('nodes'), [noCond], { now }).rows[0]!.cells[1], 'Unknown')

  const ns = { metadata: { name: 'default', creationTimestamp: ago(600) }, status: { phase: 'Active' } } as unknown as KubeObject
  t.same(toTable(res('namespaces'), [ns], { now }).rows[0]!.cells, ['default', 'Active', '10m'])
  const cm = { metadata: { name: 'cfg', creationTimestamp: ago(5) }, data: { a: '1', b: '2' }, binaryData: { c: 'eA==' } } as unknown as KubeObject
  t.same(toTable(res('configmaps'), [cm], { now }).rows[0]!.cells, ['cfg', 3, '5s'])
  const lease = { metadata: { name: 'node-1', creationTimestamp: ago(5) }, spec: { holderIdentity: 'node-1' } } as unknown as KubeObject
  t.same(toTable(res('leases'), [lease], { now }).rows[0]!.cells, ['node-1', 'node-1', '5s'])
})

t.test('endpoints and endpointslices', async (t) => {
  const ep = {
    metadata: { name: 'web', creationTimestamp: ago(5) },
    subsets: [{ addresses: [{ ip: '10.244.1.5' }, { ip: '10.244.2.7' }], ports: [{ port: 8080 }, { port: 8443 }] }],
  } as unknown as KubeObject
  t.equal(formatEndpoints(ep as never), '10.244.1.5:8080,10.244.2.7:8080,10.244.1.5:8443 + 1 more...')
  t.same(toTable(res('endpoints'), [{ metadata: { name: 'empty', creationTimestamp: ago(5) } } as KubeObject], { now }).rows[0]!.cells, ['empty', '<none>', '5s'])
  const one = { metadata: { name: 'db' }, subsets: [{ addresses: [{ ip: '10.244.1.9' }], ports: [{ port: 5432 }] }] } as unknown as KubeObject
  t.equal(formatEndpoints(one as never), '10.244.1.9:5432')

  const es = {
    metadata: { name: 'web-abc12', creationTimestamp: ago(5) },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.1.5'] }, { addresses: ['10.244.1.6'] }, { addresses: ['10.244.1.7'] }, { addresses: ['10.244.1.8'] }],
    ports: [{ port: 8080 }, { port: 8443 }],
  } as unknown as KubeObject
  t.same(toTable(res('endpointslices'), [es], { now }).rows[0]!.cells, ['web-abc12', 'IPv4', '8080,8443', '10.244.1.5,10.244.1.6,10.244.1.7 + 1 more...', '5s'])
  const empty = { metadata: { name: 'e', creationTimestamp: ago(5) }, addressType: 'IPv4', endpoints: [] } as unknown as KubeObject
  t.same(toTable(res('endpointslices'), [empty], { now }).rows[0]!.cells, ['e', 'IPv4', '<unset>', '<unset>', '5s'])
})

t.test('malformed objects never break a table', async (t) => {
  for (const r of RESOURCES) {
    const junk = [{ metadata: { name: 'j' }, spec: 'x', status: 5, subsets: 'y', endpoints: 7 }, { metadata: { name: 'k' } }] as unknown as KubeObject[]
    const table = toTable(r, junk, { now })
    t.equal(table.rows.length, 2, r.plural)
    const nameAt = Math.max(0, table.columnDefinitions.findIndex((c) => c.format === 'name'))
    t.equal(table.rows[0]!.cells[nameAt], 'j')
    t.equal(table.rows[0]!.cells.length, table.columnDefinitions.length)
  }
})
