// `netkube trace FROM TO`: why a packet goes where it goes, hop by hop, from the kernel state of
// the nodes it crosses (issue 18).
//
// Design note. The trace is three layers:
//   1. resolve (this file, API reads): FROM and TO into endpoints — a pod, a node, `outside`;
//      a name through the pod's own resolv.conf (search path, ndots) and the cluster DNS's real
//      answer, a Service, a pod, an IP (ClusterIP, pod IP, node IP for a NodePort, LB IP).
//   2. read (reader.ts → src/net/inspect.ts): each node's dataplane live — `ip route get`,
//      kube-proxy's and netpol's nft tables, neighbour and FDB entries, the VXLAN device, the
//      bridge port, the listening sockets of the destination pod. Nothing is recomputed from the
//      API where the kernel can be asked; the API only names things (which pod an IP is, which
//      policy selects a pod).
//   3. explain (pure: proxy-view.ts, netpol-view.ts, parse.ts): kernel text → hops. Names of
//      chains, maps and sets are the proxy's and netpol's own constants and functions.
// The path follows one endpoint when a Service has several (all candidates are listed with
// their probabilities): with --probe the one the real packet took, else one on another node
// than the source when there is one (the interesting path), else the first.
// --probe (probe.ts) sends a real packet with nftables tracing and compares its events with
// the hops predicted here.
// Node access: the lab's node namespaces directly (TraceContext.nodes[].netns). The Vagrant VMs
// would need the same reads behind an agent endpoint; not built yet.
import { dirname, join } from 'node:path'
import { existsSync } from 'node:fs'
import type { Client } from '../client/interfaces.js'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { resourceFor } from '../api/resources.js'
import type { NetworkPolicy, Node, Pod, Service } from '../api/types.js'
import { cidrContains, isIp4, parseCidr } from '../net/ip.js'
import { readLabState } from '../lab/lab.js'
import { NamespaceReader } from './reader.js'
import { parseDig, parseResolvConf, searchCandidates, listenerFor, shortLink } from './parse.js'
import { endpointHop, masqueradeHop, PROXY_TABLE, proxyView, type EndpointChoice } from './proxy-view.js'
import { NETPOL_TABLE, netpolHop, netpolQuestion } from './netpol-view.js'
import type { Endpoint, Hop, TraceOutcome, TraceRequest, TraceResult } from './types.js'

export type { TraceRequest, TraceResult } from './types.js'

export interface TraceNode {
  name: string
  ip: string
  /** its network namespace (the lab: plan.nodes[].netns) */
  netns: string
}

export interface TraceContext {
  client: Client
  nodes: TraceNode[]
  /** the lab's outside client namespace */
  outside?: { netns: string; ip: string }
  clusterCIDR: string
  /** the kubelet's sandbox namespace of a pod (the lab: <node podNetnsPrefix><uid 12>) */
  podNetns(pod: Pod): string | undefined
  /** an endpoint chosen by a probe, to follow instead of guessing (probe.ts sets it) */
  follow?: { ip: string; port: number }
}

/** A context for the lab whose kubeconfig is `path` (its lab.json beside it). */
export function traceContextFromKubeconfig(path: string): TraceContext {
  const client = createClient(loadKubeconfig(path))
  const stateFile = join(dirname(path), 'lab.json')
  const state = existsSync(stateFile) ? readLabState(dirname(path)) : undefined
  if (!state) throw new Error(`netkube trace reads node namespaces of a lab: no lab state beside ${path} (the Vagrant VMs are not supported yet)`)
  const plan = state.plan
  return {
    client,
    nodes: plan.nodes.map((n) => ({ name: n.name, ip: n.ip, netns: n.netns })),
    ...(plan.outside ? { outside: { netns: plan.outside.netns, ip: plan.outside.ip } } : {}),
    clusterCIDR: plan.clusterCIDR,
    podNetns(pod) {
      const node = plan.nodes.find((n) => n.name === pod.spec.nodeName)
      return node && pod.metadata.uid ? `${node.podNetnsPrefix}${pod.metadata.uid.replace(/-/g, '').slice(0, 12)}` : undefined
    },
  }
}

