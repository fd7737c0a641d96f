// The patches real kubectl computes (apply twice, scale, label, patch), captured from the bundled
// 1.27 and 1.33 clients talking to a tiny in-process stub API on loopback, then applied with our
// patch functions: the result must be what Kubernetes stores. The stub serves only discovery, one
// GET and the PATCH; everything else is 404 (kubectl then falls back to its built-in patch metadata).
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { applyDefaults } from '../../src/api/defaults.js'
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../../src/api/patch.js'
import { RESOURCES, type ResourceInfo, resourceFor } from '../../src/api/resources.js'
import type { KubeObject } from '../../src/api/types.js'
import { validateUpdate } from '../../src/api/validation.js'
import { kubectlPath, need } from '../helpers/prereq.js'

const VERSIONS = ['1.27', '1.33']
const res = resourceFor
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

interface Captured {
  method: string
  url: string
  contentType: string
  body: unknown
}

/** A stub apiserver holding a few objects; PATCH is applied with src/api/patch.ts. */
class Stub {
  objects = new Map<string, { r: ResourceInfo; obj: KubeObject }>()
  patches: Captured[] = []
  constructor(readonly minor: string) {}

  put(r: ResourceInfo, obj: KubeObject): void {
    const path = r.group === '' ? `/api/v1/namespaces/${obj.metadata.namespace}/${r.plural}/${obj.metadata.name}` : `/apis/${r.group}/${r.version}/namespaces/${obj.metadata.namespace}/${r.plural}/${obj.metadata.name}`
    this.objects.set(path, { r, obj })
  }

  get(path: string): KubeObject {
    return this.objects.get(path)!.obj
  }

  handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x')
    const send = (code: number, obj: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(obj))
    }
    const p = url.pathname
    if (p === '/version') return send(200, { major: '1', minor: this.minor, gitVersion: `v1.${this.minor}.0` })
    if (p === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] })
    if (p === '/apis') return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } }] })
    const list = (gv: string, rs: ResourceInfo[]) =>
      send(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: gv,
        resources: rs.flatMap((r) => [
          { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, shortNames: r.shortNames },
          ...r.subresources.map((s) => ({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: s === 'scale' ? 'Scale' : r.kind, group: s === 'scale' ? 'autoscaling' : undefined, version: s === 'scale' ? 'v1' : undefined, verbs: ['get', 'patch', 'update'] })),
        ]),
      })
    if (p === '/api/v1') return list('v1', RESOURCES.filter((r) => r.group === ''))
    if (p === '/apis/apps/v1') return list('apps/v1', RESOURCES.filter((r) => r.group === 'apps'))
    const scale = p.endsWith('/scale')
    const base = scale ? p.slice(0, -'/scale'.length) : p
    const hit = this.objects.get(base)
    if (!hit) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${p} not found` })
    const asScale = (o: KubeObject) => ({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: o.metadata.name, namespace: o.metadata.namespace, resourceVersion: o.metadata.resourceVersion },
      spec: { replicas: (o.spec as { replicas: number }).replicas },
      status: { replicas: (o.spec as { replicas: number }).replicas, selector: 'app=web' },
    })
    if (req.method === 'GET') return send(200, scale ? asScale(hit.obj) : hit.obj)
    if (req.method === 'PATCH') {
      const contentType = String(req.headers['content-type'] ?? '')
      const patch = JSON.parse(body)
      this.patches.push({ method: 'PATCH', url: p, contentType, body: patch })
      let next: KubeObject
      if (scale) {
        const s = applyMergePatch(asScale(hit.obj), patch) as { spec: { replicas: number } }
        next = structuredClone(hit.obj)
        ;(next.spec as { replicas: number }).replicas = s.spec.replicas
      } else if (contentType.startsWith('application/strategic-merge-patch+json')) next = applyStrategicMergePatch(hit.r, hit.obj, patch) as KubeObject
      else if (contentType.startsWith('application/merge-patch+json')) next = applyMergePatch(hit.obj, patch) as KubeObject
      else next = applyJsonPatch(hit.obj, patch) as KubeObject
      applyDefaults(hit.r, next)
      const errs = validateUpdate(hit.r, next, hit.obj)
      if (errs.length) return send(422, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422, message: JSON.stringify(errs) })
      next.metadata.resourceVersion = String(Number(hit.obj.metadata.resourceVersion ?? '1') + 1)
      hit.obj = next
      return send(200, scale ? asScale(next) : next)
    }
    send(405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'MethodNotAllowed', code: 405 })
  }
}

async function withStub(t: Test, minor: string): Promise<{ stub: Stub; kubectl: (...args: string[]) => Promise<string>; dir: string }> {
  const stub = new Stub(minor)
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => stub.handle(req, body, res))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-'))
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stub', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'u', user: {} }],
      contexts: [{ name: 'stub', context: { cluster: 'stub', user: 'u', namespace: 'default' } }],
      'current-context': 'stub',
    }),
  )
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  })
  const kubectl = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(kubectlPath(minor), ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`))
        else resolve(stdout + stderr)
      })
    })
  return { stub, kubectl, dir }
}

