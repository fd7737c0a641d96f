// `netkube lab node add NAME` / `lab node remove NAME`: the lab grows and shrinks while it runs.
//
// add:    a new node namespace on the underlay (the next free address from .10 up), its agent
//         (overlay, CNI, kubelet, kube-proxy) under `lab supervise` with the argv of the lab's
//         other agents (only the node's own flags differ), recorded in the lab's state — plan
//         and daemons — before it starts, so `lab down` removes it even if the add fails
//         half-way; then wait for the Node to be Ready.
// remove: drain — a NoExecute taint (`netkube.io/lab-node-removing`, which not even the
//         DaemonSet defaults tolerate, so daemon pods go and are not recreated) and deletion of
//         every pod bound to the node, waited for while its kubelet still runs; then its
//         supervisor and agent stopped by PID (and whatever is left in its namespaces), the Node
//         and its heartbeat Lease deleted, its overlay subnet lease deleted from etcd (the other
//         agents' watches then drop its route, ARP and FDB entries), its pod namespaces, its own
//         namespace (the underlay veth goes with it) and its state directory removed, and the
//         lab's state forgets it.
// Both refuse what cannot be done with one clear line: `node "x" already exists`, `not found`,
// a control-plane node.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { componentPidfile, componentStatus, defaultStateDir, issueNodeKubeletCert, readLabState, saveState, waitFor, type LabState } from './lab.js'
import type { LabNode, LabPlan } from './plan.js'
import { etcdClientUrls, zoneFor } from './plan.js'
import { attachNode } from './underlay.js'
import { ensureNodeKubeconfigs, nodeKubeconfigPaths } from './credentials.js'
import { isAlive, killInNamespaces, spawnDaemon, stopDaemon } from './procs.js'
import { nthAddress, parseCidr } from '../net/ip.js'
import { deleteNetns, listNetns, netnsExists } from '../net/netns.js'
import { netnsHandle } from '../net/door.js'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { isNotFound } from '../client/errors.js'
import type { Client } from '../client/interfaces.js'
import { resourceFor } from '../api/resources.js'
import { LABEL_TOPOLOGY_ZONE, type Node, type Pod } from '../api/types.js'
import { DEFAULT_PREFIX } from '../overlay/config.js'
import { subnetsPrefix } from '../overlay/lease.js'
import { parseDuration } from '../util/duration.js'
import { caCertHash } from '../authn/pki.js'
import { newToken, tokenSecret, tokenString, TOKEN_NAMESPACE } from '../join/tokens.js'

/** The taint that drains a node being removed (NoExecute: nothing stays, not even daemon pods). */
export const REMOVING_TAINT = { key: 'netkube.io/lab-node-removing', effect: 'NoExecute' as const }

// ---------- pure ----------

/** A node name the lab can carry: a DNS-1123 label short enough for `ul-NAME` (IFNAMSIZ 15). */
export function checkNodeName(name: string): void {
  if (!/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/.test(name))
    throw new Error(`node name "${name}" must be 1-12 lowercase letters, digits or '-', starting and ending with a letter or digit`)
}

/** The plan entry of a node joining `plan`: the first free underlay address from .10 upwards. */
export function planAddedNode(plan: LabPlan, name: string): LabNode {
  checkNodeName(name)
  if (plan.nodes.some((n) => n.name === name)) throw new Error(`node "${name}" already exists in lab "${plan.name}"`)
  const used = new Set(plan.nodes.map((n) => n.ip))
  const underlay = parseCidr(plan.underlayCidr)
  for (let i = 0; i < 240; i++) {
    const ip = nthAddress(underlay, 10 + i)
    if (used.has(ip)) continue
    // Pod namespaces are keyed by the address slot (n1 = .10, as `lab up` numbers them), never by
    // the name: one node's prefix can then never be a prefix of another's.
    // zones in turn by address slot, as `lab up` gives them (a lab made without zones gets none)
    const zones = [...new Set(plan.nodes.map((n) => n.zone).filter((z): z is string => !!z))]
    const zone = zones.length ? zoneFor(i, zones) : undefined
    return { name, netns: `${plan.prefix}-${name}`, underlayPort: `ul-${name}`, ip, podNetnsPrefix: `${plan.prefix}-n${i + 1}-`, server: false, etcd: false, ...(zone ? { zone } : {}) }
  }
  throw new Error(`lab "${plan.name}" has no free underlay address left`)
}

