// `netkube lab node restart NAME`: a lab node loses power and comes back.
//
// Three depths, from a crash to a reboot:
//   --agent-only  the node agent (kubelet, kube-proxy, overlay) and its supervisor die; the
//                 pods' processes live on (a kubelet crash): the new kubelet adopts them.
//   (default)     every process of the node dies at once by SIGKILL — supervisor, agent,
//                 each container in the node's pod namespaces — as a power loss kills them;
//                 the kernel's network state (pod namespaces, veths, routes, nft) is kept, as
//                 it would be if only the node's processes had been killed. The kubelet finds
//                 sandboxes whose processes are all gone and recreates them (new sandbox, IP
//                 released and taken again, restartCount + 1).
//   --reboot      also drops what a reboot clears: the pod namespaces (kernel objects behind
//                 a tmpfs /run/netns), and in the node's namespace every link but lo and eth0
//                 (cni0, flannel.1, host veths) and the whole nft ruleset. What a real boot
//                 brings back by itself (eth0's address and default route, ip_forward) stays.
//                 Disk state stays: the agent's state directory, IPAM files, /etc/netns.
// Then the agent starts again under its supervisor, with the argv and log `lab up` used.
//
// "Processes of the node" are those inside its namespaces (by netns inode), minus the lab's
// control-plane daemons placed on it (etcd, server, relay on node1) and their descendants:
// those are the lab's, not the node's, and `lab` supervises and restarts them itself.
import { readdirSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { readLabState, saveState, defaultStateDir, componentPidfile } from './lab.js'
import type { LabNode } from './plan.js'
import { spawnDaemon, processesInNamespaces, type DaemonRecord } from './procs.js'
import { procStartTicks, processAlive, processTree } from '../util/proc.js'
import { deleteNetns, listNetns } from '../net/netns.js'
import { netnsHandle } from '../net/door.js'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { resourceFor } from '../api/resources.js'
import type { Node } from '../api/types.js'
import { parseDuration } from '../util/duration.js'

export type RestartDepth = 'agent' | 'power' | 'reboot'

export interface NodeRestartOptions {
  name?: string
  stateDir?: string
  node: string
  depth?: RestartDepth
  /** Wait for the Node to report Ready from the new agent (a heartbeat after the restart). */
  waitReadyMs?: number
  progress?: (line: string) => void
}

export interface NodeRestartResult {
  killed: { pid: number; what: string }[]
  droppedNamespaces: string[]
  droppedLinks: string[]
  agent: DaemonRecord
  /** ms from the kill to the Node's Ready heartbeat (when waited for). */
  readyAfterMs?: number
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return '?'
  }
}

/** This process and its ancestors: never ours to kill, wherever the CLI runs. */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>()
  let pid = process.pid
  while (pid > 1 && !out.has(pid)) {
    out.add(pid)
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      break
    }
  }
  return out
}

/**
 * Pure: which of the processes found in the node's namespaces to kill. `agentOnly` keeps
 * those in pod namespaces (the containers outlive a kubelet crash).
 */
export function chooseVictims(o: {
  supervisorTree: number[]
  inNode: number[]
  inPods: number[]
  spared: Set<number>
  agentOnly: boolean
}): number[] {
  const pods = new Set(o.inPods)
  const pick = o.agentOnly ? o.supervisorTree.filter((p) => !pods.has(p)) : [...new Set([...o.supervisorTree, ...o.inNode, ...o.inPods])]
  // The supervisor first: killed before the agent, it cannot start a new one in between.
  const first = o.supervisorTree[0]
  return pick.filter((p) => !o.spared.has(p)).sort((a, b) => (a === first ? -1 : b === first ? 1 : 0))
}

async function waitGone(procs: { pid: number; startTicks: string }[], timeoutMs: number): Promise<{ pid: number }[]> {
  const deadline = Date.now() + timeoutMs
  let alive = procs
  while (Date.now() < deadline) {
    alive = alive.filter((p) => processAlive(p.pid, p.startTicks))
    if (alive.length === 0) return []
    await new Promise((r) => setTimeout(r, 20))
  }
  return alive
}

/** What a reboot clears in the node's own namespace: links but lo/eth0, the nft ruleset. */
async function clearNodeKernelState(node: LabNode): Promise<string[]> {
  const ns = netnsHandle(node.netns)
  const dropped = await ns.withOps(async (ops) => {
    const names: string[] = []
    // Veths' host ends vanish with their pod namespaces; what is left are devices the agent made.
    for (const l of await ops.listLinks()) {
      if (l.name === 'lo' || l.name === 'eth0') continue
      if (await ops.deleteLink(l.name)) names.push(l.name)
    }
    return names
  })
  await ns.run('nft', ['flush', 'ruleset'])
  return dropped
}