interface World {
  pods: Pod[]
  services: Service[]
  nodes: Node[]
  policies: NetworkPolicy[]
}

async function readWorld(c: Client): Promise<World> {
  const [pods, services, nodes, policies] = await Promise.all([
    c.resource<Pod>(resourceFor('pods')).list(),
    c.resource<Service>(resourceFor('services')).list(),
    c.resource<Node>(resourceFor('nodes')).list(),
    c.resource<NetworkPolicy>(resourceFor('networkpolicies')).list(),
  ])
  return { pods: pods.items, services: services.items, nodes: nodes.items, policies: policies.items }
}

export class TraceError extends Error {}

interface Source {
  ep: Endpoint
  /** the namespace the packet starts in */
  netns: string
  ip: string
  /** the node it enters first (a pod's node, the node itself); outside: decided by the destination */
  node?: TraceNode
  pod?: Pod
}

function resolveFrom(from: string, w: World, ctx: TraceContext): Source {
  if (from === 'outside') {
    if (!ctx.outside) throw new TraceError('this cluster has no outside client namespace')
    return { ep: { kind: 'outside', ip: ctx.outside.ip }, netns: ctx.outside.netns, ip: ctx.outside.ip }
  }
  const node = ctx.nodes.find((n) => n.name === from)
  if (node) return { ep: { kind: 'node', name: node.name, ip: node.ip }, netns: node.netns, ip: node.ip, node }
  const [ns, name] = from.includes('/') ? (from.split('/', 2) as [string, string]) : ['default', from]
  const pod = w.pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name)
  if (!pod) throw new TraceError(`FROM "${from}": no pod ${ns}/${name}, no node ${from}, and not "outside"`)
  const ip = pod.status?.podIP
  const netns = ctx.podNetns(pod)
  const pnode = ctx.nodes.find((n) => n.name === pod.spec.nodeName)
  if (!ip || !netns || !pnode) throw new TraceError(`pod ${ns}/${name} has no IP or node yet`)
  return { ep: { kind: 'pod', namespace: ns, name, ip, node: pnode.name }, netns, ip, node: pnode, pod }
}

const proto = (p?: string): 'tcp' | 'udp' => (p?.toUpperCase() === 'UDP' ? 'udp' : 'tcp')
const podKey = (p: Pod): string => `${p.metadata.namespace}/${p.metadata.name}`
const svcKey = (s: Service): string => `${s.metadata.namespace}/${s.metadata.name}`

function serviceByIP(w: World, ip: string): Service | undefined {
  return w.services.find((s) => s.spec.clusterIP === ip || s.spec.externalIPs?.includes(ip) || s.status?.loadBalancer?.ingress?.some((i) => i.ip === ip))
}