/** What a node's agent record says, for `to` instead of `from`: the node's own flags swapped. */
export function agentArgvFor(template: readonly string[], from: LabNode, to: LabNode, stateDir: string): string[] {
  const out = [...template]
  const swap: Record<string, string> = {
    '--pidfile': componentPidfile(stateDir, 'agent', to.name),
    '--node-name': to.name,
    '--node-ip': to.ip,
    '--state-dir': join(stateDir, to.name),
    '--netns-prefix': to.podNetnsPrefix,
  }
  // The node's own kubeconfigs live in its state directory: swapped with it.
  const fromDir = join(stateDir, from.name) + '/'
  for (let i = 0; i < out.length - 1; i++) {
    if (/^--(|proxy-|network-)kubeconfig$/.test(out[i]!) && out[i + 1]!.startsWith(fromDir)) out[i + 1] = join(stateDir, to.name, out[i + 1]!.slice(fromDir.length))
  }
  const seen = new Set<string>()
  for (let i = 0; i < out.length - 1; i++) {
    const v = swap[out[i]!]
    if (v === undefined) continue
    out[i + 1] = v
    seen.add(out[i]!)
  }
  const missing = Object.keys(swap).filter((f) => !seen.has(f))
  if (missing.length) throw new Error(`the agent record of ${from.name} lacks ${missing.join(', ')}: recreate the lab with this netkube`)
  // the model node's zone label is its own: the new node gets its plan's zone (or none)
  const labels = out.indexOf('--node-labels')
  if (labels >= 0) out.splice(labels, 2)
  if (to.zone) out.splice(out.indexOf('--node-ip') + 2, 0, '--node-labels', `${LABEL_TOPOLOGY_ZONE}=${to.zone}`)
  return out
}

/**
 * The agent argv of a node that joins with a bootstrap token instead of a kubelet certificate
 * the lab issued: `--kubeconfig` stays (the agent writes it from the CSR flow), the join flags
 * are added (kubeadm join's, as `netkube token create --print-join-command` prints them).
 */
export function joinArgv(argv: readonly string[], server: string, token: string, caCertHash: string): string[] {
  const out = [...argv]
  const drop = new Set(['--server', '--bootstrap-token', '--discovery-token-ca-cert-hash'])
  for (let i = out.length - 2; i >= 0; i--) if (drop.has(out[i]!)) out.splice(i, 2)
  return [...out, '--server', server, '--bootstrap-token', token, '--discovery-token-ca-cert-hash', caCertHash]
}

/** `etcdctl get --prefix` output (key, value lines) → the keys whose lease names `publicIP`. */
export function leaseKeysOf(etcdctlOutput: string, publicIP: string): string[] {
  const lines = etcdctlOutput.split('\n')
  const keys: string[] = []
  for (let i = 0; i + 1 < lines.length; i += 2) {
    try {
      if ((JSON.parse(lines[i + 1]!) as { PublicIP?: unknown }).PublicIP === publicIP) keys.push(lines[i]!)
    } catch {
      /* not a lease value */
    }
  }
  return keys
}

// ---------- edges ----------

interface Opened {
  name: string
  stateDir: string
  state: LabState
  client: Client
}

function open(o: { name?: string; stateDir?: string }): Opened {
  const name = o.name ?? 'lab'
  const stateDir = o.stateDir ?? defaultStateDir(name)
  const state = readLabState(stateDir)
  if (!state) throw new Error(`lab "${name}" is not running (no state in ${stateDir})`)
  if (!state.kubeconfig) throw new Error(`lab "${name}" has no kubeconfig yet (is \`lab up\` still running?)`)
  return { name, stateDir, state, client: createClient(loadKubeconfig(state.kubeconfig)) }
}

export interface NodeAddOptions {
  name?: string
  stateDir?: string
  node: string
  /** Wait this long for the Node to be Ready (0: do not wait). */
  waitReadyMs?: number
  /**
   * Join as `kubeadm join` does: a bootstrap token and the CSR flow give the kubelet its
   * certificate (the lab still writes kube-proxy's and the network loops' kubeconfigs).
   */
  join?: boolean
  progress?: (line: string) => void
}

