// `netkube lab`: a whole cluster on one machine. Each node is a network namespace on an
// underlay bridge (itself in a namespace of its own); etcd and the server run in node1,
// an agent (overlay + kubelet + kube-proxy) in every node. Nothing touches the root
// namespace's network: the host reaches the apiserver through a unix-socket relay.
// With --ha, etcd is a 3-member cluster on node1..node3 and `netkube server` runs on node1
// and node2 (one shared PKI); agents and the host relay know every member and apiserver.
// Every daemon runs under `lab supervise`; `lab status` shows their restarts and last exits.
import { copyFileSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { apiServerAddrs, etcdArgs, etcdClientUrls, labPlan, type LabNode, type LabPlan } from './plan.js'
import { describeStatus, statusFileFor, type ComponentStatus } from './supervise-core.js'
import { ensureClusterCA, issueKubeletServingCert, SHARED_PKI_FILES } from '../apiserver/certs.js'
import { ensureTokenFile } from '../apiserver/auth.js'
import { ensureServiceAccountKey } from '../authn/serviceaccount.js'
import { netnsHandle } from '../net/door.js'
import { spawnDaemon, stopDaemon, isAlive, killInNamespaces, type DaemonRecord } from './procs.js'
import { createNetns, deleteNetns, listNetns, netnsExists, openNetOps } from '../net/index.js'
import { NETKUBE_MAIN } from '../kubelet/images.js'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { LABEL_TOPOLOGY_ZONE, type Node } from '../api/types.js'
import { RESOURCES } from '../api/resources.js'
import { freePort } from '../util/ports.js'
import { buildOutside, outsideStatusLine } from './outside.js'
import { attachNode } from './underlay.js'
import { observeAddons, waitForAddons } from './readiness.js'
import { agentKubeconfigFlags, ensureNodeKubeconfigs } from './credentials.js'

/** Names under this domain resolve (to the gateway) through the lab's upstream resolver. */
export const LAB_EXTERNAL_DOMAIN = 'example.org'

export interface LabState {
  plan: LabPlan
  stateDir: string
  daemons: DaemonRecord[]
  kubeconfig?: string
  hostApiPort?: number
}

export interface LabUpOptions {
  name?: string
  nodes?: number
  stateDir?: string
  /** Host loopback port for the apiserver relay; 0 = a free one. */
  apiPort?: number
  /** Three etcd members (node1..node3) and two apiservers (node1, node2); needs >= 3 nodes. */
  ha?: boolean
  /** Zones the nodes take in turn (topology.kubernetes.io/zone); default zone-a, zone-b; [] = no zone labels. */
  zones?: string[]
  /** Extra flags for every `lab supervise` (tests shorten the back-off). */
  supervisorFlags?: string[]
  /** Extra flags for every agent (tests shorten timeouts). */
  agentFlags?: string[]
  serverFlags?: string[]
  progress?: (line: string) => void
  timeoutMs?: number
}

/**
 * Where a supervised component's current PID is kept (its supervisor's status file is beside
 * it: statusFileFor()). Roles and node names the lab uses:
 *   etcd    node1 (HA: node1, node2, node3)   one etcd member each
 *   server  node1 (HA: node1, node2)          netkube server (apiserver, controllers, scheduler)
 *   agent   node1 … nodeN                     netkube agent
 *   relay   node1 (HA: node1, node2)          unix socket → apiserver(s), in the server's netns
 *   relay   host                              127.0.0.1:PORT → those sockets, in the root netns
 *   dnsmasq underlay                          the lab's upstream resolver on the gateway
 */
export function componentPidfile(stateDir: string, role: string, node: string): string {
  return join(stateDir, 'run', `${role}-${node}.pid`)
}

/** The supervisor's status record of a component (restarts, last exit), if it wrote one. */
export function componentStatus(stateDir: string, role: string, node: string): ComponentStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusFileFor(componentPidfile(stateDir, role, node)), 'utf8')) as ComponentStatus
  } catch {
    return undefined
  }
}

export function defaultStateDir(name: string): string {
  return `/var/lib/netkube/lab/${name}`
}

function statePath(dir: string): string {
  return join(dir, 'lab.json')
}

