// Issue 18, end to end: `netkube trace` in a real 3-node lab. client on node1, web-a on node2,
// web-b on node3 (agnhost on 8080); Services web (NodePort), web-headless, empty (no endpoints),
// wrongport (targetPort 9999, nothing listens). Every hop comes from the nodes' kernels; the
// probe sends a real SYN and its nft trace events must match the prediction. At the end no
// node holds a trace table.
import t from 'tap'
import { run } from '../../src/util/exec.js'
import { netnsHandle } from '../../src/net/door.js'
import type { Pod } from '../../src/api/types.js'
import { trace, traceContextFromKubeconfig } from '../../src/trace/trace.js'
import { traceWithProbe, PROBE_TABLE_PREFIX } from '../../src/trace/probe.js'
import type { Hop, TraceResult } from '../../src/trace/types.js'
import { withLab, waitUntil, res, ready } from '../helpers/lab.js'
import { need } from '../helpers/prereq.js'

const MANIFESTS = `
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  nodeSelector: {kubernetes.io/hostname: node1}
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: agnhost, args: [netexec, --http-port=8081]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-a, labels: {app: web}}
spec:
  nodeSelector: {kubernetes.io/hostname: node2}
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: agnhost, args: [netexec, --http-port=8080], ports: [{containerPort: 8080}], readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-b, labels: {app: web}}
spec:
  nodeSelector: {kubernetes.io/hostname: node3}
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: agnhost, args: [netexec, --http-port=8080], ports: [{containerPort: 8080}], readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec: {selector: {app: nothing}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: wrongport}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 9999}]}
`
const POLICY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: friend}}}]}]
`

const INGRESS = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.example.org
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`

const kinds = (r: TraceResult): string[] => r.hops.map((h) => h.kind)
const hop = (r: TraceResult, kind: string): Hop | undefined => r.hops.find((h) => h.kind === kind)
const show = (r: TraceResult): string => r.hops.map((h) => `${h.node ?? '-'} ${h.kind}: ${h.summary}`).join('\n')

