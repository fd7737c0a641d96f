// iptables mode, after upstream's iptables proxier: one `iptables-restore --noflush` input
// per sync. Declaring a chain (`:KUBE-SVC-… - [0:0]`) flushes it; a chain not declared is left
// as it is. So, like upstream with MinimizeIPTablesRestore, a partial sync declares and rewrites
// only the changed Services' own chains (KUBE-SVC/EXT/SEP) and always rewrites the shared ones
// (KUBE-SERVICES, KUBE-NODEPORTS, the filter chains), whose rules reference every Service. Stale
// chains are declared (flushed) and deleted (-X) in the same atomic restore. A full sync (at
// start, after a failure, hourly) rewrites everything and learns what exists from iptables-save,
// so it adopts what a predecessor left; partial syncs know the kernel from the last restore.
// Random balancing is a cascade of `-m statistic --mode random --probability 1/(n-i)` rules.
// Jumps from the built-in chains are ensured separately (-C, else -I) so they never duplicate.
import { netnsHandle } from '../net/door.js'
import type { RunResult } from '../util/exec.js'
import type { ProxyBackend, SyncInput, SyncStats } from './backend.js'
import { categorize, shortHash, type EndpointInfo, type ServicePortInfo } from './serviceport.js'

export const IPT = {
  services: 'KUBE-SERVICES',
  nodePorts: 'KUBE-NODEPORTS',
  postrouting: 'KUBE-POSTROUTING',
  markMasq: 'KUBE-MARK-MASQ',
  /** filter table: reject for services without endpoints */
  filterServices: 'KUBE-SERVICES',
  filterExternal: 'KUBE-EXTERNAL-SERVICES',
  masqMark: '0x4000/0x4000',
  /** nat: marks a packet to drop (the nat table refuses DROP); filter KUBE-PROXY-FIREWALL drops it. Not KUBE-MARK-DROP: that one is the kubelet's. */
  markDrop: 'KUBE-MARK-FW-DROP',
  filterFirewall: 'KUBE-PROXY-FIREWALL',
  dropMark: '0x8000/0x8000',
} as const

/** Built-in chain → our chain, per table (the jumps ensured outside the restore). */
export const IPT_JUMPS: readonly { table: 'nat' | 'filter'; chain: string; target: string; extra?: string[] }[] = [
  { table: 'nat', chain: 'PREROUTING', target: IPT.services },
  { table: 'nat', chain: 'OUTPUT', target: IPT.services },
  { table: 'nat', chain: 'POSTROUTING', target: IPT.postrouting },
  { table: 'filter', chain: 'INPUT', target: IPT.filterExternal, extra: ['-m', 'conntrack', '--ctstate', 'NEW'] },
  { table: 'filter', chain: 'FORWARD', target: IPT.filterServices, extra: ['-m', 'conntrack', '--ctstate', 'NEW'] },
  { table: 'filter', chain: 'OUTPUT', target: IPT.filterServices, extra: ['-m', 'conntrack', '--ctstate', 'NEW'] },
  { table: 'filter', chain: 'INPUT', target: IPT.filterServices, extra: ['-m', 'conntrack', '--ctstate', 'NEW'] },
  // loadBalancerSourceRanges: what KUBE-FW-* marked in nat is dropped here
  { table: 'filter', chain: 'INPUT', target: IPT.filterFirewall },
  { table: 'filter', chain: 'FORWARD', target: IPT.filterFirewall },
]

const spName = (sp: ServicePortInfo): string => `${sp.namespace}/${sp.name}:${sp.portName}`
export const svcChain = (sp: ServicePortInfo): string => `KUBE-SVC-${shortHash(`${spName(sp)}${sp.protocol}`, 16)}`
export const extChain = (sp: ServicePortInfo): string => `KUBE-EXT-${shortHash(`${spName(sp)}${sp.protocol}`, 16)}`
/** Local-policy balancing over this node's endpoints (upstream's KUBE-SVL-*). */
export const svlChain = (sp: ServicePortInfo): string => `KUBE-SVL-${shortHash(`${spName(sp)}${sp.protocol}`, 16)}`
/** loadBalancerSourceRanges check (upstream's KUBE-FW-*). */
export const fwChain = (sp: ServicePortInfo): string => `KUBE-FW-${shortHash(`${spName(sp)}${sp.protocol}`, 16)}`
export const sepChain = (sp: ServicePortInfo, ep: EndpointInfo): string =>
  `KUBE-SEP-${shortHash(`${spName(sp)}${sp.protocol}${ep.ip}:${ep.port}`, 16)}`
/** The per-Service chains: the only ones a partial sync may leave untouched or delete. */
export const isServiceChain = (chain: string): boolean => /^KUBE-(SVC|SVL|SEP|EXT|FW)-/.test(chain)