export function readLabState(dir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as LabState
  } catch {
    return undefined
  }
}

export function saveState(s: LabState): void {
  writeFileSync(statePath(s.stateDir), JSON.stringify(s, null, 2))
}

export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`)
}

/** The underlay: a bridge in its own namespace and one veth per node, the node's end named eth0. */
async function buildUnderlay(plan: LabPlan): Promise<void> {
  await createNetns(plan.underlayNetns)
  const ul = openNetOps(plan.underlayNetns)
  try {
    await ul.createBridge({ name: plan.underlayBridge })
    await ul.addAddress(plan.underlayBridge, `${plan.gateway}/24`)
    await ul.setLink(plan.underlayBridge, { up: true })
  } finally {
    ul.close()
  }
  for (const n of plan.nodes) await attachNode(plan, n)
}

/** Does this build's agent take `--api-servers` (the failover client)? Its usage says so. */
async function agentTakesApiServers(): Promise<boolean> {
  const r = await netnsHandle().run(process.execPath, [NETKUBE_MAIN, 'agent'], { allowFailure: true, timeoutMs: 20_000 })
  return `${r.stdout}${r.stderr}`.includes('--api-servers')
}

/**
 * The PKI every apiserver of the lab shares, made before any of them starts (kubeadm's
 * `init --upload-certs` / copy-certs, in one step): the cluster CA and the token file go
 * into each server's state dir; each server then issues its own serving certificate (for
 * its own IP) from that CA on first start.
 */
/** The PKI directory holding the cluster CA (the first server's). */
export function labPkiDir(stateDir: string, plan: LabPlan): string {
  const first = plan.nodes.find((n) => n.server)!
  return join(stateDir, plan.ha ? `server-${first.name}` : 'server', 'pki')
}

/**
 * A node's kubelet serving certificate from the cluster CA, where the agent's kubelet looks
 * for it (`<node dir>/kubelet/pki/kubelet.{crt,key}`, its default --cert-dir): the
 * apiserver verifies kubelets against that CA.
 */
export async function issueNodeKubeletCert(stateDir: string, plan: LabPlan, node: LabNode): Promise<void> {
  await issueKubeletServingCert(labPkiDir(stateDir, plan), join(stateDir, node.name, 'kubelet', 'pki'), node.name, [node.ip])
}

async function sharePki(serverDirs: string[]): Promise<void> {
  const [first, ...rest] = serverDirs
  await ensureClusterCA(join(first!, 'pki'))
  ensureServiceAccountKey(join(first!, 'pki'))
  ensureTokenFile(join(first!, 'tokens.csv'))
  for (const dir of rest) {
    mkdirSync(join(dir, 'pki'), { recursive: true, mode: 0o700 })
    for (const f of SHARED_PKI_FILES) copyFileSync(join(first!, 'pki', f), join(dir, 'pki', f))
    copyFileSync(join(first!, 'tokens.csv'), join(dir, 'tokens.csv'))
  }
}

export async function labUp(o: LabUpOptions = {}): Promise<LabState> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`${l}\n`))
  const plan = labPlan(o.name ?? 'lab', o.nodes ?? 3, { ha: o.ha ?? false, ...(o.zones ? { zones: o.zones } : {}) })
  const stateDir = o.stateDir ?? defaultStateDir(plan.name)
  const timeoutMs = o.timeoutMs ?? 120_000
  if (readLabState(stateDir) || netnsExists(plan.underlayNetns)) {
    throw new Error(`lab "${plan.name}" already exists (state in ${stateDir}); run \`netkube lab down --name ${plan.name}\` first`)
  }
  mkdirSync(join(stateDir, 'logs'), { recursive: true })
  mkdirSync(join(stateDir, 'run'), { recursive: true })
  const state: LabState = { plan, stateDir, daemons: [] }
  saveState(state)
  const node = process.execPath
  // Every daemon runs under `lab supervise` (restart with back-off, like systemd units);
  // its record is the supervisor's, the component's own PID is in componentPidfile().
  const supervised = (role: string, nodeName: string, netns: string | undefined, argv: string[]): void => {
    const log = join(stateDir, 'logs', `${role}-${nodeName}.log`)
    const sup = [node, NETKUBE_MAIN, 'lab', 'supervise', '--pidfile', componentPidfile(stateDir, role, nodeName), ...(o.supervisorFlags ?? []), '--']
    state.daemons.push(spawnDaemon(role, nodeName, netns, [...sup, ...argv], log))
    saveState(state)
  }
  const t0 = Date.now()
  const step = (msg: string): void => say(`[lab ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`)
  try {
    step(`underlay ${plan.underlayCidr}: ${plan.nodes.map((n) => `${n.name}=${n.ip}`).join(' ')}${plan.ha ? ' (HA)' : ''}`)
    await buildUnderlay(plan)
    if (plan.outside) step(`outside client ${plan.outside.ip} (netns ${plan.outside.netns}); LoadBalancer pool ${plan.lbPool}`)
    await buildOutside(plan)

    // The lab's own "outside world" resolver on the underlay gateway: the cluster DNS
    // forwards non-cluster names there, so lookups never leave the lab's namespaces.
    step(`upstream DNS on the underlay gateway ${plan.gateway} (dnsmasq)`)
    supervised('dnsmasq', 'underlay', plan.underlayNetns, [
      'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
      `--listen-address=${plan.gateway}`, `--address=/${LAB_EXTERNAL_DOMAIN}/${plan.gateway}`,
      `--pid-file=${join(stateDir, 'run', 'dnsmasq.pid')}`, '--log-facility=-',
    ])
    const resolvConf = join(stateDir, 'resolv.conf')
    writeFileSync(resolvConf, `nameserver ${plan.gateway}\n`)

    const etcdUrls = etcdClientUrls(plan)
    const etcdNodes = plan.nodes.filter((n) => n.etcd)
    step(`etcd on ${etcdNodes.map((n) => n.name).join(', ')} (${etcdUrls.join(',')})`)
    for (const n of etcdNodes) supervised('etcd', n.name, n.netns, ['etcd', ...etcdArgs(plan, n, join(stateDir, plan.ha ? `etcd-${n.name}` : 'etcd'))])

    const servers = plan.nodes.filter((n) => n.server)
    // Asked now, answered while the servers start (a cold `netkube agent` takes seconds here).
    const apiServersProbe = servers.length > 1 ? agentTakesApiServers() : Promise.resolve(false)
    const serverDir = (n: LabNode): string => join(stateDir, plan.ha ? `server-${n.name}` : 'server')
    if (servers.length > 1) await sharePki(servers.map(serverDir))
    step(`server (apiserver, controllers, scheduler) on ${servers.map((n) => n.name).join(', ')}`)
    for (const n of servers) {
      supervised('server', n.name, n.netns, [
        node, NETKUBE_MAIN, 'server',
        '--state-dir', serverDir(n),
        '--etcd-servers', etcdUrls.join(','),
        '--bind-address', '0.0.0.0',
        '--advertise-address', n.ip,
        '--secure-port', String(plan.apiPort),
        '--service-cluster-ip-range', plan.serviceCIDR,
        '--cluster-cidr', plan.clusterCIDR,
        '--extra-sans', '127.0.0.1',
        ...(plan.lbPool ? ['--load-balancer-pools', `default=${plan.lbPool}`] : []),
        ...(servers.length > 1 ? ['--dns-kubeconfig', join(stateDir, 'dns.kubeconfig'), '--dns-api-server', `https://${plan.kubernetesServiceIP}:443`] : []),
        ...(o.serverFlags ?? []),
      ])
    }
    // etcd is reached from inside the node namespaces only; its readiness shows in the servers'.
    // One relay per server node (unix socket → the apiservers, its own first), and one on the
    // host (127.0.0.1 → those sockets): each fails over to the next target that answers.
    const apiAddrs = apiServerAddrs(plan)
    const socks: string[] = []
    for (const [i, n] of servers.entries()) {
      const sock = join(stateDir, plan.ha ? `apiserver-${n.name}.sock` : 'apiserver.sock')
      socks.push(sock)
      const targets = [...apiAddrs.slice(i), ...apiAddrs.slice(0, i)]
      // With several apiservers, new connections go to ready ones (a restarted one bootstraps first).
      const readyCheck = servers.length > 1 ? ['--ready-path', '/readyz', '--ready-ca', join(serverDir(servers[0]!), 'pki', 'ca.crt')] : []
      supervised('relay', n.name, n.netns, [node, NETKUBE_MAIN, 'lab', 'forward', '--listen', `unix:${sock}`, ...targets.flatMap((t) => ['--to', t]), ...readyCheck])
    }
    const hostPort = o.apiPort === 0 ? await freePort() : (o.apiPort ?? plan.apiPort)
    supervised('relay', 'host', undefined, [node, NETKUBE_MAIN, 'lab', 'forward', '--listen', `127.0.0.1:${hostPort}`, ...socks.flatMap((s) => ['--to', `unix:${s}`])])
    state.hostApiPort = hostPort

    const first = servers[0]!
    const adminKubeconfig = join(serverDir(first), 'admin.kubeconfig')
    // Parsed until whole: a file seen mid-write is read again.
    const nodeKubeconfig = await waitFor('the server to write its kubeconfig', timeoutMs, async () =>
      existsSync(adminKubeconfig) ? (JSON.parse(readFileSync(adminKubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] }) : undefined)
    nodeKubeconfig.clusters[0]!.cluster.server = `https://127.0.0.1:${hostPort}`
    const kubeconfig = join(stateDir, 'kubeconfig')
    writeFileSync(kubeconfig, JSON.stringify(nodeKubeconfig, null, 2), { mode: 0o600 })
    state.kubeconfig = kubeconfig
    saveState(state)
    const client = createClient(loadKubeconfig(kubeconfig))
    await waitFor('the apiserver to be ready', timeoutMs, async () => ((await client.raw('GET', '/readyz')).status === 200 ? true : undefined))
    step(`apiserver ready at https://127.0.0.1:${hostPort} (kubeconfig ${kubeconfig})`)

    // Several apiservers: agents get them all when their client can fail over (h-lease's
    // --api-servers); until then they use the first, as kubelets behind one address do.
    const apiServersFlag = servers.length > 1 && (await apiServersProbe) ? ['--api-servers', apiAddrs.map((a) => `https://${a}`).join(',')] : []
    if (servers.length > 1 && apiServersFlag.length === 0) step('this agent build has no --api-servers: agents use the first apiserver only')
    for (const n of plan.nodes) {
      step(`agent on ${n.name} (overlay, kubelet, kube-proxy)`)
      const dir = join(stateDir, n.name)
      mkdirSync(dir, { recursive: true })
      await issueNodeKubeletCert(stateDir, plan, n)
      // Each agent with its own identities (kubelet, kube-proxy, network loops), never the admin's.
      const creds = await ensureNodeKubeconfigs(join(serverDir(first), 'pki'), dir, n.name, `https://${first.ip}:${plan.apiPort}`)
      supervised('agent', n.name, n.netns, [
        node, NETKUBE_MAIN, 'agent',
        ...agentKubeconfigFlags(creds),
        ...apiServersFlag,
        '--node-name', n.name,
        '--node-ip', n.ip,
        ...(n.zone ? ['--node-labels', `${LABEL_TOPOLOGY_ZONE}=${n.zone}`] : []),
        '--iface', 'eth0',
        '--etcd-endpoints', etcdUrls.join(','),
        '--state-dir', dir,
        '--netns-prefix', n.podNetnsPrefix,
        '--cluster-cidr', plan.clusterCIDR,
        '--service-cidr', plan.serviceCIDR,
        '--cluster-dns', plan.clusterDNS,
        '--resolv-conf', resolvConf,
        ...(o.agentFlags ?? []),
      ])
    }
    const nodes = client.resource<Node>(RESOURCES.find((r) => r.plural === 'nodes')!)
    await waitFor(`${plan.nodes.length} nodes Ready`, timeoutMs, async () => {
      const list = await nodes.list()
      const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      return ready.length >= plan.nodes.length ? true : undefined
    })
    // Up means the add-ons answer too (a server started with --no-dns has none to wait for).
    const dns = !(o.serverFlags ?? []).includes('--no-dns')
    if (dns) {
      step(`${plan.nodes.length} nodes Ready; waiting for the cluster DNS (${plan.clusterDNS})`)
      await waitForAddons({ observe: () => observeAddons(client, plan), timeoutMs, progress: step })
    }
    step(`cluster up: ${plan.nodes.length} nodes Ready${dns ? `, DNS answers at ${plan.clusterDNS}` : ''}. Try: kubectl --kubeconfig ${kubeconfig} get nodes -o wide`)
    return state
  } catch (err) {
    say(`lab up failed: ${(err as Error).message}; logs in ${join(stateDir, 'logs')}`)
    throw err
  }
}