const podByIP = (w: World, ip: string): Pod | undefined => w.pods.find((p) => p.status?.podIP === ip && !p.spec.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')

/** The packet a probe sends: from FROM's namespace to the first address and port of the path. */
export interface ProbePacket {
  netns: string
  src: string
  dst: string
  port: number
  proto: 'tcp' | 'udp'
}

/** Run a trace. */
export async function trace(req: TraceRequest, ctx: TraceContext): Promise<TraceResult> {
  return (await tracePath(req, ctx)).result
}

/** A trace and the packet that would take its path (for --probe). */
export async function tracePath(req: TraceRequest, ctx: TraceContext): Promise<{ result: TraceResult; packet?: ProbePacket }> {
  let packet: ProbePacket | undefined
  const result = await traceInner(req, ctx, (p) => (packet = p))
  return { result, ...(packet ? { packet } : {}) }
}

async function traceInner(req: TraceRequest, ctx: TraceContext, setPacket: (p: ProbePacket) => void): Promise<TraceResult> {
  const w = await readWorld(ctx.client)
  const src = resolveFrom(req.from, w, ctx)
  const hops: Hop[] = []
  const readers = new Map<string, NamespaceReader>()
  const rd = (ref: string): NamespaceReader => {
    let r = readers.get(ref)
    if (!r) readers.set(ref, (r = new NamespaceReader(ref)))
    return r
  }
  const done = (to: Endpoint, outcome: TraceOutcome): TraceResult => ({ request: req, from: src.ep, to, hops, outcome })
  let l4: 'tcp' | 'udp' = req.proto ?? 'tcp'

  // ---- DNS and what TO names
  let dstIP: string | undefined
  let to: Endpoint | undefined
  let svc: Service | undefined
  if (isIp4(req.to)) dstIP = req.to
  else if (req.to.includes('/') && !req.to.includes('.')) {
    const [ns, name] = req.to.split('/', 2) as [string, string]
    svc = w.services.find((s) => s.metadata.namespace === ns && s.metadata.name === name)
    const pod = svc ? undefined : w.pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name)
    if (svc) to = { kind: 'service', namespace: ns, name, ...(svc.spec.clusterIP && svc.spec.clusterIP !== 'None' ? { clusterIP: svc.spec.clusterIP } : {}) }
    else if (pod?.status?.podIP) {
      dstIP = pod.status.podIP
      to = { kind: 'pod', namespace: ns, name, ip: dstIP, ...(pod.spec.nodeName ? { node: pod.spec.nodeName } : {}) }
    } else throw new TraceError(`TO "${req.to}": no Service or pod ${ns}/${name}`)
    if (svc) dstIP = (src.ep.kind === 'outside' ? svc.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip : undefined) ?? (svc.spec.clusterIP !== 'None' ? svc.spec.clusterIP : undefined)
  } else if (src.pod) {
    // a name, resolved the way the pod's resolver does it
    const pr = rd(src.netns)
    const rcText = await pr.podFile('/etc/resolv.conf')
    const rc = parseResolvConf(rcText)
    const server = rc.nameservers[0]
    const cands = searchCandidates(req.to, rc)
    hops.push({ stage: 'dns', kind: 'resolv', summary: `pod resolv.conf: nameserver ${server ?? '-'}, ndots:${rc.ndots}, search ${rc.search.join(' ') || '-'} → asks ${cands.join(', ')}`, object: rcText.trim(), detail: { candidates: cands.join(' ') } })
    if (!server) return done({ kind: 'ip', ip: req.to }, 'unresolved')
    for (const q of cands) {
      const a = parseDig(await pr.dig(q, server))
      if (a.status === 'NOERROR' && a.addresses.length) {
        dstIP = a.addresses[0]!
        const owner = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\./.exec(q)
        const named = owner ? w.services.find((s) => s.metadata.name === owner[1] && s.metadata.namespace === owner[2]) : undefined
        if (named) {
          svc = named
          to = { kind: 'service', namespace: owner![2]!, name: owner![1]!, ...(named.spec.clusterIP && named.spec.clusterIP !== 'None' ? { clusterIP: named.spec.clusterIP } : {}) }
        }
        hops.push({ stage: 'dns', kind: 'dns-answer', summary: `${q} A → ${a.addresses.join(', ')} (from ${server}, ${a.answers.length} record${a.answers.length === 1 ? '' : 's'})`, object: a.answers.join('\n'), detail: { query: q, server, status: a.status } })
        break
      }
      hops.push({ stage: 'dns', kind: 'dns-answer', summary: `${q} A → ${a.status}${a.status === 'NOERROR' ? ' (no A record)' : ''}`, detail: { query: q, server, status: a.status } })
    }
    if (!dstIP) return done({ kind: 'ip', ip: req.to }, 'unresolved')
  } else {
    // from a node or outside: a Service in default, by name
    svc = w.services.find((s) => s.metadata.namespace === 'default' && s.metadata.name === req.to)
    if (!svc) throw new TraceError(`TO "${req.to}": names resolve only from a pod (its resolv.conf); from ${req.from} give ns/service, a pod or an IP`)
    to = { kind: 'service', namespace: 'default', name: req.to, ...(svc.spec.clusterIP && svc.spec.clusterIP !== 'None' ? { clusterIP: svc.spec.clusterIP } : {}) }
    if (src.ep.kind === 'outside') dstIP = svc.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip
    if (!dstIP && svc.spec.clusterIP !== 'None') dstIP = svc.spec.clusterIP
  }

  // ---- classify the address
  let port = req.port
  let dstNode: TraceNode | undefined = dstIP ? ctx.nodes.find((n) => n.ip === dstIP) : undefined
  if (dstIP && !svc) svc = serviceByIP(w, dstIP)
  if (svc && !to) to = { kind: 'service', namespace: svc.metadata.namespace!, name: svc.metadata.name!, ...(svc.spec.clusterIP && svc.spec.clusterIP !== 'None' ? { clusterIP: svc.spec.clusterIP } : {}) }
  const headless = svc && (!svc.spec.clusterIP || svc.spec.clusterIP === 'None')
  if (headless && svc) hops.push({ stage: 'dns', kind: 'headless', summary: `${svcKey(svc)} is headless (clusterIP None): no kube-proxy rules, DNS answers with the ready pods' addresses and the client connects to one directly` })
  if (svc && port === undefined) {
    const sp = svc.spec.ports?.[0]
    port = headless ? (typeof sp?.targetPort === 'number' ? sp.targetPort : sp?.port) : sp?.port
    l4 = req.proto ?? proto(sp?.protocol)
  }
  if (dstNode && port !== undefined && !svc) {
    const np = w.services.find((s) => s.spec.ports?.some((p) => p.nodePort === port))
    if (np) {
      svc = np
      l4 = req.proto ?? proto(np.spec.ports!.find((p) => p.nodePort === port)!.protocol)
    }
    to = { kind: 'node', name: dstNode.name, ip: dstNode.ip }
  }
  if (src.ep.kind === 'outside' && svc && !dstNode && dstIP === svc.spec.clusterIP) {
    // outside cannot reach a ClusterIP: use a NodePort when there is one
    const np = svc.spec.ports?.find((p) => p.nodePort)
    if (np) {
      dstNode = ctx.nodes[0]!
      dstIP = dstNode.ip
      port = np.nodePort
      l4 = req.proto ?? proto(np.protocol)
      hops.push({ stage: 'source', kind: 'route', summary: `outside cannot reach ClusterIP ${svc.spec.clusterIP}: using NodePort ${dstNode.ip}:${port}` })
    }
  }
  if (!dstIP) return done(to ?? { kind: 'ip', ip: req.to }, 'unresolved')
  if (!to) {
    const p = podByIP(w, dstIP)
    to = p ? { kind: 'pod', namespace: p.metadata.namespace!, name: p.metadata.name!, ip: dstIP, ...(p.spec.nodeName ? { node: p.spec.nodeName } : {}) } : { kind: 'ip', ip: dstIP }
  }
  const dstPodFirst = podByIP(w, dstIP)
  if (port === undefined) {
    const cp = dstPodFirst?.spec.containers.flatMap((c) => c.ports ?? [])[0]
    port = cp?.containerPort
    if (cp) l4 = req.proto ?? proto(cp.protocol)
  }
  if (port === undefined) throw new TraceError(`no port: give --port (TO ${req.to} has no Service or container port to take it from)`)

  setPacket({ netns: src.netns, src: src.ip, dst: dstIP, port, proto: l4 })

  // ---- source: the first namespace
  if (src.pod) {
    const r = await rd(src.netns).route(dstIP)
    hops.push({ stage: 'source', kind: 'route', summary: `in pod ${podKey(src.pod)}: ${dstIP} ${r?.via ? `via ${r.via} ` : ''}dev ${r?.dev ?? '?'}${r?.src ? ` src ${r.src}` : ''}`, object: r?.line, detail: { netns: 'pod' } })
  }
  let entry = src.node
  if (src.ep.kind === 'outside') {
    // who answers ARP for the destination on the underlay
    const outside = rd(src.netns)
    const r = await outside.route(dstIP)
    hops.push({ stage: 'source', kind: 'route', summary: `outside: ${dstIP} ${r?.via ? `via ${r.via} ` : ''}dev ${r?.dev ?? '?'}`, object: r?.line })
    for (const n of ctx.nodes) if ((await rd(n.netns).addressList()).some((a) => a.ip === dstIP)) entry = n
    if (!entry) return done(to, 'unknown')
    const neigh = (await outside.neigh({ to: dstIP }))[0]
    const owner = (await rd(entry.netns).addressList()).find((a) => a.ip === dstIP)
    hops.push({
      stage: 'source',
      node: entry.name,
      kind: 'arp',
      summary: `ARP for ${dstIP} is answered by ${entry.name} (${owner?.dev} holds ${dstIP}/${owner?.prefix})${neigh?.lladdr ? `; outside's neighbour entry: ${neigh.lladdr} ${neigh.state ?? ''}` : ''}`,
      object: neigh?.line ?? `${dstIP}/${owner?.prefix} dev ${owner?.dev}`,
    })
  }
  if (!entry) return done(to, 'unknown')
  const enode = entry
  const en = rd(enode.netns)
  let final = { ip: dstIP, port }
  let masq = false
  let srcAfter = src.ip
  const proxyT = await en.table(PROXY_TABLE.family, PROXY_TABLE.name)
  const dstLocal = (await en.addressList()).some((a) => a.ip === dstIP)
  if (proxyT && !headless) {
    const v = proxyView(proxyT, { node: enode.name, dst: dstIP, proto: l4, port, src: src.ip, clusterCIDR: ctx.clusterCIDR, dstLocal })
    for (const h of v.hops) hops.push(h)
    if (v.rejected || (v.handled && !v.endpoints.length)) return done(to, v.rejected ? 'rejected' : 'blocked')
    if (v.endpoints.length) {
      const pick = choose(v.endpoints, w, enode.name, ctx.follow)
      const epPod = podByIP(w, pick.ep.ip)
      const cands = hops[hops.length - 1]!.candidates
      for (const c of cands ?? []) {
        const p = podByIP(w, c.ip)
        if (p) Object.assign(c, { pod: podKey(p), ...(p.spec.nodeName ? { node: p.spec.nodeName } : {}) })
      }
      for (const h of endpointHop(proxyT, enode.name, pick.ep, src.ip, `${pick.why}${epPod ? `; pod ${podKey(epPod)} on ${epPod.spec.nodeName}` : ''}`)) hops.push(h)
      final = { ip: pick.ep.ip, port: pick.ep.port }
      masq = v.masquerade
    }
  }
  const dstPod = podByIP(w, final.ip)
  const toNode = dstPod ? ctx.nodes.find((n) => n.name === dstPod.spec.nodeName) : ctx.nodes.find((n) => n.ip === final.ip)

  // egress policy on the source node (forward hook, after DNAT)
  if (src.pod && dstPod) {
    const q = netpolQuestion('egress', src.ip, final.ip, l4, final.port)
    const h = await policyHop(en, enode.name, 'source', q, src.pod, w.policies)
    if (h) {
      hops.push(h)
      if (h.verdict === 'reject') return done(to, 'blocked')
    }
  }

  // routing out of the first node
  const bridge = (await en.linkList()).find((l) => l.kind === 'bridge')?.name
  const iif = src.pod ? bridge : src.ep.kind === 'outside' ? 'eth0' : undefined
  const rt = await en.route(final.ip, { ...(iif && src.ep.kind !== 'node' ? { from: src.ip, iif } : {}) })
  if (masq && proxyT) {
    const m = masqueradeHop(proxyT, enode.name)
    const out = rt?.dev ? (await en.addressList()).find((a) => a.dev === rt.dev) : undefined
    if (out) {
      m.summary += `: ${src.ip} → ${out.ip}`
      srcAfter = out.ip
    }
    hops.push(m)
  }
  hops.push({ stage: 'source', node: enode.name, kind: 'route', summary: `${final.ip}${iif ? ` from ${src.ip} iif ${iif}` : ''}: ${rt?.type === 'error' ? rt.line : `${rt?.type === 'local' ? 'local ' : ''}${rt?.via ? `via ${rt.via} ` : ''}dev ${rt?.dev ?? '?'}`}`, object: rt?.line })
  if (rt?.type === 'error') return done(to, 'unknown')

  let destNode = enode
  if (toNode && toNode.name !== enode.name && rt?.dev) {
    const links = await en.linkList()
    const dev = links.find((l) => l.name === rt.dev)
    const nextHop = rt.via ?? final.ip
    const neigh = (await en.neigh({ to: nextHop, dev: rt.dev }))[0]
    if (dev?.vxlan) {
      const fdb = neigh?.lladdr ? (await en.fdb({ dev: rt.dev })).find((f) => f.mac === neigh.lladdr!.toLowerCase() && f.dst) : undefined
      hops.push({ stage: 'source', node: enode.name, kind: 'neighbour', summary: `neighbour ${nextHop} on ${rt.dev}: ${neigh?.lladdr ?? 'none'} (the remote VTEP's MAC)`, object: neigh?.line ?? '' })
      hops.push({ stage: 'source', node: enode.name, kind: 'fdb', summary: `FDB ${neigh?.lladdr ?? '?'} dev ${rt.dev} → dst ${fdb?.dst ?? '?'}`, object: fdb?.line ?? '' })
      const remote = ctx.nodes.find((n) => n.ip === fdb?.dst)
      hops.push({
        stage: 'wire',
        node: enode.name,
        kind: 'vxlan',
        summary: `VXLAN VNI ${dev.vxlan.vni}: outer ${dev.vxlan.local ?? enode.ip} → ${fdb?.dst ?? '?'} udp/${dev.vxlan.port ?? 8472} (to ${remote?.name ?? '?'}), inner ${srcAfter} → ${final.ip}:${final.port}/${l4}`,
        object: shortLink(dev.line),
        detail: { vni: String(dev.vxlan.vni), outerSrc: dev.vxlan.local ?? enode.ip, outerDst: fdb?.dst ?? '', port: String(dev.vxlan.port ?? 8472) },
      })
      if (remote) destNode = remote
    } else {
      hops.push({ stage: 'wire', node: enode.name, kind: 'host-gw', summary: `host-gw: next hop ${nextHop} dev ${rt.dev}${neigh?.lladdr ? ` (${neigh.lladdr})` : ''}`, object: neigh?.line ?? rt.line })
      const remote = ctx.nodes.find((n) => n.ip === nextHop)
      if (remote) destNode = remote
    }
  }

  // ---- destination
  if (!dstPod) {
    return done(to, rt?.type === 'local' ? 'delivered' : 'unknown')
  }
  const dn = rd(destNode.netns)
  if (destNode !== enode) {
    const r = await dn.route(final.ip)
    hops.push({ stage: 'destination', node: destNode.name, kind: 'route', summary: `decapsulated; ${final.ip}: ${r?.via ? `via ${r.via} ` : ''}dev ${r?.dev ?? '?'}`, object: r?.line })
  }
  const iq = netpolQuestion('ingress', final.ip, srcAfter, l4, final.port)
  const ih = await policyHop(dn, destNode.name, 'destination', iq, dstPod, w.policies)
  if (ih) {
    hops.push(ih)
    if (ih.verdict === 'reject') return done(to, 'blocked')
  }
  const pns = ctx.podNetns(dstPod)
  if (!pns) return done(to, 'unknown')
  const dBridge = (await dn.linkList()).find((l) => l.kind === 'bridge')
  if (dBridge) {
    const neigh = (await dn.neigh({ to: final.ip, dev: dBridge.name }))[0]
    // no neighbour entry yet (nothing talked to the pod): its MAC is its eth0's
    const podEth = (await rd(pns).linkList()).find((l) => l.name === 'eth0')
    const mac = (neigh?.lladdr ?? podEth?.mac)?.toLowerCase()
    const learnt = mac ? (await dn.fdb({ br: dBridge.name })).find((f) => f.mac === mac && f.master === dBridge.name && !f.permanent) : undefined
    // not learnt yet: the veth is eth0's peer (eth0@ifN is its index on the node)
    const veth = learnt?.dev ? (await dn.linkList()).find((l) => l.name === learnt.dev) : (await dn.linkList()).find((l) => podEth?.peerIndex !== undefined && l.index === podEth.peerIndex)
    const how = learnt ? `learnt on port ${learnt.dev}` : veth ? `not learnt yet; eth0's peer is port ${veth.name}` : 'port unknown'
    hops.push({ stage: 'destination', node: destNode.name, kind: 'bridge', summary: `bridge ${dBridge.name}: ${final.ip} is ${mac ?? '?'} (${neigh ? `neighbour ${neigh.state ?? ''}`.trim() : 'no neighbour entry: the pod eth0 MAC'}), ${how}`, object: [neigh?.line, learnt?.line].filter(Boolean).join('\n') || undefined })
    if (veth) hops.push({ stage: 'destination', node: destNode.name, kind: 'veth', summary: `veth ${veth.name} → eth0 in pod ${podKey(dstPod)} (netns ${pns})`, object: shortLink(veth.line) })
  }
  const socks = await rd(pns).sockets()
  const lis = listenerFor(socks, l4, final.ip, final.port)
  if (!lis) {
    hops.push({ stage: 'destination', node: destNode.name, kind: 'socket', verdict: l4 === 'tcp' ? 'reject' : 'drop', summary: `nothing listens on ${final.port}/${l4} in pod ${podKey(dstPod)}${l4 === 'tcp' ? ' (the kernel answers with a TCP reset)' : ' (ICMP port unreachable)'}`, object: socks.map((s) => s.line).join('\n') || '(no sockets)' })
    return done(to, 'no-listener')
  }
  hops.push({ stage: 'destination', node: destNode.name, kind: 'socket', verdict: 'pass', summary: `${l4} socket ${lis.address}:${lis.port} in pod ${podKey(dstPod)} takes it`, object: lis.line })
  return done(to, 'delivered')
}

