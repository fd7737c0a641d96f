// `lab up` is up only when the add-ons answer: the pure verdict as a table, the wait loop with
// a scripted observer (progress lines, the timeout error naming what is missing), and a real
// 2-node lab where `dig` from every node namespace right after `lab up` gets an answer at once.
import t from 'tap'
import { addonVerdict, dnsEndpoints, waitForAddons, type AddonObservation } from '../../src/lab/readiness.js'
import type { EndpointSlice } from '../../src/api/types.js'
import { netnsHandle } from '../../src/net/door.js'
import { withLab } from '../helpers/lab.js'
import { need } from '../helpers/prereq.js'

const ok = (node: string) => ({ node, ok: true, detail: '' })

t.test('addonVerdict', async (t) => {
  const cases: [string, AddonObservation, boolean, string][] = [
    ['API unreachable', { error: 'connect ECONNREFUSED', dns: [] }, false, 'the kube-system/kube-dns Service\'s endpoints (connect ECONNREFUSED)'],
    ['no pod yet', { endpoints: { ready: 0, notReady: [] }, dns: [] }, false, 'the kube-system/kube-dns Service to have ready endpoints (0 ready; no DNS pod selected yet)'],
    ['pods starting', { endpoints: { ready: 0, notReady: ['netkube-dns-abc', 'netkube-dns-def'] }, dns: [] }, false, 'the kube-system/kube-dns Service to have ready endpoints (0 ready; not ready: netkube-dns-abc, netkube-dns-def)'],
    ['not asked yet', { endpoints: { ready: 1, notReady: [] }, dns: [] }, false, 'a DNS answer for kubernetes.default.svc.cluster.local'],
    ['one node refused', { endpoints: { ready: 1, notReady: [] }, dns: [ok('node1'), { node: 'node2', ok: false, detail: 'communications error to 10.96.0.10#53: connection refused' }] }, false,
      'the cluster DNS to answer kubernetes.default.svc.cluster.local from node2 (communications error to 10.96.0.10#53: connection refused)'],
    ['answering everywhere', { endpoints: { ready: 2, notReady: [] }, dns: [ok('node1'), ok('node2')] }, true, ''],
  ]
  for (const [what, obs, ready, waiting] of cases) t.same(addonVerdict(obs), { ready, waiting }, what)
})

t.test('dnsEndpoints counts ready endpoints; a missing condition is ready', async (t) => {
  const slice = (eps: EndpointSlice['endpoints']): EndpointSlice => ({ metadata: {}, addressType: 'IPv4', endpoints: eps })
  t.same(dnsEndpoints([]), { ready: 0, notReady: [] })
  t.same(
    dnsEndpoints([
      slice([{ addresses: ['10.244.1.2'], conditions: { ready: true } }, { addresses: ['10.244.1.3'] }]),
      slice([{ addresses: ['10.244.2.2'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'dns-b' } }, { addresses: ['10.244.2.3'], conditions: { ready: false } }]),
    ]),
    { ready: 2, notReady: ['10.244.2.3', 'dns-b'] },
  )
})

t.test('waitForAddons: progress on change, done when ready, a timeout names what is missing', async (t) => {
  const seq: AddonObservation[] = [
    { error: 'connect ECONNREFUSED', dns: [] },
    { endpoints: { ready: 0, notReady: ['dns-a'] }, dns: [] },
    { endpoints: { ready: 0, notReady: ['dns-a'] }, dns: [] },
    { endpoints: { ready: 1, notReady: [] }, dns: [ok('node1')] },
  ]
  const lines: string[] = []
  let i = 0
  await waitForAddons({ observe: async () => seq[Math.min(i++, seq.length - 1)]!, timeoutMs: 5000, intervalMs: 1, progress: (l) => lines.push(l) })
  t.same(lines, [
    "waiting for the kube-system/kube-dns Service's endpoints (connect ECONNREFUSED)",
    'waiting for the kube-system/kube-dns Service to have ready endpoints (0 ready; not ready: dns-a)',
  ], 'one line per change')
  await t.rejects(
    waitForAddons({ observe: async () => ({ endpoints: { ready: 1, notReady: [] }, dns: [{ node: 'node3', ok: false, detail: 'connection timed out; no servers could be reached' }] }), timeoutMs: 50, intervalMs: 5, progress: () => {} }),
    { message: 'the cluster add-ons are not ready after 0s: still waiting for the cluster DNS to answer kubernetes.default.svc.cluster.local from node3 (connection timed out; no servers could be reached)' },
  )
  await t.rejects(waitForAddons({ observe: async () => { throw new Error('boom') }, timeoutMs: 20, intervalMs: 5, progress: () => {} }), { message: /still waiting for the add-ons \(boom\)/ })
})

t.test('right after lab up, dig from every node namespace gets an answer', { skip: need('build', 'etcd', 'dnsmasq', 'dig') }, async (t) => {
  const lab = await withLab(t, { nodes: 2 })
  const { plan } = lab.state
  for (const n of plan.nodes) {
    // One try, no retries: the lab said it is up, so the first query must be answered.
    const r = await netnsHandle(n.netns).run('dig', ['+time=2', '+tries=1', '+short', `@${plan.clusterDNS}`, 'kubernetes.default.svc.cluster.local'], { allowFailure: true })
    t.equal(r.code, 0, `${n.name}: dig exit code (${r.stdout}${r.stderr})`)
    t.equal(r.stdout.trim(), plan.kubernetesServiceIP, `${n.name}: the kubernetes Service's ClusterIP`)
  }
})