/** Remove everything the lab created, from its state file or, after a crash, from its names. */
export async function labDown(o: { name?: string; stateDir?: string; progress?: (l: string) => void; keepState?: boolean } = {}): Promise<void> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`${l}\n`))
  const name = o.name ?? 'lab'
  const stateDir = o.stateDir ?? defaultStateDir(name)
  const state = readLabState(stateDir)
  const prefix = state?.plan.prefix ?? labPlan(name, 1).prefix
  // Daemons first (agents before the server, so kubelets stop while the API is still up).
  const daemons = [...(state?.daemons ?? [])].reverse()
  const t0 = Date.now()
  const at = (): string => `[lab ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s]`
  await Promise.all(daemons.filter((d) => d.role === 'agent').map((d) => stopDaemon(d)))
  say(`${at()} agents stopped`)
  for (const d of daemons.filter((d) => d.role !== 'agent')) await stopDaemon(d)
  say(`${at()} server, etcd and relays stopped`)
  // A component whose supervisor was killed outright outlives it (the host relay is in no
  // lab namespace): stop it by the PID + start time its supervisor recorded.
  for (const d of daemons) {
    const s = componentStatus(stateDir, d.role, d.node)
    if (s?.pid && s.pidStartTicks) await stopDaemon({ ...d, pid: s.pid, startTicks: s.pidStartTicks })
  }
  // Anything still running inside the lab's namespaces (containers of a killed kubelet).
  const ours = listNetns().filter((n) => n.startsWith(`${prefix}-`))
  await killInNamespaces(ours)
  say(`${at()} processes left in the lab's namespaces stopped`)
  // Pod namespaces first, then nodes, then the underlay (its veths go with their peers).
  const order = (n: string): number => (n.includes('-underlay') ? 2 : /-node\d+$/.test(n) ? 1 : 0)
  for (const ns of ours.sort((a, b) => order(a) - order(b))) await deleteNetns(ns)
  try {
    for (const d of readdirSync('/etc/netns')) if (d.startsWith(`${prefix}-`)) rmSync(join('/etc/netns', d), { recursive: true, force: true })
  } catch {
    /* no /etc/netns */
  }
  if (!o.keepState) rmSync(stateDir, { recursive: true, force: true })
  say(`lab "${name}" removed (${ours.length} namespaces, ${daemons.length} daemons)`)
}