export async function labNodeRestart(o: NodeRestartOptions): Promise<NodeRestartResult> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`${l}\n`))
  const name = o.name ?? 'lab'
  const stateDir = o.stateDir ?? defaultStateDir(name)
  const depth = o.depth ?? 'power'
  const state = readLabState(stateDir)
  if (!state) throw new Error(`lab "${name}" is not running (no state in ${stateDir})`)
  const node = state.plan.nodes.find((n) => n.name === o.node)
  if (!node) throw new Error(`lab "${name}" has no node "${o.node}" (nodes: ${state.plan.nodes.map((n) => n.name).join(', ')})`)
  const recIdx = state.daemons.findIndex((d) => d.role === 'agent' && d.node === node.name)
  const rec = state.daemons[recIdx]
  if (!rec) throw new Error(`lab "${name}" runs no agent on ${node.name}`)
  if (!rec.argv?.length) throw new Error(`the agent record of ${node.name} has no argv (a lab started by an older netkube); recreate the lab`)

  const podNs = listNetns().filter((n) => n.startsWith(node.podNetnsPrefix))
  const supervisorTree = processAlive(rec.pid, rec.startTicks) ? processTree(rec.pid) : []
  const inNode = processesInNamespaces([node.netns])
  const inPods = processesInNamespaces(podNs)
  // The lab's other daemons on this node (and what they started) are not the node's.
  const spared = selfAndAncestors()
  for (const d of state.daemons) {
    if (d === rec || d.node !== node.name || !processAlive(d.pid, d.startTicks)) continue
    for (const p of processTree(d.pid)) spared.add(p)
  }
  const victims = chooseVictims({ supervisorTree, inNode, inPods, spared, agentOnly: depth === 'agent' })
  // Record identities before the first signal, so a recycled PID is never waited on.
  const ids = victims.flatMap((pid) => {
    const startTicks = procStartTicks(pid)
    return startTicks ? [{ pid, startTicks, what: pid === rec.pid ? 'supervisor' : commOf(pid) }] : []
  })
  const t0 = Date.now()
  for (const v of ids) {
    try {
      process.kill(v.pid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
  const left = await waitGone(ids, 10_000)
  if (left.length > 0) throw new Error(`${left.length} processes of ${node.name} survived SIGKILL: ${left.map((p) => p.pid).join(', ')}`)
  say(`${node.name}: killed ${ids.length} processes (${depth === 'agent' ? 'agent and supervisor' : `agent, supervisor and ${inPods.length} in ${podNs.length} pod namespaces`})`)

  const droppedNamespaces: string[] = []
  let droppedLinks: string[] = []
  if (depth === 'reboot') {
    for (const ns of podNs) {
      await deleteNetns(ns)
      droppedNamespaces.push(ns)
    }
    droppedLinks = await clearNodeKernelState(node)
    say(`${node.name}: reboot dropped ${droppedNamespaces.length} pod namespaces, links [${droppedLinks.join(' ')}] and the nft ruleset`)
  }

  const agent = spawnDaemon(rec.role, rec.node, node.netns, rec.argv, rec.log)
  const fresh = readLabState(stateDir) ?? state
  const i = fresh.daemons.findIndex((d) => d.role === 'agent' && d.node === node.name)
  if (i >= 0) fresh.daemons[i] = agent
  else fresh.daemons.push(agent)
  saveState(fresh)
  say(`${node.name}: agent started again (supervisor pid ${agent.pid}, pidfile ${componentPidfile(stateDir, 'agent', node.name)})`)

  const result: NodeRestartResult = { killed: ids.map(({ pid, what }) => ({ pid, what })), droppedNamespaces, droppedLinks, agent }
  if (o.waitReadyMs && state.kubeconfig) {
    result.readyAfterMs = (await waitNodeReady(state.kubeconfig, node.name, t0, o.waitReadyMs)) - t0
    say(`${node.name}: Ready again ${(result.readyAfterMs / 1000).toFixed(1)} s after the kill`)
  }
  return result
}

/** Until the Node is Ready on a heartbeat written after `since` (the new kubelet's). */
async function waitNodeReady(kubeconfig: string, nodeName: string, since: number, timeoutMs: number): Promise<number> {
  const nodes = createClient(loadKubeconfig(kubeconfig)).resource<Node>(resourceFor('nodes'))
  const deadline = Date.now() + timeoutMs
  // Heartbeats carry whole seconds: one in the second of the kill may predate it.
  const after = Math.floor(since / 1000) * 1000 + 1000
  while (Date.now() < deadline) {
    try {
      const ready = (await nodes.get(nodeName)).status?.conditions?.find((c) => c.type === 'Ready')
      if (ready?.status === 'True' && Date.parse(ready.lastHeartbeatTime ?? '') >= after) return Date.now()
    } catch {
      /* the API may be briefly away */
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`node ${nodeName} not Ready within ${timeoutMs} ms after its restart`)
}

/** Pod namespaces of a lab node and the host veths on its bridge: what the leak checks count. */
export function nodePodNamespaces(node: LabNode): string[] {
  return listNetns().filter((n) => n.startsWith(node.podNetnsPrefix))
}

/** IP allocation files of a node's host-local store (`<ipam>/<network>/<ip>`). */
export function nodeIpamFiles(stateDir: string, node: LabNode, network = 'netkube'): string[] {
  try {
    return readdirSync(join(stateDir, node.name, 'ipam', network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
  } catch {
    return []
  }
}

const USAGE = 'usage: netkube lab node restart NAME [--name lab] [--state-dir D] [--agent-only | --reboot] [--wait 60s]\n'

/** `netkube lab node restart NAME …` */
export async function main(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      'state-dir': { type: 'string' },
      'agent-only': { type: 'boolean' },
      reboot: { type: 'boolean' },
      wait: { type: 'string' },
    },
  })
  const [verb, nodeName, ...extra] = positionals
  if (verb !== 'restart' || !nodeName || extra.length > 0 || (v['agent-only'] && v.reboot)) {
    process.stderr.write(USAGE)
    return 2
  }
  const r = await labNodeRestart({
    node: nodeName,
    ...(v.name ? { name: v.name } : {}),
    ...(v['state-dir'] ? { stateDir: v['state-dir'] } : {}),
    depth: v.reboot ? 'reboot' : v['agent-only'] ? 'agent' : 'power',
    waitReadyMs: parseDuration(v.wait ?? '60s'),
  })
  process.stdout.write(`node/${nodeName} restarted: ${r.killed.length} processes killed${r.readyAfterMs !== undefined ? `, Ready after ${(r.readyAfterMs / 1000).toFixed(1)} s` : ''}\n`)
  return 0
}