export interface IptablesConfig {
  clusterCIDR: string
  /**
   * false: every sync rewrites every chain (upstream with its MinimizeIPTablesRestore gate off).
   * Kept as the strawman bench:proxy compares partial syncs against. Default true.
   */
  minimizeRestore?: boolean
  /** --nodeport-addresses resolved: NodePorts only on these (undefined: every local address). */
  nodePortIPs?: readonly string[]
}

export interface IptablesPlan {
  /** Service keys whose own chains are rewritten; undefined = every Service (a full sync). */
  changed?: ReadonlySet<string>
  /** Our chains in the kernel before this restore (stale service chains among them are deleted). */
  existing?: readonly string[]
}

export interface IptablesRender {
  text: string
  /** Every nat chain of ours once the restore is applied. */
  natChains: string[]
  /** Service chains declared (flushed and rewritten) by this restore. */
  written: string[]
  /** Stale service chains this restore deletes. */
  deleted: string[]
  /** Rules in our chains once applied, written or kept. */
  rules: number
}

/** One Service's share: lines in the shared chains, and its own chains. */
interface ServiceRules {
  filter: string[]
  services: string[]
  nodePorts: string[]
  chains: Map<string, string[]>
}

const comment = (s: string): string => `-m comment --comment "${s}"`

function serviceRules(ports: readonly ServicePortInfo[], cfg: IptablesConfig): ServiceRules {
  const out: ServiceRules = { filter: [], services: [], nodePorts: [], chains: new Map() }
  const c = comment
  for (const sp of ports) {
    if (!sp.clusterIP) continue
    const cat = categorize(sp)
    const p = sp.protocol
    const name = spName(sp)
    const dst = (ip: string): string => `-d ${ip}/32 -p ${p} -m ${p} --dport ${sp.port}`
    const hasExternal = sp.nodePort !== undefined || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0
    // Upstream's filter verdicts: no usable endpoint anywhere → REJECT; a Local policy whose
    // endpoints are all on other nodes → DROP (the client retries; a reset would be final).
    const none = cat.cluster.length
      ? { target: 'DROP', text: `${name} has no local endpoints` }
      : { target: 'REJECT', text: `${name} has no endpoints` }
    if (!cat.internal.length) {
      out.filter.push(`-A ${IPT.filterServices} ${c(none.text)} ${dst(sp.clusterIP)} -j ${none.target}`)
    }
    if (hasExternal && !cat.external.length) {
      for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs]) out.filter.push(`-A ${IPT.filterServices} ${c(none.text)} ${dst(ip)} -j ${none.target}`)
      if (sp.nodePort !== undefined)
        out.filter.push(
          `-A ${IPT.filterExternal} ${c(none.text)} -m addrtype --dst-type LOCAL -p ${p} -m ${p} --dport ${sp.nodePort} -j ${none.target}`,
        )
    }
    if (!cat.cluster.length) continue
    const balance = (chain: string, over: readonly EndpointInfo[]): string[] =>
      over.map((ep, i) => {
        const n = over.length - i
        const prob = n > 1 ? ` -m statistic --mode random --probability ${(1 / n).toFixed(10)}` : ''
        return `-A ${chain} ${c(`${name} -> ${ep.ip}:${ep.port}`)}${prob} -j ${sepChain(sp, ep)}`
      })
    const affinity = (chain: string, over: readonly EndpointInfo[]): string[] =>
      sp.affinitySeconds === undefined
        ? []
        : over.map((ep) => `-A ${chain} ${c(`${name} -> ${ep.ip}:${ep.port}`)} -m recent --name ${sepChain(sp, ep)} --mask 255.255.255.255 --rsource --rcheck --seconds ${sp.affinitySeconds} --reap -j ${sepChain(sp, ep)}`)
    const seps = new Map<string, EndpointInfo>()
    // KUBE-SVC (cluster endpoints, narrowed by topology hints) is used by Cluster-policy
    // ClusterIP traffic and by every external entry (Local's pod/node short-circuit);
    // KUBE-SVL (this node's endpoints) by the Local policies.
    const svc = svcChain(sp)
    const usesCluster = !sp.internalLocal || hasExternal
    if (usesCluster) {
      out.chains.set(svc, [...affinity(svc, cat.cluster), ...balance(svc, cat.cluster)])
      for (const ep of cat.cluster) seps.set(sepChain(sp, ep), ep)
    }
    const svl = svlChain(sp)
    if ((sp.internalLocal || (hasExternal && sp.externalLocal)) && cat.local.length) {
      out.chains.set(svl, [...affinity(svl, cat.local), ...balance(svl, cat.local)])
      for (const ep of cat.local) seps.set(sepChain(sp, ep), ep)
    }
    if (cat.internal.length) {
      const internal = sp.internalLocal ? svl : svc
      out.services.push(`-A ${IPT.services} ${c(`${name} cluster IP`)} ${dst(sp.clusterIP)} -j ${internal}`)
      // ClusterIP traffic from outside the pod network must come back through this node
      out.chains.get(internal)!.unshift(`-A ${internal} ${c(`${name} cluster IP`)} ! -s ${cfg.clusterCIDR} ${dst(sp.clusterIP)} -j ${IPT.markMasq}`)
    }
    if (hasExternal && cat.external.length) {
      const ext = extChain(sp)
      if (!sp.externalLocal) out.chains.set(ext, [`-A ${ext} ${c('masquerade traffic for ' + name + ' external destinations')} -j ${IPT.markMasq}`, `-A ${ext} -j ${svc}`])
      else {
        // Local: the client's address is kept; pods and the node itself still use the cluster chain
        out.chains.set(ext, [
          `-A ${ext} ${c(`pod traffic for ${name} external destinations`)} -s ${cfg.clusterCIDR} -j ${svc}`,
          `-A ${ext} ${c(`masquerade LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${IPT.markMasq}`,
          `-A ${ext} ${c(`route LOCAL traffic for ${name} external destinations`)} -m addrtype --src-type LOCAL -j ${svc}`,
          `-A ${ext} -j ${svl}`,
        ])
      }
      for (const ip of sp.externalIPs) out.services.push(`-A ${IPT.services} ${c(`${name} external IP`)} ${dst(ip)} -j ${ext}`)
      let lbTarget = ext
      if (sp.loadBalancerIPs.length && sp.sourceRanges.length) {
        lbTarget = fwChain(sp)
        out.chains.set(lbTarget, [
          ...sp.sourceRanges.map((r) => `-A ${lbTarget} ${c(`${name} loadbalancer IP`)} -s ${r} -j ${ext}`),
          `-A ${lbTarget} ${c(`${name} loadbalancer IP`)} -j ${IPT.markDrop}`,
        ])
      }
      for (const ip of sp.loadBalancerIPs) out.services.push(`-A ${IPT.services} ${c(`${name} loadbalancer IP`)} ${dst(ip)} -j ${lbTarget}`)
      if (sp.nodePort !== undefined) out.nodePorts.push(`-A ${IPT.nodePorts} ${c(name)} -p ${p} -m ${p} --dport ${sp.nodePort} -j ${ext}`)
    }
    for (const [, ep] of seps) {
      const sep = sepChain(sp, ep)
      const recent = sp.affinitySeconds !== undefined ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set` : ''
      out.chains.set(sep, [`-A ${sep} ${c(name)} -s ${ep.ip}/32 -j ${IPT.markMasq}`, `-A ${sep} ${c(name)} -p ${p} -m ${p}${recent} -j DNAT --to-destination ${ep.ip}:${ep.port}`])
    }
  }
  return out
}

/**
 * Render the restore input for every Service's ports (`ports`: Service key → its ports).
 * A Service's own chains are written when the plan says it changed, or when the kernel lacks
 * them (so a partial sync never references a chain that is not there).
 */
/** KUBE-SERVICES → KUBE-NODEPORTS, upstream's: every local address, or one rule per --nodeport-addresses IP. */
function nodePortJumps(ips: readonly string[] | undefined): string[] {
  const c = comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')
  if (!ips) return [`-A ${IPT.services} ${c} -m addrtype --dst-type LOCAL -j ${IPT.nodePorts}`]
  return ips.map((ip) => `-A ${IPT.services} ${c} -d ${ip}/32 -j ${IPT.nodePorts}`)
}

export function renderIptables(ports: ReadonlyMap<string, readonly ServicePortInfo[]>, cfg: IptablesConfig, plan: IptablesPlan = {}): IptablesRender {
  const existing = new Set(plan.existing ?? [])
  const shared = [IPT.services, IPT.nodePorts, IPT.postrouting, IPT.markMasq, IPT.markDrop]
  const filter: string[] = []
  const services: string[] = []
  const nodePorts: string[] = []
  const written: string[] = []
  const body: string[] = []
  const wanted = new Set<string>()
  let kept = 0
  for (const [key, sps] of ports) {
    const r = serviceRules(sps, cfg)
    filter.push(...r.filter)
    services.push(...r.services)
    nodePorts.push(...r.nodePorts)
    const rewrite = !plan.changed || plan.changed.has(key)
    for (const [chain, rules] of r.chains) {
      wanted.add(chain)
      if (rewrite || !existing.has(chain)) {
        written.push(chain)
        body.push(...rules)
      } else kept += rules.length
    }
  }
  const deleted = [...existing].filter((ch) => isServiceChain(ch) && !wanted.has(ch)).sort()
  const nat = [
    `-A ${IPT.postrouting} -m mark ! --mark ${IPT.masqMark} -j RETURN`,
    `-A ${IPT.postrouting} -j MARK --xor-mark 0x4000`,
    `-A ${IPT.postrouting} ${comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
    `-A ${IPT.markMasq} -j MARK --or-mark 0x4000`,
    `-A ${IPT.markDrop} -j MARK --or-mark 0x8000`,
    ...services,
    // last: NodePorts only after every ClusterIP/externalIP match
    ...nodePortJumps(cfg.nodePortIPs),
    ...nodePorts,
    ...body,
  ]
  const text = [
    '*filter',
    `:${IPT.filterServices} - [0:0]`,
    `:${IPT.filterExternal} - [0:0]`,
    `:${IPT.filterFirewall} - [0:0]`,
    `-A ${IPT.filterFirewall} ${comment('loadbalancer source ranges: marked in nat')} -m mark --mark ${IPT.dropMark} -j DROP`,
    ...filter,
    'COMMIT',
    '*nat',
    ...[...shared, ...written, ...deleted].map((ch) => `:${ch} - [0:0]`),
    ...nat,
    ...deleted.map((ch) => `-X ${ch}`),
    'COMMIT',
    '',
  ].join('\n')
  return { text, natChains: [...shared, ...wanted], written, deleted, rules: filter.length + 1 + nat.length + kept }
}

/** Applies restore input and lists chains; the real one runs legacy iptables inside a netns. */
export interface IptablesRunner {
  restore(text: string): Promise<void>
  natChains(): Promise<string[]>
  ensureJump(j: (typeof IPT_JUMPS)[number]): Promise<void>
}

export class IptablesExec implements IptablesRunner {
  /** Legacy iptables: the kernel here has the xtables `statistic` match built in. */
  constructor(
    readonly netns: string | undefined,
    readonly bin = 'iptables-legacy',
  ) {}
  private cmd(file: string, args: string[], input?: string): Promise<RunResult> {
    const opts = { input: input ?? '', allowFailure: true, timeoutMs: 300_000 }
    return netnsHandle(this.netns).run(file, args, opts)
  }
  async restore(text: string): Promise<void> {
    const r = await this.cmd(`${this.bin}-restore`, ['--noflush', '-w'], text)
    if (r.code !== 0) throw new Error(`${this.bin}-restore: ${r.stderr.trim().split('\n').slice(0, 4).join(' | ')}`)
  }
  async natChains(): Promise<string[]> {
    const r = await this.cmd(`${this.bin}-save`, ['-t', 'nat'])
    if (r.code !== 0) return []
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith(':KUBE-'))
      .map((l) => l.slice(1).split(' ')[0]!)
  }
  async ensureJump(j: (typeof IPT_JUMPS)[number]): Promise<void> {
    const spec = [...(j.extra ?? []), '-m', 'comment', '--comment', 'netkube proxy', '-j', j.target]
    const check = await this.cmd(this.bin, ['-w', '-t', j.table, '-C', j.chain, ...spec])
    if (check.code === 0) return
    const ins = await this.cmd(this.bin, ['-w', '-t', j.table, '-I', j.chain, ...spec])
    if (ins.code !== 0) throw new Error(`${this.bin} -t ${j.table} -I ${j.chain} -j ${j.target}: ${ins.stderr.trim()}`)
  }
}

export class IptablesBackend implements ProxyBackend {
  readonly mode = 'iptables' as const
  private jumpsEnsured = false
  /** Our service chains in the kernel after the last successful restore; unknown → full sync. */
  private known: Set<string> | undefined
  /** What the last successful sync wrote (the bench reports it). */
  last: { full: boolean; written: number; deleted: number } | undefined
  constructor(
    readonly runner: IptablesRunner,
    readonly cfg: IptablesConfig,
  ) {}

  async sync(input: SyncInput): Promise<SyncStats> {
    const full = input.full || !this.known || this.cfg.minimizeRestore === false
    const existing = full ? (await this.runner.natChains()).filter(isServiceChain) : [...this.known!]
    const r = renderIptables(input.ports, { ...this.cfg, nodePortIPs: input.nodePortIPs }, { existing, changed: full ? undefined : input.changed })
    try {
      await this.runner.restore(r.text)
    } catch (err) {
      // the restore is atomic, but forget what we knew: the next sync re-reads the kernel
      this.known = undefined
      throw err
    }
    this.known = new Set(r.natChains.filter(isServiceChain))
    if (!this.jumpsEnsured || input.full) {
      for (const j of IPT_JUMPS) await this.runner.ensureJump(j)
      this.jumpsEnsured = true
    }
    this.last = { full, written: r.written.length, deleted: r.deleted.length }
    return { rules: r.rules, chains: r.natChains.length, written: r.text.length }
  }
}
