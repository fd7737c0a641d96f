// ClusterIP / NodePort allocation: race-free under concurrency, requested values honoured
// or refused with 422, released on delete, and never re-used after an apiserver restart.
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { apiRequest, withApiServer } from '../helpers/apiserver.js'
import { inj, service } from './util.js'

const SVC = '/api/v1/namespaces/default/services'

t.test('service allocation', async (t) => {
  const srv = await withApiServer(t)

  t.test('the kubernetes service owns .1; .10 only on request', async (t) => {
    const k = await inj(srv, 'GET', `${SVC}/kubernetes`)
    t.equal(k.body.spec.clusterIP, '10.96.0.1')
    t.equal(k.body.spec.ports[0].port, 443)
    t.equal(k.body.spec.ports[0].targetPort, srv.port)
    const ep = await inj(srv, 'GET', '/api/v1/namespaces/default/endpoints/kubernetes')
    t.same(ep.body.subsets[0].addresses, [{ ip: '127.0.0.1' }])
    t.equal(ep.body.subsets[0].ports[0].port, srv.port)
    const dns = await inj(srv, 'POST', '/api/v1/namespaces/kube-system/services', { ...service('kube-dns', { clusterIP: '10.96.0.10' }), metadata: { name: 'kube-dns' } })
    t.equal(dns.status, 201, dns.text)
    t.equal(dns.body.spec.clusterIP, '10.96.0.10')
    t.same(dns.body.spec.clusterIPs, ['10.96.0.10'])
  })

  t.test('32 concurrent creates get 32 distinct ClusterIPs', async (t) => {
    const res = await Promise.all(Array.from({ length: 32 }, (_, i) => apiRequest<any>(srv, 'POST', SVC, service(`c${i}`))))
    t.same(res.map((r) => r.status), Array(32).fill(201), res.find((r) => r.status !== 201)?.text ?? '')
    const ips = res.map((r) => r.body.spec.clusterIP)
    t.equal(new Set(ips).size, 32)
    for (const ip of ips) {
      t.match(ip, /^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/, `${ip} in 10.96.0.0/12`)
      t.not(ip, '10.96.0.1')
      t.not(ip, '10.96.0.10')
    }
    const etcd = new Etcd3({ hosts: srv.etcdEndpoint })
    t.teardown(() => etcd.close())
    const keys = await etcd.getAll().prefix('/registry/ranges/serviceips/').keys()
    for (const ip of ips) t.ok(keys.includes(`/registry/ranges/serviceips/${ip}`))
  })

  t.test('requested ClusterIP honoured; taken or out of range is 422', async (t) => {
    const a = await inj(srv, 'POST', SVC, service('want', { clusterIP: '10.96.5.5' }))
    t.equal(a.body.spec.clusterIP, '10.96.5.5')
    const taken = await inj(srv, 'POST', SVC, service('want2', { clusterIP: '10.96.5.5' }))
    t.equal(taken.status, 422)
    t.equal(taken.body.details.causes[0].field, 'spec.clusterIPs')
    t.match(taken.body.message, /failed to allocate IP 10.96.5.5: provided IP is already allocated/)
    const out = await inj(srv, 'POST', SVC, service('want3', { clusterIP: '10.200.0.1' }))
    t.equal(out.status, 422)
    t.match(out.body.message, /The range of valid IPs is 10.96.0.0\/12/)
    const concurrent = await Promise.all([0, 1, 2, 3].map((i) => inj(srv, 'POST', SVC, service(`same${i}`, { clusterIP: '10.96.6.6' }))))
    t.equal(concurrent.filter((r) => r.status === 201).length, 1, 'one concurrent requester wins the IP')
    t.equal(concurrent.filter((r) => r.status === 422).length, 3)
  })

  t.test('headless and ExternalName', async (t) => {
    const h = await inj(srv, 'POST', SVC, service('headless', { clusterIP: 'None' }))
    t.equal(h.status, 201, h.text)
    t.equal(h.body.spec.clusterIP, 'None')
    const e = await inj(srv, 'POST', SVC, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } })
    t.equal(e.status, 201, e.text)
    t.notOk(e.body.spec.clusterIP)
  })

  t.test('NodePort allocation: automatic, requested, taken, out of range, released', async (t) => {
    const np = await inj(srv, 'POST', SVC, service('np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81, nodePort: 30080 }] }))
    t.equal(np.status, 201, np.text)
    const [p0, p1] = np.body.spec.ports
    t.ok(p0.nodePort >= 30000 && p0.nodePort <= 32767)
    t.equal(p1.nodePort, 30080)
    const taken = await inj(srv, 'POST', SVC, service('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))
    t.equal(taken.status, 422)
    t.equal(taken.body.details.causes[0].field, 'spec.ports[0].nodePort')
    t.match(taken.body.message, /provided port is already allocated/)
    const out = await inj(srv, 'POST', SVC, service('np3', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }))
    t.equal(out.status, 422)
    const lb = await inj(srv, 'POST', SVC, service('lb', { type: 'LoadBalancer' }))
    t.ok(lb.body.spec.ports[0].nodePort >= 30000)
    // Update keeps the allocated node port when the client does not repeat it.
    const upd = await inj(srv, 'PUT', `${SVC}/np`, { ...np.body, spec: { ...np.body.spec, ports: [{ name: 'a', port: 80, targetPort: 80, protocol: 'TCP' }, { name: 'b', port: 81, targetPort: 81, protocol: 'TCP', nodePort: 30080 }] } })
    t.equal(upd.status, 200, upd.text)
    t.equal(upd.body.spec.ports[0].nodePort, p0.nodePort)
    t.equal((await inj(srv, 'DELETE', `${SVC}/np`)).status, 200)
    const again = await inj(srv, 'POST', SVC, service('np4', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))
    t.equal(again.status, 201, 'released node port can be requested again')
    // Switching to ClusterIP releases the node port.
    const toCIP = await inj(srv, 'PATCH', `${SVC}/np4`, { spec: { type: 'ClusterIP', externalTrafficPolicy: null, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] } }, { contentType: 'application/merge-patch+json' })
    t.equal(toCIP.status, 200, toCIP.text)
    t.notOk(toCIP.body.spec.ports[0].nodePort)
    t.equal((await inj(srv, 'POST', SVC, service('np5', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))).status, 201)
  })

  t.test('LoadBalancer: allocateLoadBalancerNodePorts false, healthCheckNodePort for Local', async (t) => {
    const noNp = await inj(srv, 'POST', SVC, service('lb-nonp', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81, nodePort: 30090 }] }))
    t.equal(noNp.status, 201, noNp.text)
    t.notOk(noNp.body.spec.ports[0].nodePort, 'no node port picked')
    t.equal(noNp.body.spec.ports[1].nodePort, 30090, 'a requested one is still allocated (upstream)')
    t.equal((await inj(srv, 'POST', SVC, service('lb-np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30090 }] }))).status, 422)
    const local = await inj(srv, 'POST', SVC, service('lb-local', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }))
    t.equal(local.status, 201, local.text)
    const hc = local.body.spec.healthCheckNodePort
    t.ok(hc >= 30000 && hc <= 32767, `healthCheckNodePort ${hc} picked from the node port range`)
    t.not(hc, local.body.spec.ports[0].nodePort)
    const clash = await inj(srv, 'POST', SVC, service('lb-clash', { type: 'NodePort', ports: [{ port: 80, nodePort: hc }] }))
    t.equal(clash.status, 422, 'the health check port is allocated like a node port')
    const toCluster = await inj(srv, 'PATCH', `${SVC}/lb-local`, { spec: { externalTrafficPolicy: 'Cluster', healthCheckNodePort: null } }, { contentType: 'application/merge-patch+json' })
    t.equal(toCluster.status, 200, toCluster.text)
    t.notOk(toCluster.body.spec.healthCheckNodePort)
    t.equal((await inj(srv, 'POST', SVC, service('lb-clash', { type: 'NodePort', ports: [{ port: 80, nodePort: hc }] }))).status, 201, 'released with the Local policy')
  })

  t.test('type switches drop what the new type does not use (upstream dropTypeDependentFields)', async (t) => {
    const etcd = new Etcd3({ hosts: srv.etcdEndpoint })
    t.teardown(() => etcd.close())
    const portKeys = async () => (await etcd.getAll().prefix('/registry/ranges/servicenodeports/').keys()).map((k) => Number(k.split('/').pop()))
    const ipKeys = async () => (await etcd.getAll().prefix('/registry/ranges/serviceips/').keys()).map((k) => k.split('/').pop())
    const smp = { contentType: 'application/strategic-merge-patch+json' }

    // LoadBalancer (Local, so it has a healthCheckNodePort) → ClusterIP with only `type` patched.
    const lb = await inj(srv, 'POST', SVC, service('sw-lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31999, loadBalancerClass: 'example.com/lb', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] }))
    t.equal(lb.status, 201, lb.text)
    const lbPorts = lb.body.spec.ports.map((p: any) => p.nodePort)
    t.equal(lb.body.spec.allocateLoadBalancerNodePorts, true, 'defaulted for LoadBalancer')
    for (const p of lbPorts) t.ok((await portKeys()).includes(p), `node port ${p} claimed in etcd`)
    const toCIP = await inj(srv, 'PATCH', `${SVC}/sw-lb`, { spec: { type: 'ClusterIP' } }, smp)
    t.equal(toCIP.status, 200, toCIP.text)
    const s = toCIP.body.spec
    t.same(s.ports.map((p: any) => p.nodePort), [undefined, undefined], 'node ports cleared')
    for (const f of ['externalTrafficPolicy', 'healthCheckNodePort', 'allocateLoadBalancerNodePorts', 'loadBalancerClass']) t.equal(s[f], undefined, `${f} cleared`)
    t.equal(s.clusterIP, lb.body.spec.clusterIP, 'the ClusterIP stays')
    t.same(toCIP.body.status, { loadBalancer: {} })
    const left = await portKeys()
    for (const p of lbPorts) t.notOk(left.includes(p), `node port ${p} released in the same write`)
    // …and reusable at once.
    const reuse = await inj(srv, 'POST', SVC, service('sw-reuse', { type: 'NodePort', ports: [{ port: 80, nodePort: lbPorts[0] }] }))
    t.equal(reuse.status, 201, reuse.text)

    // A node port the user changed in the same write is theirs: kept, and refused for ClusterIP.
    const np = await inj(srv, 'POST', SVC, service('sw-np', { type: 'NodePort' }))
    const mine = np.body.spec.ports[0].nodePort === 32001 ? 32002 : 32001
    const bad = await inj(srv, 'PATCH', `${SVC}/sw-np`, { spec: { type: 'ClusterIP', ports: [{ port: 80, nodePort: mine }] } }, smp)
    t.equal(bad.status, 422, bad.text)
    t.equal(bad.body.message, `Service "sw-np" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when \`type\` is 'ClusterIP'`)
    t.ok((await portKeys()).includes(np.body.spec.ports[0].nodePort), 'a refused switch releases nothing')
    // So is an externalTrafficPolicy the user changed.
    const etp = await inj(srv, 'PATCH', `${SVC}/sw-np`, { spec: { type: 'ClusterIP', externalTrafficPolicy: 'Local' } }, smp)
    t.equal(etp.status, 422, etp.text)
    t.equal(etp.body.message, 'Service "sw-np" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services')

    // ClusterIP → ExternalName clears the cluster IP, families and policy; the IP is released.
    const c = await inj(srv, 'POST', SVC, service('sw-ext'))
    const ip = c.body.spec.clusterIP
    t.ok((await ipKeys()).includes(ip))
    const ext = await inj(srv, 'PATCH', `${SVC}/sw-ext`, { spec: { type: 'ExternalName', externalName: 'example.com' } }, smp)
    t.equal(ext.status, 200, ext.text)
    for (const f of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) t.equal(ext.body.spec[f], undefined, `${f} cleared`)
    t.notOk((await ipKeys()).includes(ip), 'cluster IP released')
    // An ExternalName whose clusterIP the user set in the same write is refused.
    const c2 = await inj(srv, 'POST', SVC, service('sw-ext2'))
    const bad2 = await inj(srv, 'PATCH', `${SVC}/sw-ext2`, { spec: { type: 'ExternalName', externalName: 'example.com', clusterIP: '10.96.55.55', clusterIPs: ['10.96.55.55'] } }, smp)
    t.equal(bad2.status, 422, bad2.text)
    t.match(bad2.body.message, /spec\.clusterIP: Forbidden: may not be set for ExternalName services/)
    t.ok((await ipKeys()).includes(c2.body.spec.clusterIP))
    // And back: ExternalName → ClusterIP allocates a fresh address.
    const back = await inj(srv, 'PATCH', `${SVC}/sw-ext`, { spec: { type: 'ClusterIP', externalName: null } }, smp)
    t.equal(back.status, 200, back.text)
    t.ok((await ipKeys()).includes(back.body.spec.clusterIP))
    t.same(back.body.spec.ipFamilies, ['IPv4'])
  })

  t.test('delete releases the IP', async (t) => {
    const a = await inj(srv, 'POST', SVC, service('rel', { clusterIP: '10.96.7.7' }))
    t.equal(a.status, 201)
    t.equal((await inj(srv, 'DELETE', `${SVC}/rel`)).status, 200)
    const b = await inj(srv, 'POST', SVC, service('rel2', { clusterIP: '10.96.7.7' }))
    t.equal(b.status, 201)
  })

  t.test('restart loses nothing and re-uses no IP', async (t) => {
    const before = await inj(srv, 'GET', SVC)
    const ipsBefore = new Set(before.body.items.map((s: any) => s.spec.clusterIP).filter((ip: string) => ip && ip !== 'None'))
    const names = before.body.items.map((s: any) => s.metadata.name).sort()
    await srv.restart()
    const after = await inj(srv, 'GET', SVC)
    t.same(after.body.items.map((s: any) => s.metadata.name).sort(), names, 'every service survived')
    t.same(
      after.body.items.map((s: any) => [s.metadata.name, s.spec.clusterIP]).sort(),
      before.body.items.map((s: any) => [s.metadata.name, s.spec.clusterIP]).sort(),
    )
    const fresh = await Promise.all(Array.from({ length: 16 }, (_, i) => apiRequest<any>(srv, 'POST', SVC, service(`post-restart-${i}`))))
    t.same(fresh.map((r) => r.status), Array(16).fill(201))
    for (const r of fresh) t.notOk(ipsBefore.has(r.body.spec.clusterIP), `${r.body.spec.clusterIP} is new`)
    t.equal(new Set(fresh.map((r) => r.body.spec.clusterIP)).size, 16)
    const k = await inj(srv, 'GET', `${SVC}/kubernetes`)
    t.equal(k.body.spec.clusterIP, '10.96.0.1')
  })
})
