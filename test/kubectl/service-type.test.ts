// Service type switches through real kubectl 1.27 and 1.33 (upstream's dropTypeDependentFields):
// `kubectl patch svc x -p '{"spec":{"type":"ClusterIP"}}'` on a NodePort Service succeeds, the
// node port is released in the same write and can be taken by another Service at once.
import t from 'tap'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { kubectlPath, need } from '../helpers/prereq.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

t.test('kubectl: Service type changes', async (t) => {
  const srv = await withApiServer(t)
  for (const [i, c] of CLIENTS.entries()) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const k = (...args: string[]) => run(c.path, ['--kubeconfig', srv.kubeconfigPath, ...args], { allowFailure: true, timeoutMs: 30_000 })
      const ok = async (...args: string[]) => {
        const r = await k(...args)
        t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
        return r.stdout
      }
      const port = String(30500 + i)
      t.match(await ok('create', 'service', 'nodeport', `np${i}`, '--tcp=80:8080', `--node-port=${port}`), `service/np${i} created`)
      t.equal((await ok('get', 'svc', `np${i}`, '-o', 'jsonpath={.spec.externalTrafficPolicy}')).trim(), 'Cluster')
      t.match(await ok('patch', 'svc', `np${i}`, '-p', '{"spec":{"type":"ClusterIP"}}'), `service/np${i} patched`)
      const got = JSON.parse(await ok('get', 'svc', `np${i}`, '-o', 'json'))
      t.equal(got.spec.type, 'ClusterIP')
      t.equal(got.spec.ports[0].nodePort, undefined, 'node port cleared')
      t.equal(got.spec.externalTrafficPolicy, undefined, 'externalTrafficPolicy cleared')
      t.match(await ok('get', 'svc', `np${i}`), new RegExp(`\\nnp${i}\\s+ClusterIP\\s+10\\.\\S+\\s+<none>\\s+80/TCP\\s+`))
      // The released port is free at once.
      t.match(await ok('create', 'service', 'nodeport', `again${i}`, '--tcp=80:8080', `--node-port=${port}`), `service/again${i} created`)
      // A node port the user sets in the same patch stays theirs, so ClusterIP refuses it.
      const bad = await k('patch', 'svc', `again${i}`, '--type=json', '-p', '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"replace","path":"/spec/ports/0/nodePort","value":31234}]')
      t.equal(bad.code, 1)
      t.equal(bad.stderr.trim(), `The Service "again${i}" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when \`type\` is 'ClusterIP'`)
      t.equal((await ok('get', 'svc', `again${i}`, '-o', 'jsonpath={.spec.type}/{.spec.ports[0].nodePort}')).trim(), `NodePort/${port}`, 'nothing half-written')
      // ClusterIP → ExternalName drops the cluster IP.
      t.match(await ok('patch', 'svc', `np${i}`, '-p', '{"spec":{"type":"ExternalName","externalName":"example.com"}}'), 'patched')
      t.equal((await ok('get', 'svc', `np${i}`, '-o', 'jsonpath={.spec.clusterIP}|{.spec.externalName}')).trim(), '|example.com')

      // loadBalancerSourceRanges and the older annotation: 422 with upstream's field path and text, nothing written
      t.match(await ok('create', 'service', 'loadbalancer', `lb${i}`, '--tcp=80:8080'), `service/lb${i} created`)
      const cidr = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'
      const r1 = await k('patch', 'svc', `lb${i}`, '-p', '{"spec":{"loadBalancerSourceRanges":["10.0.0.0/8","x"]}}')
      t.equal(r1.code, 1)
      t.equal(r1.stderr.trim(), `The Service "lb${i}" is invalid: spec.LoadBalancerSourceRanges[1]: Invalid value: "x": ${cidr}`)
      const r2 = await k('annotate', 'svc', `lb${i}`, 'service.beta.kubernetes.io/load-balancer-source-ranges=192.168.0.0/16,59.100.192.6/33')
      t.equal(r2.code, 1)
      t.match(r2.stderr.trim(), `The Service "lb${i}" is invalid: metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Invalid value: "59.100.192.6/33": ${cidr}`)
      t.equal((await ok('get', 'svc', `lb${i}`, '-o', 'jsonpath={.spec.loadBalancerSourceRanges}|{.metadata.annotations}')).trim(), '|', 'nothing half-written')
      t.match(await ok('patch', 'svc', `lb${i}`, '-p', '{"spec":{"loadBalancerSourceRanges":[" 192.168.56.0/24 "]}}'), 'patched', 'a space-padded CIDR is accepted, as upstream')
      // upstream's dropTypeDependentFields leaves the ranges alone: a type change must clear them itself
      const r3 = await k('patch', 'svc', `lb${i}`, '-p', '{"spec":{"type":"ClusterIP"}}')
      t.equal(r3.code, 1)
      t.equal(r3.stderr.trim(), `The Service "lb${i}" is invalid: spec.LoadBalancerSourceRanges: Forbidden: may only be used when \`type\` is 'LoadBalancer'`)
      t.match(await ok('patch', 'svc', `lb${i}`, '-p', '{"spec":{"type":"ClusterIP","loadBalancerSourceRanges":null}}'), 'patched')
    })
  }
})