export function labStatus(o: { name?: string; stateDir?: string } = {}): string {
  const name = o.name ?? 'lab'
  const stateDir = o.stateDir ?? defaultStateDir(name)
  const state = readLabState(stateDir)
  if (!state) return `lab "${name}": not running (no state in ${stateDir})\n`
  const lines = [`lab "${name}": ${state.plan.nodes.length} nodes${state.plan.ha ? ' (HA)' : ''}, kubeconfig ${state.kubeconfig ?? '(not yet)'}`]
  for (const n of state.plan.nodes) lines.push(`  ${n.name.padEnd(7)} ${n.ip.padEnd(15)} netns ${n.netns}${netnsExists(n.netns) ? '' : ' (missing)'}`)
  const outside = outsideStatusLine(state.plan)
  if (outside) lines.push(outside)
  const now = Date.now()
  const rows = [['ROLE', 'NODE', 'STATE', 'RESTARTS', 'UPTIME', 'PID', 'LAST EXIT']]
  for (const d of state.daemons) {
    const s = componentStatus(stateDir, d.role, d.node)
    const v = describeStatus(s, isAlive(d), now)
    rows.push([d.role, d.node, v.state, v.restarts, v.age, s?.state === 'running' && s.pid ? String(s.pid) : '-', v.reason || '-'])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  lines.push('  daemons (logs in ' + join(stateDir, 'logs') + '):')
  for (const r of rows) lines.push('    ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
  return lines.join('\n') + '\n'
}