t.test('netkube trace in a 3-node lab', { skip: need('build', 'etcd', 'dnsmasq', 'nft', 'dig', 'kubectl 1.33') }, async (t) => {
  const lab = await withLab(t)
  await lab.k(['apply', '-f', '-'], MANIFESTS)
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  await waitUntil('the pods ready', async () => (await pods.list()).items.filter(ready).length === 3, 90_000)
  const ctx = traceContextFromKubeconfig(lab.kubeconfig)
  const nodeIP = (name: string): string => lab.state.plan.nodes.find((n) => n.name === name)!.ip
  // the proxy writes endpoints a moment after they are ready
  await waitUntil('kube-proxy dispatches web on node1', async () => (await trace({ from: 'default/client', to: 'web' }, ctx)).outcome === 'delivered', 30_000)

  await t.test('cross-node ClusterIP by name, with a probe', async (t) => {
    const r = await traceWithProbe({ from: 'default/client', to: 'web', probe: true }, ctx)
    t.equal(r.outcome, 'delivered', show(r))
    t.same(r.to, { kind: 'service', namespace: 'default', name: 'web', clusterIP: r.to.kind === 'service' ? r.to.clusterIP : '' })
    for (const k of ['resolv', 'dns-answer', 'service-map', 'service-chain', 'dnat', 'policy', 'route', 'neighbour', 'fdb', 'vxlan', 'bridge', 'veth', 'socket']) t.ok(kinds(r).includes(k), `a ${k} hop`)
    t.match(hop(r, 'dns-answer')!.object, /^web\.default\.svc\.cluster\.local\. \d+ IN A 10\./, 'the A record the cluster DNS answered')
    t.equal(hop(r, 'service-chain')!.candidates!.length, 2, 'both endpoints, p=0.5 each')
    t.same(hop(r, 'service-chain')!.candidates!.map((c) => c.probability), [0.5, 0.5])
    const dnat = hop(r, 'dnat')!.candidates![0]!
    const epNode = hop(r, 'service-chain')!.candidates!.find((c) => c.ip === dnat.ip)!.node!
    t.not(epNode, 'node1', 'both endpoints are on other nodes')
    t.equal(hop(r, 'vxlan')!.detail!.outerDst, nodeIP(epNode), 'VXLAN to the endpoint pod node')
    t.equal(hop(r, 'vxlan')!.detail!.vni, '1')
    t.equal(hop(r, 'socket')!.node, epNode)
    t.ok(r.probe, 'probe ran')
    t.equal(r.probe!.sender, 'connected', 'the probe connection was accepted')
    t.ok(r.probe!.matched, r.probe!.mismatches.join('\n'))
    // the default (maps) layout: the DNAT happens in the slot chain whose slot-I element is this endpoint
    t.match(hop(r, 'service-map')!.summary, /^endpoints-2 element 10\.\S+ \. tcp \. 80 → goto pick-2 \(services\)$/)
    t.match(hop(r, 'dnat')!.summary, new RegExp(`^dnat-slot-[01]: slot-[01] element \\S+ \\. tcp \\. 80 : ${dnat.ip.replace(/\./g, '\\.')} \\. 8080 → DNAT to ${dnat.ip.replace(/\./g, '\\.')}:8080`))
    t.ok(r.probe!.events.some((e) => e.node === 'node1' && e.table === 'netkube-proxy' && e.chain === dnat.chain && / map @slot-\d+/.test(e.line)), 'the DNAT the prediction followed')
    t.ok(r.probe!.events.some((e) => e.node === epNode && e.table === 'netkube-netpol'), 'the packet arrived on the endpoint node')
    t.ok(r.probe!.events.some((e) => e.chain === 'counter' && /packets [1-9]/.test(e.line)), 'the probe table counters increased')
  })

  await t.test('NodePort from outside', async (t) => {
    const r = await trace({ from: 'outside', to: 'default/web' }, ctx)
    t.equal(r.outcome, 'delivered', show(r))
    t.match(hop(r, 'arp')!.summary, /answered by node1/)
    t.match(hop(r, 'service-map')!.summary, /^nodeport-endpoints-2 element tcp \. \d+ → goto nodeport-pick-2 \(nodeports\)$/)
    t.equal(hop(r, 'service-chain')!.candidates!.length, 2)
    t.ok(r.hops.some((h) => h.kind === 'masquerade' && /source rewritten/.test(h.summary)), 'masqueraded on the way out')
  })

  await t.test('headless Service: DNS answers the pods, no kube-proxy', async (t) => {
    const r = await trace({ from: 'default/client', to: 'web-headless' }, ctx)
    t.equal(r.outcome, 'delivered', show(r))
    t.same(r.to, { kind: 'service', namespace: 'default', name: 'web-headless' })
    t.equal(hop(r, 'dns-answer')!.object!.split('\n').length, 2, 'two A records')
    t.notOk(hop(r, 'service-map'), 'no proxy hop')
    t.ok(hop(r, 'headless'))
  })

  await t.test('a Service with no endpoints: the reject rule is named', async (t) => {
    const r = await trace({ from: 'default/client', to: 'empty' }, ctx)
    t.equal(r.outcome, 'rejected', show(r))
    const h = hop(r, 'reject')!
    t.equal(h.detail!.map, 'no-endpoint-services')
    t.equal(h.detail!.chain, 'reject-chain')
    t.match(h.summary, /reject with tcp reset/)
  })

  await t.test('nothing listening on the target port', async (t) => {
    const r = await trace({ from: 'default/client', to: 'wrongport' }, ctx)
    t.equal(r.outcome, 'no-listener', show(r))
    t.match(hop(r, 'socket')!.summary, /^nothing listens on 9999\/tcp in pod default\/web-[ab]/)
  })

  await t.test('an Ingress host from outside: LB ARP answerer, the ingress routing decision, then the backend', async (t) => {
    await lab.k(['apply', '-f', '-'], INGRESS)
    let r: TraceResult | undefined
    await waitUntil('the Ingress has an address', async () => (r = await trace({ from: 'outside', to: 'web.example.org' }, ctx)).outcome !== 'unresolved', 30_000)
    t.equal(r!.outcome, 'delivered', show(r!))
    t.match(hop(r!, 'arp')!.summary, /^ARP for 192\.168\.56\.\d+ is answered by node\d/)
    t.match(hop(r!, 'ingress')!.summary, /Host web\.example\.org path \/ → route web\.example\.org\/ \(Prefix\) of Ingress default\/web → backend default\/web:80/)
    t.equal(r!.hops.filter((h) => h.kind === 'socket').length, 2, 'the ingress proxy socket, then the backend pod socket')
    t.equal(r!.to.kind, 'pod')
  })

  await t.test('blocked by a NetworkPolicy: the policy is named, the probe sees the reject', async (t) => {
    await lab.k(['apply', '-f', '-'], POLICY)
    let r: TraceResult | undefined
    await waitUntil('netpol isolates web', async () => (r = await trace({ from: 'default/client', to: 'web' }, ctx)).outcome === 'blocked', 30_000)
    r = await traceWithProbe({ from: 'default/client', to: 'web', probe: true }, ctx)
    t.equal(r.outcome, 'blocked', show(r))
    const p = r.hops.find((h) => h.kind === 'policy' && h.verdict === 'reject')!
    t.match(p.summary, /BLOCKED by NetworkPolicy default\/web-deny/)
    t.equal(p.detail!.chain, 'deny-new')
    t.not(r.probe!.sender, 'connected', 'the connection did not go through')
    t.ok(r.probe!.matched, r.probe!.mismatches.join('\n'))
    t.ok(r.probe!.events.some((e) => e.chain === 'deny-new'), 'the packet reached deny-new')
  })

  await t.test('the CLI prints text and JSON', async (t) => {
    const cli = ['dist/src/cli/main.js', 'trace', '--kubeconfig', lab.kubeconfig]
    const text = await run(process.execPath, [...cli, 'default/client', 'empty'], { allowFailure: true, timeoutMs: 60_000 })
    t.equal(text.code, 1, 'not delivered: exit 1')
    t.match(text.stdout, /outcome: rejected/)
    t.match(text.stdout, /reject: .*no-endpoint-services element/)
    // web-deny (applied above) also blocks outside → NodePort: the JSON names it
    const json = await run(process.execPath, [...cli, 'outside', 'default/web', '-o', 'json'], { allowFailure: true, timeoutMs: 60_000 })
    t.equal(json.code, 1, json.stderr)
    const jr = JSON.parse(json.stdout) as TraceResult
    t.equal(jr.outcome, 'blocked')
    t.ok(jr.hops.some((h) => h.kind === 'policy' && h.detail?.policies === 'default/web-deny'))
    const bad = await run(process.execPath, [...cli, 'default/nosuch', 'web'], { allowFailure: true, timeoutMs: 60_000 })
    t.equal(bad.code, 2)
    t.match(bad.stderr, /no pod default\/nosuch/)
  })

  await t.test('tracing leaves nothing behind in any node', async (t) => {
    for (const n of lab.state.plan.nodes) {
      const rs = await netnsHandle(n.netns).run('nft', ['list', 'ruleset'], { timeoutMs: 10_000 })
      t.notMatch(rs.stdout, new RegExp(PROBE_TABLE_PREFIX), `${n.name}: no trace table`)
      t.notMatch(rs.stdout, /nftrace/, `${n.name}: no nftrace rule`)
    }
  })
})