function choose(eps: EndpointChoice[], w: World, node: string, follow?: { ip: string; port: number }): { ep: EndpointChoice; why: string } {
  const f = follow && eps.find((e) => e.ip === follow.ip && e.port === follow.port)
  if (f) return { ep: f, why: 'the endpoint the probe took' }
  if (eps.length === 1) return { ep: eps[0]!, why: 'the only endpoint' }
  const remote = eps.find((e) => podByIP(w, e.ip)?.spec.nodeName !== node)
  if (remote) return { ep: remote, why: `following 1 of ${eps.length}, one on another node` }
  return { ep: eps[0]!, why: `following 1 of ${eps.length}` }
}

async function policyHop(r: NamespaceReader, node: string, stage: Hop['stage'], q: ReturnType<typeof netpolQuestion>, pod: Pod, policies: NetworkPolicy[]): Promise<Hop | undefined> {
  const t = await r.table(NETPOL_TABLE.family, NETPOL_TABLE.name)
  if (!t) return undefined
  const isolated = t.sets.get(q.isolated.set)?.elements.has(q.isolated.key) ?? false
  const all = isolated ? await r.element(NETPOL_TABLE.family, NETPOL_TABLE.name, q.all.set, q.all.key) : undefined
  const ports = isolated && !all ? await r.element(NETPOL_TABLE.family, NETPOL_TABLE.name, q.ports.set, q.ports.key) : undefined
  return netpolHop(node, stage, q, { isolated, ...(all ? { all } : {}), ...(ports ? { ports } : {}) }, pod, policies)
}

/** For tests and the CLI: whether an address is in the pod network. */
export function inPodNetwork(ctx: TraceContext, ip: string): boolean {
  return cidrContains(parseCidr(ctx.clusterCIDR), ip)
}

export { svcKey }