export async function labNodeAdd(o: NodeAddOptions): Promise<LabNode> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`${l}\n`))
  const { name, stateDir, state, client } = open(o)
  const node = planAddedNode(state.plan, o.node)
  if (netnsExists(node.netns)) throw new Error(`node "${o.node}" already exists: namespace ${node.netns} is present`)
  const template = state.daemons.find((d) => d.role === 'agent' && d.argv?.length)
  const from = template && state.plan.nodes.find((n) => n.name === template.node)
  if (!template || !from) throw new Error(`lab "${name}" runs no agent to model the new one on`)
  let argv = agentArgvFor(template.argv!, from, node, stateDir)
  // Remembered first: whatever happens next, `lab down` finds it by the plan and the prefix.
  state.plan.nodes.push(node)
  saveState(state)
  say(`${node.name}: ${node.ip} on the underlay (netns ${node.netns})`)
  await attachNode(state.plan, node)
  mkdirSync(join(stateDir, node.name), { recursive: true })
  await issueNodeKubeletCert(stateDir, state.plan, node)
  // Its own credentials, for the apiserver the model node's kubelet uses (a lab made before
  // per-node identities has none: its agents share a kubeconfig the argv already names).
  const modelKubeconfig = nodeKubeconfigPaths(join(stateDir, from.name)).kubelet
  if (existsSync(modelKubeconfig)) {
    const firstServer = state.plan.nodes.find((n) => n.server)!
    const pki = join(stateDir, state.plan.ha ? `server-${firstServer.name}` : 'server', 'pki')
    const server = loadKubeconfig(modelKubeconfig).server
    await ensureNodeKubeconfigs(pki, join(stateDir, node.name), node.name, server, { kubelet: !o.join })
    if (o.join) {
      const t = newToken({ ttlMs: 3600_000, description: `lab node add ${node.name} --join` })
      await client.resource(resourceFor('secrets'), TOKEN_NAMESPACE).create(tokenSecret(t))
      argv = joinArgv(argv, server, tokenString(t), caCertHash(readFileSync(join(pki, 'ca.crt'), 'utf8')))
      say(`${node.name}: joins with bootstrap token ${t.id} (CSR flow)`)
    }
  } else if (o.join) throw new Error(`lab "${name}" has no per-node identities: --join needs a lab made with this netkube`)
  const rec = spawnDaemon('agent', node.name, node.netns, argv, join(stateDir, 'logs', `agent-${node.name}.log`))
  const fresh = readLabState(stateDir) ?? state
  if (!fresh.plan.nodes.some((n) => n.name === node.name)) fresh.plan.nodes.push(node)
  fresh.daemons.push(rec)
  saveState(fresh)
  say(`${node.name}: agent started (supervisor pid ${rec.pid})`)
  if (o.waitReadyMs) {
    const nodes = client.resource<Node>(resourceFor('nodes'))
    const t0 = Date.now()
    await waitFor(`node ${node.name} Ready`, o.waitReadyMs, async () =>
      (await nodes.get(node.name)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined)
    say(`${node.name}: Ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
  return node
}

export interface NodeRemoveOptions {
  name?: string
  stateDir?: string
  node: string
  /** How long the drain may take before the pods are removed by force (default 60 s). */
  drainTimeoutMs?: number
  progress?: (line: string) => void
}

export interface NodeRemoveResult {
  /** Pods that were bound to the node when the drain started. */
  drained: string[]
  /** Pods still there at the drain deadline (then force-deleted). */
  forced: string[]
  leaseKeys: string[]
  namespaces: string[]
}

export async function labNodeRemove(o: NodeRemoveOptions): Promise<NodeRemoveResult> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`${l}\n`))
  const { name, stateDir, state, client } = open(o)
  const node = state.plan.nodes.find((n) => n.name === o.node)
  if (!node) throw new Error(`node "${o.node}" not found in lab "${name}" (nodes: ${state.plan.nodes.map((n) => n.name).join(', ')})`)
  if (node.server || node.etcd) throw new Error(`node "${o.node}" runs the lab's control plane (${[node.etcd && 'etcd', node.server && 'server'].filter(Boolean).join(', ')}); only worker nodes can be removed`)
  const nodes = client.resource<Node>(resourceFor('nodes'))
  const pods = client.resource<Pod>(resourceFor('pods'))
  const onNode = async () => (await pods.list({ fieldSelector: `spec.nodeName=${node.name}` })).items

  // 1. Drain while the kubelet still runs, so it stops the containers and releases their IPs.
  const taint = { ...REMOVING_TAINT, timeAdded: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }
  try {
    const cur = await nodes.get(node.name)
    const taints = [...(cur.spec?.taints ?? []).filter((t) => t.key !== REMOVING_TAINT.key), taint]
    await nodes.patch(node.name, { spec: { unschedulable: true, taints } }, 'merge')
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  const drained = (await onNode()).map((p) => `${p.metadata.namespace}/${p.metadata.name}`)
  for (const p of await onNode()) await client.resource<Pod>(resourceFor('pods'), p.metadata.namespace).delete(p.metadata.name!).catch(() => {})
  say(`${node.name}: cordoned, tainted ${REMOVING_TAINT.key}:NoExecute, deleting ${drained.length} pods`)
  let left: Pod[] = []
  try {
    await waitFor(`the pods of ${node.name} to go`, o.drainTimeoutMs ?? 60_000, async () => {
      left = await onNode()
      for (const p of left) if (!p.metadata.deletionTimestamp) await client.resource<Pod>(resourceFor('pods'), p.metadata.namespace).delete(p.metadata.name!).catch(() => {})
      return left.length === 0 ? true : undefined
    })
  } catch {
    say(`${node.name}: ${left.length} pods still there after the drain timeout; removing them by force`)
  }

  // 2. Its processes: the supervisor and agent by PID, then anything left in its namespaces.
  const recs = state.daemons.filter((d) => d.node === node.name)
  for (const d of recs) {
    await stopDaemon(d)
    const s = componentStatus(stateDir, d.role, d.node)
    if (s?.pid && s.pidStartTicks) await stopDaemon({ ...d, pid: s.pid, startTicks: s.pidStartTicks })
  }
  const podNs = listNetns().filter((n) => n.startsWith(node.podNetnsPrefix))
  await killInNamespaces([node.netns, ...podNs])

  // 3. The API objects: pods left behind (force), the Node, its heartbeat Lease.
  const forced: string[] = []
  for (const p of await onNode().catch(() => [] as Pod[])) {
    forced.push(`${p.metadata.namespace}/${p.metadata.name}`)
    await client.resource<Pod>(resourceFor('pods'), p.metadata.namespace).delete(p.metadata.name!, { gracePeriodSeconds: 0 }).catch(() => {})
  }
  await nodes.delete(node.name).catch((err) => {
    if (!isNotFound(err)) throw err
  })
  await client.resource(resourceFor('leases'), 'kube-node-lease').delete(node.name).catch(() => {})

  // 4. Its overlay subnet: the other agents watch the leases and drop its routes and FDB entries.
  const leaseKeys = await deleteSubnetLeases(state.plan, node)
  say(`${node.name}: Node deleted, subnet lease${leaseKeys.length === 1 ? '' : 's'} ${leaseKeys.join(' ') || '(none)'} released`)

  // 5. Kernel and disk: pod namespaces, the node's namespace (its underlay veth goes with it), state.
  const namespaces = [...podNs, node.netns].filter((n) => netnsExists(n))
  for (const ns of namespaces) await deleteNetns(ns)
  for (const ns of podNs) rmSync(join('/etc/netns', ns), { recursive: true, force: true })
  rmSync(join(stateDir, node.name), { recursive: true, force: true })
  for (const d of recs) {
    rmSync(componentPidfile(stateDir, d.role, d.node), { force: true })
    rmSync(componentPidfile(stateDir, d.role, d.node).replace(/\.pid$/, '.status.json'), { force: true })
  }
  const fresh = readLabState(stateDir) ?? state
  fresh.plan.nodes = fresh.plan.nodes.filter((n) => n.name !== node.name)
  fresh.daemons = fresh.daemons.filter((d) => d.node !== node.name || isAlive(d))
  saveState(fresh)
  say(`${node.name}: removed (${namespaces.length} namespaces)`)
  return { drained, forced, leaseKeys, namespaces }
}

/** Delete the node's subnet leases with etcdctl, from inside the namespace of an etcd member. */
async function deleteSubnetLeases(plan: LabPlan, node: LabNode): Promise<string[]> {
  const member = plan.nodes.find((n) => n.etcd)
  if (!member) return []
  const etcd = netnsHandle(member.netns)
  const endpoints = ['--endpoints', etcdClientUrls(plan).join(',')]
  const env = { ...process.env, ETCDCTL_API: '3' }
  const got = await etcd.run('etcdctl', [...endpoints, 'get', '--prefix', subnetsPrefix(DEFAULT_PREFIX)], { env, timeoutMs: 15_000 })
  const keys = leaseKeysOf(got.stdout, node.ip)
  for (const k of keys) await etcd.run('etcdctl', [...endpoints, 'del', k], { env, timeoutMs: 15_000 })
  return keys
}

const USAGE = 'usage: netkube lab node add|remove NAME [--name lab] [--state-dir D] [--wait 60s] [--join]\n'

/** `netkube lab node add|remove NAME …` */
export async function main(verb: 'add' | 'remove', argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, 'state-dir': { type: 'string' }, wait: { type: 'string' }, join: { type: 'boolean' } },
  })
  const [nodeName, ...extra] = positionals
  if (!nodeName || extra.length > 0) {
    process.stderr.write(USAGE)
    return 2
  }
  const common = { node: nodeName, ...(v.name ? { name: v.name } : {}), ...(v['state-dir'] ? { stateDir: v['state-dir'] } : {}) }
  try {
    if (verb === 'add') {
      const n = await labNodeAdd({ ...common, waitReadyMs: parseDuration(v.wait ?? '60s'), ...(v.join ? { join: true } : {}) })
      process.stdout.write(`node/${n.name} added (${n.ip})\n`)
    } else {
      const r = await labNodeRemove({ ...common, ...(v.wait ? { drainTimeoutMs: parseDuration(v.wait) } : {}) })
      process.stdout.write(`node/${nodeName} removed (${r.drained.length} pods drained)\n`)
    }
    return 0
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`)
    return 1
  }
}
