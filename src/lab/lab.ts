// `netkube lab`: a whole cluster on one machine. Each node is a network namespace on an
// underlay bridge (itself in a namespace of its own); etcd and the server run in node1,
// an agent (overlay + kubelet + kube-proxy) in every node. Nothing touches the root
// namespace's network: the host reaches the apiserver through a unix-socket relay.
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { labPlan, type LabPlan } from './plan.js'
import { spawnDaemon, stopDaemon, isAlive, processesInNamespaces, type DaemonRecord } from './procs.js'
import { createNetns, deleteNetns, listNetns, netnsExists, openNetOps } from '../net/index.js'
import { NETKUBE_MAIN } from '../kubelet/images.js'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import type { Node } from '../api/types.js'
import { RESOURCES } from '../api/resources.js'
import { freePort } from '../util/ports.js'

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
  /** Extra flags for every agent (tests shorten timeouts). */
  agentFlags?: string[]
  serverFlags?: string[]
  progress?: (line: string) => void
  timeoutMs?: number
}

/** Where a supervised component's current PID is kept. */
export function componentPidfile(stateDir: string, role: string, node: string): string {
  return join(stateDir, 'run', `${role}-${node}.pid`)
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

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
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
    for (const n of plan.nodes) {
      await createNetns(n.netns)
      await ul.createVeth({ name: n.underlayPort, peerName: 'eth0', peerNetns: n.netns, mtu: 1500 })
      await ul.setLink(n.underlayPort, { master: plan.underlayBridge, up: true })
      const node = openNetOps(n.netns)
      try {
        await node.addAddress('eth0', `${n.ip}/24`)
        await node.setLink('eth0', { up: true })
        await node.setLink('lo', { up: true })
        await node.addRoute({ dst: 'default', via: plan.gateway, dev: 'eth0' })
        await node.writeSysctl('net.ipv4.ip_forward', '1')
      } finally {
        node.close()
      }
    }
  } finally {
    ul.close()
  }
}