const manifestV1 = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'fe' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          { name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }, { containerPort: 8080 }], env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
          { name: 'log', image: 'busybox:1.36', command: ['sleep', '3600'] },
        ],
      },
    },
  },
})

/** What kubectl create would have stored: the manifest, defaulted, with last-applied. */
function stored(manifest: Record<string, unknown>, plural: string): KubeObject {
  const o = structuredClone(manifest) as KubeObject
  o.metadata.annotations = { [LAST_APPLIED]: JSON.stringify(manifest) + '\n' }
  o.metadata.uid = '11111111-2222-4333-8444-555555555555'
  o.metadata.resourceVersion = '1'
  o.metadata.creationTimestamp = '2026-11-28T00:00:00Z'
  applyDefaults(res(plural), o)
  return o
}

for (const minor of VERSIONS) {
  const skip = need(`kubectl ${minor}`)
  t.test(`kubectl ${minor}: apply twice, scale, label, patch`, { skip }, async (t) => {
    const { stub, kubectl, dir } = await withStub(t, minor)
    const path = '/apis/apps/v1/namespaces/default/deployments/web'
    stub.put(res('deployments'), stored(manifestV1(), 'deployments'))

    // First apply over what `kubectl create --save-config` stored: kubectl only rewrites its
    // annotation (it records `metadata.annotations: {}` in last-applied); the spec is unchanged.
    writeFileSync(join(dir, 'v1.json'), JSON.stringify(manifestV1()))
    const before = structuredClone(stub.get(path))
    const out1 = await kubectl('apply', '--validate=false', '-f', join(dir, 'v1.json'))
    t.match(out1, /deployment.apps\/web (unchanged|configured)/)
    t.same(stub.get(path).spec, before.spec, 'spec untouched')
    t.match(await kubectl('apply', '--validate=false', '-f', join(dir, 'v1.json')), /deployment.apps\/web unchanged/)

    // v2: new image, env B and port 8080 removed, label tier removed, replicas 3, Recreate, sidecar gone.
    const v2 = manifestV1()
    v2.metadata.labels = { app: 'web' } as typeof v2.metadata.labels
    v2.spec.replicas = 3
    ;(v2.spec as Record<string, unknown>).strategy = { type: 'Recreate' }
    v2.spec.template.spec.containers = [{ name: 'web', image: 'nginx:1.26', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] }]
    writeFileSync(join(dir, 'v2.json'), JSON.stringify(v2))
    const out2 = await kubectl('apply', '--validate=false', '-f', join(dir, 'v2.json'))
    t.match(out2, /deployment.apps\/web configured/)
    const applyPatch = stub.patches.at(-1)!
    t.match(applyPatch.contentType, /^application\/strategic-merge-patch\+json/)
    t.comment(`kubectl ${minor} apply patch: ${JSON.stringify(applyPatch.body)}`)
    const d = stub.get(path) as KubeObject & { spec: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
    t.equal(d.spec.replicas, 3)
    t.same(d.spec.strategy, { type: 'Recreate' }, 'rollingUpdate dropped ($retainKeys / null)')
    t.same(d.metadata.labels, { app: 'web' })
    t.same(d.spec.template.spec.containers.map((c: { name: string }) => c.name), ['web'])
    const web = d.spec.template.spec.containers[0]
    t.equal(web.image, 'nginx:1.26')
    t.same(web.env, [{ name: 'A', value: '1' }])
    t.same(web.ports, [{ containerPort: 80, protocol: 'TCP' }])
    t.equal(web.imagePullPolicy, 'IfNotPresent', 'server-side defaults survive the patch')
    t.same(JSON.parse(d.metadata.annotations![LAST_APPLIED]!), { ...v2, metadata: { ...v2.metadata, annotations: {} } }, 'last-applied updated')

    // Applying v2 again is a no-op.
    const n = stub.patches.length
    const out3 = await kubectl('apply', '--validate=false', '-f', join(dir, 'v2.json'))
    t.match(out3, /deployment.apps\/web unchanged/)
    t.equal(stub.patches.length, n, 'no PATCH sent for an unchanged manifest')

    // Back to v1 (re-adds the sidecar, env B, port 8080, RollingUpdate).
    await kubectl('apply', '--validate=false', '-f', join(dir, 'v1.json'))
    const back = stub.get(path) as KubeObject & { spec: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
    t.same(back.spec.template.spec.containers.map((c: { name: string }) => c.name), ['web', 'log'])
    t.same(back.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }])
    t.same(back.spec.template.spec.containers[0].ports.map((p: { containerPort: number }) => p.containerPort), [80, 8080])
    t.equal(back.spec.strategy.type, 'RollingUpdate')
    t.same(back.metadata.labels, { app: 'web', tier: 'fe' })

    // scale → the scale subresource
    await kubectl('scale', 'deployment/web', '--replicas=5')
    const sc = stub.patches.at(-1)!
    t.match(sc.url, /\/deployments\/web\/scale$/)
    t.same(sc.body, { spec: { replicas: 5 } })
    t.equal((stub.get(path).spec as { replicas: number }).replicas, 5)

    // label add and remove
    await kubectl('label', 'deployment/web', 'env=prod')
    t.same(stub.get(path).metadata.labels, { app: 'web', tier: 'fe', env: 'prod' })
    await kubectl('label', 'deployment/web', 'tier-')
    t.same(stub.get(path).metadata.labels, { app: 'web', env: 'prod' })

    // patch (strategic by default), merge and json
    await kubectl('patch', 'deployment/web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"log","image":"busybox:1.37"}]}}}}')
    const pd = stub.get(path).spec as { template: { spec: { containers: { name: string; image: string }[] } } }
    t.same(pd.template.spec.containers.map((c) => `${c.name}=${c.image}`), ['web=nginx:1.25', 'log=busybox:1.37'])
    await kubectl('patch', 'deployment/web', '--type=merge', '-p', '{"spec":{"paused":true}}')
    t.equal((stub.get(path).spec as { paused: boolean }).paused, true)
    await kubectl('patch', 'deployment/web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":1}]')
    t.equal((stub.get(path).spec as { replicas: number }).replicas, 1)
  })

  t.test(`kubectl ${minor}: apply of a Service keeps the allocated clusterIP and merges ports by port`, { skip }, async (t) => {
    const { stub, kubectl, dir } = await withStub(t, minor)
    const path = '/api/v1/namespaces/default/services/web'
    const v1 = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }
    const s = stored(v1, 'services') as KubeObject & { spec: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
    s.spec.clusterIP = '10.96.0.20'
    s.spec.clusterIPs = ['10.96.0.20']
    s.spec.ports[0].nodePort = 30080
    stub.put(res('services'), s)
    const v2 = structuredClone(v1)
    v2.spec.ports.push({ name: 'https', port: 443, targetPort: 8443 })
    writeFileSync(join(dir, 'svc.json'), JSON.stringify(v2))
    t.match(await kubectl('apply', '--validate=false', '-f', join(dir, 'svc.json')), /service\/web configured/)
    t.comment(`kubectl ${minor} service apply patch: ${JSON.stringify(stub.patches.at(-1)!.body)}`)
    const out = stub.get(path) as KubeObject & { spec: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
    t.equal(out.spec.clusterIP, '10.96.0.20')
    t.same(out.spec.ports, [
      { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 },
      { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
    ])
    t.match(await kubectl('apply', '--validate=false', '-f', join(dir, 'svc.json')), /service\/web unchanged/)
  })
}
