// The page in a real browser (headless Chromium) against an in-process UI server fed by hand
// (no cluster): it draws the nodes with their pods, follows the stream, and a click on a pod
// then a Service asks /api/trace and draws the answer hop by hop. The lab run is test/e2e/ui.test.ts.
import t from 'tap'
import type { Node, Pod, Service, EndpointSlice } from '../../src/api/types.js'
import { buildUiServer } from '../../src/ui/server.js'
import { ViewFeed } from '../../src/ui/feed.js'
import { ClusterModel } from '../../src/ui/model.js'
import { leaseAnnotations } from '../../src/overlay/lease.js'
import type { TraceRequest, TraceResult } from '../../src/trace/types.js'
import { need } from '../helpers/prereq.js'

const node = (i: number): Node => ({
  apiVersion: 'v1', kind: 'Node',
  metadata: { name: `node${i}`, annotations: leaseAnnotations({ backendType: 'vxlan', publicIP: `192.168.56.1${i}`, vni: 1, vtepMAC: `aa:00:00:00:00:0${i}` }) },
  spec: { podCIDR: `10.244.${i}.0/24` },
  status: { addresses: [{ type: 'InternalIP', address: `192.168.56.1${i}` }], conditions: [{ type: 'Ready', status: 'True' }] },
})
const pod = (name: string, n: number, ip: string): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name, uid: name },
  spec: { nodeName: `node${n}`, containers: [{ name: 'c', image: 'agnhost', ports: [{ containerPort: 8080 }] }] },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
} as Pod)

t.test('the page draws, follows the stream and draws a trace', { skip: need('chromium', 'build') }, async (t) => {
  const { withBrowser } = await import('../helpers/browser.js')
  const feed = new ViewFeed(new ClusterModel(), { debounceMs: 5, tickMs: 0 })
  for (const i of [1, 2, 3]) feed.apply('nodes', 'ADDED', node(i))
  feed.apply('pods', 'ADDED', pod('client', 1, '10.244.1.2'))
  feed.apply('pods', 'ADDED', pod('web-b', 2, '10.244.2.2'))
  const web: Service = { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 80, protocol: 'TCP' }] } }
  feed.apply('services', 'ADDED', web)
  const slice: EndpointSlice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4', metadata: { namespace: 'default', name: 'web-x', labels: { 'kubernetes.io/service-name': 'web' } }, endpoints: [{ addresses: ['10.244.2.2'], nodeName: 'node2', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-b' }, conditions: { ready: true } }] }
  feed.apply('endpointslices', 'ADDED', slice)
  feed.markSynced()
  const asked: TraceRequest[] = []
  const trace = async (req: TraceRequest): Promise<TraceResult> => {
    asked.push(req)
    return {
      request: req,
      from: { kind: 'pod', namespace: 'default', name: 'client', node: 'node1' },
      to: { kind: 'service', namespace: 'default', name: 'web', clusterIP: '10.96.0.10' },
      outcome: 'delivered',
      hops: [
        { stage: 'dns', kind: 'dns-answer', summary: 'web.default.svc.cluster.local A 10.96.0.10', object: 'web.default.svc.cluster.local. 5 IN A 10.96.0.10' },
        { stage: 'source', node: 'node1', kind: 'service-map', summary: 'ClusterIP 10.96.0.10:80 → service chain', object: 'ip daddr . meta l4proto . th dport vmap @service-ips' },
        { stage: 'wire', kind: 'vxlan', summary: 'VNI 1, 192.168.56.11 → 192.168.56.12' },
        { stage: 'destination', node: 'node2', kind: 'veth', summary: 'bridge port of web-b', verdict: 'pass' },
      ],
    }
  }
  const app = buildUiServer({ feed, trace })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { feed.stop(); await app.close() })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`
  const b = await withBrowser(t, `page-${process.pid}`)
  const errors: string[] = []
  b.page.on('pageerror', (e) => errors.push(e.message))
  await b.page.goto(url)
  await b.page.waitForSelector('#status[data-state="live"]')
  t.same(await b.page.$$eval('[data-node]', (els) => els.map((e) => e.getAttribute('data-node'))), ['node1', 'node2', 'node3'])
  t.match(await b.page.textContent('[data-node="node2"]'), /10\.244\.2\.0\/24.*VTEP aa:00:00:00:00:02/)
  t.equal(await b.page.locator('[data-pod]').count(), 2)
  t.equal(await b.page.locator('path.ep[data-from="default/web"][data-to="default/web-b"]').count(), 1, 'the endpoint line')

  feed.apply('pods', 'ADDED', pod('late', 3, '10.244.3.7'))
  await b.page.waitForSelector('[data-pod="default/late"]', { timeout: 2000 })
  t.match(await b.page.textContent('[data-pod="default/late"]'), /10\.244\.3\.7/, 'a new pod appears with its IP')

  await b.page.click('[data-pod="default/client"]')
  await b.page.click('[data-service="default/web"]')
  await b.page.waitForSelector('.trace [data-hop]')
  t.same(asked, [{ from: 'default/client', to: 'web.default.svc.cluster.local', port: 80 }], 'the page asked for pod → Service DNS name, first port')
  t.same(await b.page.$$eval('.trace [data-hop]', (els) => els.map((e) => e.getAttribute('data-kind'))), ['dns-answer', 'service-map', 'vxlan', 'veth'], 'a marker per hop, in order')
  t.equal(await b.page.locator('.trace polyline.trace-path').count(), 1)
  t.equal(await b.page.locator('[data-hop-row]').count(), 4)
  t.match(await b.page.textContent('[data-hop-row="1"]'), /source · node1 · service-map[\s\S]*vmap @service-ips/, 'summary and kernel object listed')
  t.match(await b.page.textContent('.outcome'), /delivered/)
  await b.shot('trace')
  t.same(errors, [], 'no script errors')
})