export async function labUp(o: LabUpOptions = {}): Promise<LabState> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`${l}\n`))
  const plan = labPlan(o.name ?? 'lab', o.nodes ?? 3)
  const stateDir = o.stateDir ?? defaultStateDir(plan.name)
  const timeoutMs = o.timeoutMs ?? 120_000
  if (readLabState(stateDir) || netnsExists(plan.underlayNetns)) {
    throw new Error(`lab "${plan.name}" already exists (state in ${stateDir}); run \`netkube lab down --name ${plan.name}\` first`)
  }
  mkdirSync(join(stateDir, 'logs'), { recursive: true })
  const state: LabState = { plan, stateDir, daemons: [] }
  saveState(state)
  const node = process.execPath
  const add = (d: DaemonRecord): void => {
    state.daemons.push(d)
    saveState(state)
  }
  // Server and agents run under `lab supervise` (restart on crash, like systemd units).
  mkdirSync(join(stateDir, 'run'), { recursive: true })
  const supervised = (role: string, nodeName: string): string[] => [node, NETKUBE_MAIN, 'lab', 'supervise', '--pidfile', componentPidfile(stateDir, role, nodeName), '--']
  const t0 = Date.now()
  const step = (msg: string): void => say(`[lab ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`)
  try {
    step(`underlay ${plan.underlayCidr}: ${plan.nodes.map((n) => `${n.name}=${n.ip}`).join(' ')}`)
    await buildUnderlay(plan)

    // The lab's own "outside world" resolver on the underlay gateway: the cluster DNS
    // forwards non-cluster names there, so lookups never leave the lab's namespaces.
    step(`upstream DNS on the underlay gateway ${plan.gateway} (dnsmasq)`)
    add(
      spawnDaemon('dnsmasq', 'underlay', plan.underlayNetns, [
        'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
        `--listen-address=${plan.gateway}`, `--address=/${LAB_EXTERNAL_DOMAIN}/${plan.gateway}`,
        `--pid-file=${join(stateDir, 'run', 'dnsmasq.pid')}`, '--log-facility=-',
      ], join(stateDir, 'logs', 'dnsmasq.log')),
    )
    const resolvConf = join(stateDir, 'resolv.conf')
    writeFileSync(resolvConf, `nameserver ${plan.gateway}\n`)

    const server = plan.nodes[0]!
    const etcdUrl = `http://${server.ip}:${plan.etcdPort}`
    step(`etcd on ${server.name} (${etcdUrl})`)
    add(
      spawnDaemon('etcd', server.name, server.netns, [
        'etcd', '--name', 'lab', '--data-dir', join(stateDir, 'etcd'),
        '--listen-client-urls', `${etcdUrl},http://127.0.0.1:${plan.etcdPort}`,
        '--advertise-client-urls', etcdUrl,
        '--listen-peer-urls', `http://127.0.0.1:2380`,
        '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
        '--initial-cluster', 'lab=http://127.0.0.1:2380',
        '--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '1h',
        '--log-level', 'warn', '--logger', 'zap',
      ], join(stateDir, 'logs', 'etcd.log')),
    )

    step(`server (apiserver, controllers, scheduler) on ${server.name}`)
    const serverDir = join(stateDir, 'server')
    add(
      spawnDaemon('server', server.name, server.netns, [
        ...supervised('server', server.name),
        node, NETKUBE_MAIN, 'server',
        '--state-dir', serverDir,
        '--etcd-servers', etcdUrl,
        '--bind-address', '0.0.0.0',
        '--advertise-address', server.ip,
        '--secure-port', String(plan.apiPort),
        '--service-cluster-ip-range', plan.serviceCIDR,
        '--cluster-cidr', plan.clusterCIDR,
        '--extra-sans', '127.0.0.1',
        ...(o.serverFlags ?? []),
      ], join(stateDir, 'logs', 'server.log')),
    )
    // etcd is reached from inside the node namespace only; its readiness shows in the server's.
    const apiSock = join(stateDir, 'apiserver.sock')
    add(
      spawnDaemon('relay', server.name, server.netns, [node, NETKUBE_MAIN, 'lab', 'forward', '--listen', `unix:${apiSock}`, '--to', `${server.ip}:${plan.apiPort}`], join(stateDir, 'logs', 'relay-node.log')),
    )
    const hostPort = o.apiPort === 0 ? await freePort() : (o.apiPort ?? plan.apiPort)
    add(spawnDaemon('relay', 'host', undefined, [node, NETKUBE_MAIN, 'lab', 'forward', '--listen', `127.0.0.1:${hostPort}`, '--to', `unix:${apiSock}`], join(stateDir, 'logs', 'relay-host.log')))
    state.hostApiPort = hostPort

    const adminKubeconfig = join(serverDir, 'admin.kubeconfig')
    await waitFor('the server to write its kubeconfig', timeoutMs, async () => (existsSync(adminKubeconfig) ? true : undefined))
    const nodeKubeconfig = JSON.parse(readFileSync(adminKubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] }
    nodeKubeconfig.clusters[0]!.cluster.server = `https://${server.ip}:${plan.apiPort}`
    writeFileSync(join(stateDir, 'node.kubeconfig'), JSON.stringify(nodeKubeconfig, null, 2), { mode: 0o600 })
    nodeKubeconfig.clusters[0]!.cluster.server = `https://127.0.0.1:${hostPort}`
    const kubeconfig = join(stateDir, 'kubeconfig')
    writeFileSync(kubeconfig, JSON.stringify(nodeKubeconfig, null, 2), { mode: 0o600 })
    state.kubeconfig = kubeconfig
    saveState(state)
    const client = createClient(loadKubeconfig(kubeconfig))
    await waitFor('the apiserver to be ready', timeoutMs, async () => ((await client.raw('GET', '/readyz')).status === 200 ? true : undefined))
    step(`apiserver ready at https://127.0.0.1:${hostPort} (kubeconfig ${kubeconfig})`)

    for (const n of plan.nodes) {
      step(`agent on ${n.name} (overlay, kubelet, kube-proxy)`)
      const dir = join(stateDir, n.name)
      mkdirSync(dir, { recursive: true })
      add(
        spawnDaemon('agent', n.name, n.netns, [
          ...supervised('agent', n.name),
          node, NETKUBE_MAIN, 'agent',
          '--kubeconfig', join(stateDir, 'node.kubeconfig'),
          '--node-name', n.name,
          '--node-ip', n.ip,
          '--iface', 'eth0',
          '--etcd-endpoints', etcdUrl,
          '--state-dir', dir,
          '--netns-prefix', n.podNetnsPrefix,
          '--cluster-cidr', plan.clusterCIDR,
          '--service-cidr', plan.serviceCIDR,
          '--cluster-dns', plan.clusterDNS,
          '--resolv-conf', resolvConf,
          ...(o.agentFlags ?? []),
        ], join(stateDir, 'logs', `agent-${n.name}.log`)),
      )
    }
    const nodes = client.resource<Node>(RESOURCES.find((r) => r.plural === 'nodes')!)
    await waitFor(`${plan.nodes.length} nodes Ready`, timeoutMs, async () => {
      const list = await nodes.list()
      const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      return ready.length >= plan.nodes.length ? true : undefined
    })
    step(`cluster up: ${plan.nodes.length} nodes Ready. Try: kubectl --kubeconfig ${kubeconfig} get nodes -o wide`)
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
  await Promise.all(daemons.filter((d) => d.role === 'agent').map((d) => stopDaemon(d)))
  for (const d of daemons.filter((d) => d.role !== 'agent')) await stopDaemon(d)
  // Anything still running inside the lab's namespaces (containers of a killed kubelet).
  const ours = listNetns().filter((n) => n.startsWith(`${prefix}-`))
  for (let round = 0; round < 3; round++) {
    const pids = processesInNamespaces(ours)
    if (pids.length === 0) break
    for (const pid of pids) {
      try {
        process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 500))
  }
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
  const lines = [`lab "${name}": ${state.plan.nodes.length} nodes, kubeconfig ${state.kubeconfig ?? '(not yet)'}`]
  for (const n of state.plan.nodes) lines.push(`  ${n.name.padEnd(7)} ${n.ip.padEnd(15)} netns ${n.netns}${netnsExists(n.netns) ? '' : ' (missing)'}`)
  lines.push('  daemons:')
  for (const d of state.daemons) lines.push(`    ${d.role.padEnd(7)} ${d.node.padEnd(7)} pid ${String(d.pid).padEnd(8)} ${isAlive(d) ? 'running' : 'DEAD'}   log ${d.log}`)
  return lines.join('\n') + '\n'
}
