// Issue 10: `lab up --ha`. A real 3-member etcd cluster on node1..node3 and two apiservers
// (node1, node2) that share one CA, each serving a certificate for its own IP, both in the
// `kubernetes` Endpoints. kill -9 one etcd member and one apiserver: writes through real
// kubectl keep working, and both come back.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Endpoints } from '../../src/api/types.js'
import { componentPidfile, componentStatus } from '../../src/lab/lab.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { netnsHandle } from '../../src/net/door.js'
import { withLab, waitUntil, res, type Lab } from '../helpers/lab.js'
import { need } from '../helpers/prereq.js'
import { expectedIdentity, labCredentials } from '../helpers/lab-credentials.js'
import { call } from '../authn/helpers.js'

/** `etcdctl endpoint health --cluster` from node3: one line per member. */
async function etcdHealth(lab: Lab): Promise<string[]> {
  const p = lab.state.plan
  const r = await netnsHandle(p.nodes[2]!.netns).run('etcdctl', ['--endpoints', `http://${p.nodes[2]!.ip}:${p.etcdPort}`, '--dial-timeout', '2s', '--command-timeout', '3s', 'endpoint', 'health', '--cluster'], {
    allowFailure: true, env: { ...process.env, ETCDCTL_API: '3' },
  })
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => / is (un)?healthy/.test(l))
}

async function kubernetesEndpoints(lab: Lab): Promise<string[]> {
  const ep = await lab.client.resource<Endpoints>(res('endpoints'), 'default').get('kubernetes')
  return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort()
}

/** GET /readyz from inside node `from`, verifying the serving certificate of `ip` against `caFile`. */
function readyzScript(ip: string, port: number, caFile: string): string {
  return `
import https from 'node:https'
import { readFileSync } from 'node:fs'
const req = https.get({ host: ${JSON.stringify(ip)}, port: ${port}, path: '/readyz', ca: readFileSync(${JSON.stringify(caFile)}), timeout: 5000 }, (res) => {
  let b = ''; res.on('data', (d) => b += d); res.on('end', () => process.stdout.write(res.statusCode + ' ' + b.trim()))
})
req.on('error', (e) => process.stdout.write('error ' + e.message))
`
}

/**
 * From inside a node: `perServer` NodePort Services created at once through EACH apiserver
 * directly; prints the created objects' [name, clusterIP, nodePort] or the error statuses.
 */
function createServicesScript(addrs: string[], perServer: number, caFile: string, token: string): string {
  return `
import https from 'node:https'
import { readFileSync } from 'node:fs'
const ca = readFileSync(${JSON.stringify(caFile)})
const post = (addr, name) => new Promise((resolve) => {
  const [host, port] = addr.split(':')
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 80 }] } })
  const req = https.request({ host, port: Number(port), method: 'POST', path: '/api/v1/namespaces/default/services', ca, agent: false,
    headers: { authorization: 'Bearer ${token}', 'content-type': 'application/json' } }, (res) => {
    let b = ''; res.on('data', (d) => b += d); res.on('end', () => {
      const o = JSON.parse(b)
      resolve(res.statusCode === 201 ? [name, o.spec.clusterIP, o.spec.ports[0].nodePort] : ['error', res.statusCode, o.message])
    })
  })
  req.on('error', (e) => resolve(['error', 0, e.message]))
  req.end(body)
})
const addrs = ${JSON.stringify(addrs)}
const jobs = []
for (let i = 0; i < ${perServer}; i++) for (const [k, a] of addrs.entries()) jobs.push(post(a, 'race-' + k + '-' + i))
process.stdout.write(JSON.stringify(await Promise.all(jobs)))
`
}

