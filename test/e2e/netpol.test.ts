// Issue 13, end to end: NetworkPolicy in the 3-node lab, on upstream's netpol e2e model —
// namespaces x, y, z with pods a, b, c (spread over the nodes), each serving TCP and UDP on 80
// and 81 — probed as a full 81-pair matrix per port and protocol from inside the pod
// namespaces, policies applied with real kubectl. On a mismatch the truth table is printed as
// upstream does (`.` allowed, `-` blocked, `X` wrong).
import t, { type Test } from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { netnsHandle } from '../../src/net/door.js'
import type { Pod, Service } from '../../src/api/types.js'
import { execInNetns } from '../../src/net/netns.js'
import { componentPidfile } from '../../src/lab/lab.js'
import { withLab, waitUntil, res, ready, type Lab } from '../helpers/lab.js'

const NS = ['x', 'y', 'z']
const PODS = ['a', 'b', 'c']
const ALL = NS.flatMap((n) => PODS.map((p) => `${n}/${p}`))
const COMBOS = [
  ['tcp', 80],
  ['tcp', 81],
  ['udp', 80],
  ['udp', 81],
] as const
type Proto = 'tcp' | 'udp'
type Expect = (from: string, to: string, proto: Proto, port: number) => boolean

function manifests(nodes: string[]): string {
  const docs: string[] = []
  NS.forEach((ns, i) => {
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: "${ns}", labels: {ns: "${ns}"}}`)
    PODS.forEach((p, j) =>
      docs.push(`apiVersion: v1
kind: Pod
metadata: {name: "${p}", namespace: "${ns}", labels: {pod: "${p}"}}
spec:
  nodeSelector: {kubernetes.io/hostname: ${nodes[(i + j) % nodes.length]}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: cont-80-81
    image: agnhost
    args: [netexec, --http-port=80, --http-port=81, --udp-port=80, --udp-port=81]
    ports:
    - {name: serve-80-tcp, containerPort: 80, protocol: TCP}
    - {name: serve-80-udp, containerPort: 80, protocol: UDP}
    - {name: serve-81-tcp, containerPort: 81, protocol: TCP}
    - {name: serve-81-udp, containerPort: 81, protocol: UDP}
    readinessProbe: {httpGet: {path: /readyz, port: 80}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /healthz, port: 81}, periodSeconds: 1, failureThreshold: 2}`),
    )
  })
  return docs.join('\n---\n')
}

/**
 * Namespace w: pods d and e name a container port `web` with different numbers (d: 80, e: 81),
 * both serving 80 and 81 — a named port resolves per destination pod. Not in the 81-pair model.
 */
function namedPortPods(nodes: string[]): string {
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: "w", labels: {ns: "w"}}',
    ...[['d', 80], ['e', 81]].map(([p, web], i) => `apiVersion: v1
kind: Pod
metadata: {name: "${p}", namespace: "w", labels: {pod: "${p}"}}
spec:
  nodeSelector: {kubernetes.io/hostname: ${nodes[(i + 1) % nodes.length]}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: agnhost
    args: [netexec, --http-port=80, --http-port=81]
    ports:
    - {name: web, containerPort: ${web}, protocol: TCP}`),
  ].join('\n---\n')
}

const PROBE_FNS = `
import net from 'node:net'
import dgram from 'node:dgram'
const tcp = (ip, port, T) => new Promise((resolve) => {
  const s = net.connect({ host: ip, port, timeout: T })
  s.on('connect', () => { s.destroy(); resolve(true) })
  s.on('timeout', () => { s.destroy(); resolve(false) })
  s.on('error', () => resolve(false))
})
const udp = (ip, port, T) => new Promise((resolve) => {
  const s = dgram.createSocket('udp4')
  const done = (v) => { clearTimeout(timer); try { s.close() } catch {} ; resolve(v) }
  const timer = setTimeout(() => done(false), T)
  s.on('message', () => done(true))
  s.on('error', () => done(false))
  s.connect(port, ip, () => s.send('hostname', (e) => e && done(false)))
})
const probe = async (targets, T) => {
  const out = {}
  await Promise.all(targets.flatMap((t) => [['tcp', 80], ['tcp', 81], ['udp', 80], ['udp', 81]].map(async ([p, port]) => {
    out[t.name + ' ' + p + '/' + port] = await (p === 'tcp' ? tcp(t.ip, port, T) : udp(t.ip, port, T))
  })))
  return out
}
`

/** One-shot: probes every target on TCP/UDP 80/81 in parallel from inside one pod; prints JSON. */
function proberScript(targets: { name: string; ip: string }[], timeoutMs: number): string {
  return `${PROBE_FNS}\nprocess.stdout.write(JSON.stringify(await probe(${JSON.stringify(targets)}, ${timeoutMs})))`
}

/**
 * A long-lived prober inside a pod namespace, asked over a unix socket (a path, so reachable
 * from the test's namespace): a probe round then costs the probes, not 9 Node start-ups.
 */
function proberServer(sock: string): string {
  return `${PROBE_FNS}
import http from 'node:http'
http.createServer((req, res) => {
  let b = ''
  req.on('data', (d) => (b += d))
  req.on('end', async () => {
    const { targets, timeoutMs } = JSON.parse(b)
    res.end(JSON.stringify(await probe(targets, timeoutMs)))
  })
}).listen(${JSON.stringify(sock)})
`
}

function askProber(sock: string, body: unknown): Promise<Record<string, boolean>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: sock, method: 'POST', path: '/', timeout: 30_000 }, (res) => {
      let b = ''
      res.on('data', (d: Buffer) => (b += d))
      res.on('end', () => resolve(JSON.parse(b) as Record<string, boolean>))
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

interface Model {
  lab: Lab
  pods: Map<string, Pod>
  ip(name: string): string
  /** pod → its prober's unix socket */
  probers: Map<string, string>
}

type Observed = Map<string, boolean>

async function probeAll(m: Model, timeoutMs = 1500): Promise<Observed> {
  const targets = ALL.map((name) => ({ name, ip: m.ip(name) }))
  const obs: Observed = new Map()
  await Promise.all(
    ALL.map(async (from) => {
      const out = await askProber(m.probers.get(from)!, { targets, timeoutMs })
      for (const [k, v] of Object.entries(out)) obs.set(`${from} ${k}`, v)
    }),
  )
  return obs
}

/** Upstream's truth table: rows from, columns to. */
function truthTable(obs: Observed, expect: Expect, proto: Proto, port: number): string {
  const lines = [`${proto}/${port}\t${ALL.join('\t')}`]
  for (const f of ALL)
    lines.push(`${f}\t${ALL.map((to) => {
      const got = obs.get(`${f} ${to} ${proto}/${port}`)
      const want = expect(f, to, proto, port)
      return got !== want ? 'X' : got ? '.' : '-'
    }).join('\t')}`)
  return lines.join('\n')
}

function wrong(obs: Observed, expect: Expect): string[] {
  const out: string[] = []
  for (const f of ALL) for (const to of ALL) for (const [proto, port] of COMBOS) if (obs.get(`${f} ${to} ${proto}/${port}`) !== expect(f, to, proto, port)) out.push(`${f}->${to} ${proto}/${port}`)
  return out
}

/** Probe until the matrix is as expected (policies take a sync to arrive), then assert it. */
async function expectMatrix(t: Test, m: Model, expect: Expect, what: string, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs
  let obs = await probeAll(m)
  while (wrong(obs, expect).length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500))
    obs = await probeAll(m)
  }
  const bad = wrong(obs, expect)
  if (bad.length) {
    t.comment(COMBOS.map(([p, port]) => truthTable(obs, expect, p, port)).join('\n\n'))
    for (const n of m.lab.state.plan.nodes) {
      const nft = await netnsHandle(n.netns).run('nft', ['list', 'table', 'ip', 'netkube-netpol'], { allowFailure: true })
      const ct = await netnsHandle(n.netns).run('conntrack', ['-L', '-p', 'udp'], { allowFailure: true })
      t.comment(`${n.name} netpol table:\n${nft.stdout}\nudp conntrack:\n${ct.stdout.split('\n').filter((l) => l.includes('src=10.244.')).slice(0, 40).join('\n')}`)
    }
  }
  t.same(bad, [], `${what}: 81 pairs x TCP/UDP 80/81 as expected`)
}

const nsOf = (p: string): string => p.split('/')[0]!
const netpol = (ns: string, name: string, spec: string): string => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "${name}", namespace: "${ns}"}\nspec:\n${spec}`

t.test('NetworkPolicy truth tables in a 3-node lab', async (t) => {
  const lab = await withLab(t, { serverFlags: ['--dns-replicas', '1'] })
  const nodes = lab.state.plan.nodes.map((n) => n.name)
  await lab.k(['apply', '-f', '-'], manifests(nodes) + '\n---\n' + namedPortPods(nodes))
  const all = async (): Promise<Pod[]> => (await Promise.all(NS.map((n) => lab.client.resource<Pod>(res('pods'), n).list()))).flatMap((l) => l.items)
  await waitUntil('9 ready pods', async () => (await all()).filter(ready).length === 9, 120_000)
  const pods = new Map((await all()).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]))
  t.same(new Set([...pods.values()].map((p) => p.spec.nodeName)).size, 3, 'pods spread over the 3 nodes')
  const dir = mkdtempSync(join(tmpdir(), 'netkube-netpol-e2e-'))
  const probers = new Map<string, string>()
  const children: { kill(sig: NodeJS.Signals): boolean }[] = []
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  for (const [name, p] of pods) {
    const sock = join(dir, `${name.replace('/', '-')}.sock`)
    children.push(netnsHandle(lab.podNetns(p)).spawn([process.execPath, '--input-type=module', '-e', proberServer(sock)]))
    probers.set(name, sock)
  }
  await waitUntil('9 probers listening', async () => [...probers.values()].every((s) => existsSync(s)), 30_000)
  const m: Model = { lab, pods, ip: (n) => pods.get(n)!.status!.podIP!, probers }
  const apply = (yaml: string): Promise<string> => lab.k(['apply', '-f', '-'], yaml)
  const reset = async (): Promise<void> => {
    for (const n of NS) await lab.k(['delete', 'netpol', '--all', '-n', n])
  }

  await t.test('no policy: everything reaches everything', async (t) => expectMatrix(t, m, () => true, 'open'))

  await t.test("should support a 'default-deny-ingress' policy (readiness and liveness probes keep passing)", async (t) => {
    const restarts = async (): Promise<number[]> => (await lab.client.resource<Pod>(res('pods'), 'x').list()).items.map((p) => p.status!.containerStatuses![0]!.restartCount)
    const before = await restarts()
    await apply(netpol('x', 'deny-ingress', '  podSelector: {}\n  policyTypes: [Ingress]'))
    await expectMatrix(t, m, (f, to) => nsOf(to) !== 'x' || f === to, 'deny-all ingress in x')
    // Readiness (port 80) and liveness (port 81) probes come from the pod's own node: allowed.
    await new Promise((r) => setTimeout(r, 4000))
    const xs = (await lab.client.resource<Pod>(res('pods'), 'x').list()).items
    t.equal(xs.filter(ready).length, 3, 'x pods stay Ready under deny-all ingress')
    t.same(await restarts(), before, 'no liveness restarts under deny-all ingress')
    await reset()
  })

  await t.test('should deny egress from all pods in a namespace (default-deny egress)', async (t) => {
    await apply(netpol('x', 'deny-egress', '  podSelector: {}\n  policyTypes: [Egress]'))
    await expectMatrix(t, m, (f, to) => nsOf(f) !== 'x' || f === to, 'deny-all egress in x')
    await reset()
  })

  await t.test('should support allow-all policy (beside a default-deny-ingress)', async (t) => {
    await apply(netpol('x', 'deny-ingress', '  podSelector: {}\n  policyTypes: [Ingress]') + '\n---\n' + netpol('x', 'allow-all', '  podSelector: {}\n  ingress:\n  - {}'))
    await expectMatrix(t, m, () => true, 'deny-all + allow-all in x: everything allowed')
    await reset()
  })

  await t.test('should enforce policy to allow traffic from pods within server namespace based on PodSelector; should allow ingress access from updated pod; should stop enforcing policies after they are deleted', async (t) => {
    await apply(netpol('x', 'allow-b', '  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]'))
    await expectMatrix(t, m, (f, to) => to !== 'x/a' || f === 'x/b' || f === to, 'x/a from x/b only')
    await lab.k(['label', 'pod', 'c', '-n', 'x', 'pod=b', '--overwrite'])
    await expectMatrix(t, m, (f, to) => to !== 'x/a' || f === 'x/b' || f === 'x/c' || f === to, 'x/c relabelled pod=b is let in')
    await lab.k(['label', 'pod', 'c', '-n', 'x', 'pod=c', '--overwrite'])
    await reset()
    await expectMatrix(t, m, () => true, 'policy deleted: connectivity restored')
  })

  await t.test('should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector; should enforce policy based on PodSelector and NamespaceSelector (one peer: AND); should enforce policy based on PodSelector or NamespaceSelector (two peers: OR)', async (t) => {
    await apply(netpol('x', 'from-y', '  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]'))
    await expectMatrix(t, m, (f, to) => to !== 'x/a' || nsOf(f) === 'y' || f === to, 'x/a from namespace y')
    await reset()
    await apply(netpol('x', 'and', '  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]'))
    await expectMatrix(t, m, (f, to) => to !== 'x/a' || f === 'y/b' || f === to, 'AND: y/b only')
    await reset()
    await apply(netpol('x', 'or', '  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}, {podSelector: {matchLabels: {pod: b}}}]'))
    await expectMatrix(t, m, (f, to) => to !== 'x/a' || nsOf(f) === 'y' || f === 'x/b' || f === to, 'OR: namespace y or x/b')
    await reset()
  })

  await t.test('should enforce policy based on Ports; should allow ingress access on one named port; a port range (endPort)', async (t) => {
    await apply(netpol('x', 'p81', '  podSelector: {}\n  ingress:\n  - ports: [{port: 81, protocol: TCP}]'))
    await expectMatrix(t, m, (f, to, p, port) => nsOf(to) !== 'x' || f === to || (p === 'tcp' && port === 81), 'x: TCP 81 only')
    await reset()
    await apply(netpol('x', 'named', '  podSelector: {}\n  ingress:\n  - ports: [{port: serve-80-udp, protocol: UDP}]'))
    await expectMatrix(t, m, (f, to, p, port) => nsOf(to) !== 'x' || f === to || (p === 'udp' && port === 80), 'x: named serve-80-udp only')
    await reset()
    await apply(netpol('x', 'range', '  podSelector: {}\n  ingress:\n  - ports: [{port: 80, endPort: 81, protocol: TCP}]'))
    await expectMatrix(t, m, (f, to, p) => nsOf(to) !== 'x' || f === to || p === 'tcp', 'x: TCP 80-81')
    await reset()
  })

  await t.test('named port with multiple pods exposing different numbers: resolved per destination pod (ingress and egress)', async (t) => {
    await waitUntil('w/d and w/e ready', async () => (await lab.client.resource<Pod>(res('pods'), 'w').list()).items.filter(ready).length === 2, 60_000)
    const targets = (await lab.client.resource<Pod>(res('pods'), 'w').list()).items.map((p) => ({ name: `w/${p.metadata.name}`, ip: p.status!.podIP! }))
    const want = { 'w/d tcp/80': true, 'w/d tcp/81': false, 'w/e tcp/80': false, 'w/e tcp/81': true }
    const observe = async (): Promise<Record<string, boolean>> => {
      const out = await askProber(m.probers.get('x/a')!, { targets, timeoutMs: 1500 })
      return Object.fromEntries(Object.keys(want).map((k) => [k, out[k]!]))
    }
    const until = async (what: string): Promise<void> => {
      const end = Date.now() + 20_000
      let got = await observe()
      while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < end) got = (await new Promise((r) => setTimeout(r, 500)), await observe())
      t.same(got, want, what)
    }
    t.same(await observe(), { 'w/d tcp/80': true, 'w/d tcp/81': true, 'w/e tcp/80': true, 'w/e tcp/81': true }, 'open before the policy')
    await apply(netpol('w', 'web-only', '  podSelector: {}\n  ingress:\n  - ports: [{port: web}]'))
    await until('ingress on `web`: w/d on 80, w/e on 81')
    await lab.k(['delete', 'netpol', '--all', '-n', 'w'])
    await apply(netpol('x', 'egress-web', '  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: w}}}]\n    ports: [{port: web}]'))
    await until('egress from x/a on `web`: resolved on each destination pod')
    await reset()
  })

  await t.test('should enforce except clause while egress access to server in CIDR block; egress to a namespace only; should work with Ingress, Egress specified together (policies on both ends)', async (t) => {
    const yb = m.ip('y/b')
    await apply(netpol('x', 'except', `  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.244.0.0/16, except: [${yb}/32]}}]`))
    await expectMatrix(t, m, (f, to) => f !== 'x/a' || to !== 'y/b', 'x/a reaches the pod network except y/b')
    await reset()
    await apply(netpol('x', 'to-y', '  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]'))
    await expectMatrix(t, m, (f, to) => nsOf(f) !== 'x' || nsOf(to) === 'y' || f === to, 'x egresses to y only')
    await reset()
    await apply(
      netpol('x', 'egress-yb', '  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]') +
        '\n---\n' +
        netpol('y', 'ingress-xa', '  podSelector: {matchLabels: {pod: b}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: "x"}}, podSelector: {matchLabels: {pod: a}}}]'),
    )
    await expectMatrix(t, m, (f, to) => f === to || ((f !== 'x/a' || to === 'y/b') && (to !== 'y/b' || f === 'x/a')), 'x/a → y/b only, y/b ← x/a only')
    await reset()
  })

  await t.test('egress allowing DNS to kube-dns only: names resolve, nothing else reachable', async (t) => {
    await apply(
      netpol(
        'x',
        'dns-only',
        '  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]',
      ),
    )
    await expectMatrix(t, m, (f, to) => nsOf(f) !== 'x' || f === to, 'x reaches no pod')
    const ns = lab.podNetns(pods.get('x/a')!)
    for (const tcp of [false, true]) {
      const r = await execInNetns(ns, 'dig', ['@10.96.0.10', '+short', '+time=2', '+tries=2', ...(tcp ? ['+tcp'] : []), 'kubernetes.default.svc.cluster.local'], { allowFailure: true })
      t.match(r.stdout.trim(), /^10\.96\.0\.1$/, `x/a resolves through the kube-dns ClusterIP over ${tcp ? 'TCP' : 'UDP'} (judged after DNAT)`)
    }
    await reset()
  })

  await t.test('traffic via a ClusterIP is judged by the backend pod', async (t) => {
    await apply(`apiVersion: v1\nkind: Service\nmetadata: {name: svc-a, namespace: "y"}\nspec:\n  selector: {pod: a}\n  ports: [{name: http, port: 8080, targetPort: 80}]`)
    const svc = await lab.client.resource<Service>(res('services'), 'y').get('svc-a')
    const url = `${svc.spec.clusterIP}`
    const connect = async (from: string): Promise<boolean> => {
      const script = `import net from 'node:net'; const s = net.connect({host: ${JSON.stringify(url)}, port: 8080, timeout: 1500}); s.on('connect', () => { process.stdout.write('ok'); s.destroy() }); s.on('timeout', () => { process.stdout.write('no'); s.destroy() }); s.on('error', () => process.stdout.write('no'))`
      return (await lab.nodeIn(lab.podNetns(pods.get(from)!), script)) === 'ok'
    }
    await waitUntil('ClusterIP answers', () => connect('x/b'), 30_000)
    await apply(netpol('y', 'a-from-xa', '  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: "x"}}, podSelector: {matchLabels: {pod: a}}}]\n    ports: [{port: 80}]'))
    await waitUntil('x/b refused via the ClusterIP', async () => !(await connect('x/b')), 20_000)
    t.ok(await connect('x/a'), 'x/a allowed through the ClusterIP (port 80 is the backend port)')
    t.notOk(await connect('z/c'), 'z/c blocked through the ClusterIP')
    await reset()
  })

  await t.test('kill -9 of the agent: rules stay in the kernel, adopted on restart', async (t) => {
    await apply(netpol('x', 'deny-ingress', '  podSelector: {}\n  policyTypes: [Ingress]'))
    const expect: Expect = (f, to) => nsOf(to) !== 'x' || f === to
    await expectMatrix(t, m, expect, 'deny-all ingress in x')
    const node = lab.state.plan.nodes.find((n) => n.name === pods.get('x/a')!.spec.nodeName)!
    const list = async (): Promise<string> => (await execInNetns(node.netns, 'nft', ['list', 'table', 'ip', 'netkube-netpol'], { allowFailure: true })).stdout
    const before = await list()
    const pidfile = componentPidfile(lab.state.stateDir, 'agent', node.name)
    const oldPid = Number(readFileSync(pidfile, 'utf8'))
    process.kill(oldPid, 'SIGKILL')
    t.equal(await list(), before, 'the table is still there, unchanged, with the agent dead')
    const blocked = await lab.nodeIn(lab.podNetns(pods.get('y/a')!), proberScript([{ name: 'x/a', ip: m.ip('x/a') }], 1500))
    t.same(Object.values(JSON.parse(blocked)), [false, false, false, false], 'y/a → x/a still blocked while the agent is down')
    await waitUntil('agent restarted', async () => Number(readFileSync(pidfile, 'utf8')) !== oldPid, 30_000)
    await waitUntil('restarted agent programmed its table', async () => (await list()).includes('netpol-forward'), 30_000)
    const after = await list()
    t.equal((after.match(/chain netpol-forward/g) ?? []).length, 1, 'one forward chain: adopted, not duplicated')
    t.equal((await execInNetns(node.netns, 'nft', ['list', 'tables'], { allowFailure: true })).stdout.match(/netkube-netpol/g)?.length, 1, 'one table')
    await expectMatrix(t, m, expect, 'still enforced after the restart')
    await reset()
    await expectMatrix(t, m, () => true, 'and the restarted agent follows a delete')
  })
})