t.test('lab up --ha: 3 etcd members, 2 apiservers; kill -9 one of each and writes go on', { skip: need('build', 'etcd', 'etcdctl', 'dnsmasq', 'kubectl') }, async (t) => {
  const lab = await withLab(t, { nodes: 3, ha: true })
  const { plan, stateDir } = lab.state
  const [n1, n2, n3] = plan.nodes

  const health = await etcdHealth(lab)
  t.equal(health.filter((l) => l.includes(' is healthy')).length, 3, `three healthy etcd members:\n${health.join('\n')}`)
  for (const n of [n1!, n2!, n3!]) t.ok(health.some((l) => l.startsWith(`http://${n.ip}:${plan.etcdPort} is healthy`)), `member on ${n.name}`)

  // One CA (node1's, copied to node2 before its first start); each server's cert is for its IP.
  const ca = join(stateDir, 'server-node1', 'pki', 'ca.crt')
  t.equal(readFileSync(join(stateDir, 'server-node2', 'pki', 'ca.crt'), 'utf8'), readFileSync(ca, 'utf8'), 'both servers hold the same CA')
  for (const n of [n1!, n2!]) {
    t.equal(await lab.nodeIn(n3!.netns, readyzScript(n.ip, plan.apiPort, ca)), '200 ok', `apiserver on ${n.name} is ready, its cert valid for ${n.ip} under the shared CA`)
  }
  await waitUntil('both apiservers in the kubernetes Endpoints', async () => (await kubernetesEndpoints(lab)).join() === [n1!.ip, n2!.ip].join(), 30_000)
  t.pass(`kubernetes Endpoints: ${(await kubernetesEndpoints(lab)).join(', ')}`)

  // Issue 15: every credential the lab, the servers and the agents wrote, and every token the
  // kubelets projected, asked who it is (SelfSubjectReview): each its own identity, and only
  // the admin kubeconfigs in system:masters.
  await t.test('every credential on disk has its own identity; only the admin is in system:masters', async (t) => {
    const found = labCredentials(stateDir)
    const srv = { url: `https://127.0.0.1:${lab.state.hostApiPort}`, caPem: loadKubeconfig(lab.kubeconfig).caPem! }
    const nodes = plan.nodes.map((n) => n.name)
    const masters: string[] = []
    const seen: string[] = []
    for (const c of found) {
      t.notOk(c.insecure, `${c.file}: verifies the server's certificate`)
      if (c.kind === 'projected token file') {
        seen.push(`${c.file}: the pod's projected token`)
        continue
      }
      const want = expectedIdentity(c.file, nodes)
      if (!want) {
        t.fail(`${c.file} (${c.kind}): a credential the lab is not expected to write`)
        continue
      }
      const r = await call(srv, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', c.certPem ? { cert: c.certPem, key: c.keyPem! } : { token: c.token! }, { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })
      const u = r.body?.status?.userInfo as { username: string; groups: string[] } | undefined
      if (!u) {
        t.fail(`${c.file}: SelfSubjectReview ${r.status} ${r.text.slice(0, 200)}`)
        continue
      }
      const ns = /^system:serviceaccount:([^:]+):/.exec(u.username)?.[1]
      const groups = [...want.groups, ...(ns ? [`system:serviceaccounts:${ns}`] : []), 'system:authenticated']
      t.match(u.username, want.user, `${c.file} (${c.kind}) is ${u.username}`)
      t.same(u.groups, groups, `${c.file}: groups ${u.groups.join(', ')}`)
      if (u.groups.includes('system:masters')) masters.push(c.file)
      seen.push(`${c.file}: ${u.username}`)
    }
    t.same(masters, ['kubeconfig', 'server-node1/admin.kubeconfig', 'server-node2/admin.kubeconfig'], 'system:masters: the admin kubeconfigs only')
    for (const n of nodes) for (const f of ['kubelet', 'kube-proxy', 'agent']) t.ok(found.some((c) => c.file === `${n}/${f}.kubeconfig`), `${n}/${f}.kubeconfig was checked`)
    t.ok(found.filter((c) => c.kind === 'ServiceAccount token').length >= 2, 'the add-on pods\' projected tokens were checked')
    // And no daemon is started with an admin credential.
    const adminFiles = found.filter((c) => masters.includes(c.file)).map((c) => join(stateDir, c.file))
    const offenders = lab.state.daemons.filter((d) => d.argv?.some((a) => adminFiles.includes(a) || a.endsWith('tokens.csv') && d.role !== 'server')).map((d) => `${d.role}/${d.node}`)
    t.same(offenders, [], 'no daemon is handed the admin kubeconfig')
    t.comment(seen.join('\n'))
  })

  // Two apiservers allocating at once from one etcd: ClusterIPs and NodePorts never collide.
  const token = loadKubeconfig(lab.kubeconfig).token!
  const created = JSON.parse(await lab.nodeIn(n3!.netns, createServicesScript([n1!, n2!].map((n) => `${n.ip}:${plan.apiPort}`), 15, ca, token), 60_000)) as [string, string | number, string | number][]
  t.same(created.filter((c) => c[0] === 'error'), [], `30 concurrent Service creates, 15 through each apiserver, all acknowledged`)
  t.equal(new Set(created.map((c) => c[1])).size, 30, '30 distinct ClusterIPs')
  t.equal(new Set(created.map((c) => c[2])).size, 30, '30 distinct NodePorts')

  // Kill etcd on node1 and the apiserver on node1, the components themselves.
  const timedCreate = async (name: string): Promise<{ ok: boolean; ms: number; err: string }> => {
    const s = Date.now()
    const r = await lab.kubectl(['create', 'configmap', name])
    return { ok: r.code === 0, ms: Date.now() - s, err: r.stderr.trim() }
  }
  const baseline: number[] = []
  for (let i = 0; i < 5; i++) baseline.push((await timedCreate(`base${i}`)).ms)
  const pidOf = (role: string, node: string): number => Number(readFileSync(componentPidfile(stateDir, role, node), 'utf8'))
  const killed = { etcd: pidOf('etcd', 'node1'), server: pidOf('server', 'node1') }
  process.kill(killed.etcd, 'SIGKILL')
  process.kill(killed.server, 'SIGKILL')
  const t0 = Date.now()
  const results: { i: number; ok: boolean; ms: number; err: string }[] = []
  for (let i = 0; i < 15; i++) results.push({ i, ...(await timedCreate(`w${i}`)) })
  const failed = results.filter((r) => !r.ok)
  t.same(failed, [], `15 kubectl creates right after the kills all acknowledged (max ${Math.max(...results.map((r) => r.ms))} ms, in ${Date.now() - t0} ms)`)
  const names = (await lab.k(['get', 'configmaps', '-o', 'name'])).split('\n').filter((l) => /^configmap\/w\d+$/.test(l))
  t.equal(names.length, 15, 'every acknowledged write is there')

  await waitUntil('etcd and the apiserver on node1 restarted', async () =>
    ['etcd', 'server'].every((role) => {
      const s = componentStatus(stateDir, role, 'node1')
      return s?.state === 'running' && s.restarts >= 1 && s.pid !== killed[role as 'etcd' | 'server']
    }), 30_000)
  const restartedIn = (role: string): number => (componentStatus(stateDir, role, 'node1')?.startedAt ?? NaN) - t0
  t.equal(componentStatus(stateDir, 'etcd', 'node1')?.lastExit?.reason, 'killed by signal 9 (SIGKILL)')
  const ms = results.map((r) => r.ms).sort((a, b) => a - b)
  baseline.sort((a, b) => a - b)
  t.comment(`kubectl create before the kills: n=5 p50=${baseline[2]} ms max=${baseline[4]} ms`)
  t.comment(`kubectl create after kill -9 of etcd/node1 + server/node1: n=${ms.length} p50=${ms[Math.floor(ms.length / 2)]} ms max=${ms.at(-1)} ms`)
  t.comment(`supervisor restarted etcd/node1 after ${restartedIn('etcd')} ms, server/node1 after ${restartedIn('server')} ms`)
  await waitUntil('three healthy members again', async () => (await etcdHealth(lab)).filter((l) => l.includes(' is healthy')).length === 3, 30_000)
  await waitUntil('both apiservers in the Endpoints again', async () => (await kubernetesEndpoints(lab)).join() === [n1!.ip, n2!.ip].join(), 40_000)
  t.equal(await lab.nodeIn(n3!.netns, readyzScript(n1!.ip, plan.apiPort, ca)), '200 ok', 'the restarted apiserver is ready again')
})
