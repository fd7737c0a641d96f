// iptables mode, after upstream's iptables proxier: one `iptables-restore --noflush` input
// per sync. Declaring a chain (`:KUBE-SVC-… - [0:0]`) flushes it, so every sync rewrites our
// chains wholesale and deletes the stale ones (-X) in the same atomic restore. Random
// balancing is a cascade of `-m statistic --mode random --probability 1/(n-i)` rules.
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
]

const spName = (sp: ServicePortInfo): string => `${sp.namespace}/${sp.name}:${sp.portName}`
export const svcChain = (sp: ServicePortInfo): string => `KUBE-SVC-${shortHash(`${spName(sp)}${sp.protocol}`, 16)}`
export const extChain = (sp: ServicePortInfo): string => `KUBE-EXT-${shortHash(`${spName(sp)}${sp.protocol}`, 16)}`
export const sepChain = (sp: ServicePortInfo, ep: EndpointInfo): string =>
  `KUBE-SEP-${shortHash(`${spName(sp)}${sp.protocol}${ep.ip}:${ep.port}`, 16)}`

export interface IptablesConfig {
  clusterCIDR: string
}

export interface IptablesRender {
  text: string
  natChains: string[]
  rules: number
}

/** Render the restore input. `existingNat` = KUBE-* nat chains in the kernel (to delete stale ones). */
export function renderIptables(all: Iterable<readonly ServicePortInfo[]>, cfg: IptablesConfig, existingNat: readonly string[] = []): IptablesRender {
  const filter: string[] = []
  const nat: string[] = []
  const natChains: string[] = [IPT.services, IPT.nodePorts, IPT.postrouting, IPT.markMasq]
  const c = (s: string): string => `-m comment --comment "${s}"`
  nat.push(
    `-A ${IPT.postrouting} -m mark ! --mark ${IPT.masqMark} -j RETURN`,
    `-A ${IPT.postrouting} -j MARK --xor-mark 0x4000`,
    `-A ${IPT.postrouting} ${c('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
    `-A ${IPT.markMasq} -j MARK --or-mark 0x4000`,
  )
  const nodePortRules: string[] = []
  for (const ports of all)
    for (const sp of ports) {
      if (!sp.clusterIP) continue
      const cat = categorize(sp)
      const p = sp.protocol
      const name = spName(sp)
      const dst = (ip: string): string => `-d ${ip}/32 -p ${p} -m ${p} --dport ${sp.port}`
      const hasExternal = sp.nodePort !== undefined || sp.externalIPs.length > 0
      if (!cat.internal.length) {
        filter.push(`-A ${IPT.filterServices} ${c(`${name} has no endpoints`)} ${dst(sp.clusterIP)} -j REJECT`)
      }
      if (hasExternal && !cat.external.length) {
        for (const ip of sp.externalIPs) filter.push(`-A ${IPT.filterServices} ${c(`${name} has no endpoints`)} ${dst(ip)} -j REJECT`)
        if (sp.nodePort !== undefined)
          filter.push(
            `-A ${IPT.filterExternal} ${c(`${name} has no endpoints`)} -m addrtype --dst-type LOCAL -p ${p} -m ${p} --dport ${sp.nodePort} -j REJECT`,
          )
      }
      const eps = sp.internalLocal ? cat.local : cat.cluster
      if (!eps.length) continue
      const svc = svcChain(sp)
      natChains.push(svc)
      nat.push(`-A ${IPT.services} ${c(`${name} cluster IP`)} ${dst(sp.clusterIP)} -j ${svc}`)
      nat.push(`-A ${svc} ${c(`${name} cluster IP`)} ! -s ${cfg.clusterCIDR} ${dst(sp.clusterIP)} -j ${IPT.markMasq}`)
      if (sp.affinitySeconds !== undefined)
        for (const ep of eps)
          nat.push(`-A ${svc} ${c(`${name} -> ${ep.ip}:${ep.port}`)} -m recent --name ${sepChain(sp, ep)} --mask 255.255.255.255 --rsource --rcheck --seconds ${sp.affinitySeconds} --reap -j ${sepChain(sp, ep)}`)
      eps.forEach((ep, i) => {
        const n = eps.length - i
        const prob = n > 1 ? ` -m statistic --mode random --probability ${(1 / n).toFixed(10)}` : ''
        nat.push(`-A ${svc} ${c(`${name} -> ${ep.ip}:${ep.port}`)}${prob} -j ${sepChain(sp, ep)}`)
      })
      if (hasExternal && cat.external.length) {
        const ext = extChain(sp)
        natChains.push(ext)
        nat.push(`-A ${ext} ${c('masquerade traffic for ' + name + ' external destinations')} -j ${IPT.markMasq}`)
        nat.push(`-A ${ext} -j ${svc}`)
        for (const ip of sp.externalIPs) nat.push(`-A ${IPT.services} ${c(`${name} external IP`)} ${dst(ip)} -j ${ext}`)
        if (sp.nodePort !== undefined) nodePortRules.push(`-A ${IPT.nodePorts} ${c(name)} -p ${p} -m ${p} --dport ${sp.nodePort} -j ${ext}`)
      }
      for (const ep of eps) {
        const sep = sepChain(sp, ep)
        natChains.push(sep)
        nat.push(`-A ${sep} ${c(name)} -s ${ep.ip}/32 -j ${IPT.markMasq}`)
        const recent = sp.affinitySeconds !== undefined ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set` : ''
        nat.push(`-A ${sep} ${c(name)} -p ${p} -m ${p}${recent} -j DNAT --to-destination ${ep.ip}:${ep.port}`)
      }
    }
  nat.push(...nodePortRules)
  // last: NodePorts only after every ClusterIP/externalIP match
  nat.push(`-A ${IPT.services} ${c('kubernetes service nodeports')} -m addrtype --dst-type LOCAL -j ${IPT.nodePorts}`)
  const wanted = new Set(natChains)
  const stale = existingNat.filter((ch) => /^KUBE-(SVC|SEP|EXT)-/.test(ch) && !wanted.has(ch)).sort()
  const text = [
    '*filter',
    `:${IPT.filterServices} - [0:0]`,
    `:${IPT.filterExternal} - [0:0]`,
    ...filter,
    'COMMIT',
    '*nat',
    ...natChains.map((ch) => `:${ch} - [0:0]`),
    ...stale.map((ch) => `:${ch} - [0:0]`),
    ...nat,
    ...stale.map((ch) => `-X ${ch}`),
    'COMMIT',
    '',
  ].join('\n')
  return { text, natChains, rules: filter.length + nat.length }
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
  constructor(
    readonly runner: IptablesRunner,
    readonly cfg: IptablesConfig,
  ) {}

  /** Always a full rewrite of our chains (one atomic restore); upstream's partial sync is an optimisation. */
  async sync(input: SyncInput): Promise<SyncStats> {
    const existing = await this.runner.natChains()
    const r = renderIptables(input.ports.values(), this.cfg, existing)
    await this.runner.restore(r.text)
    if (!this.jumpsEnsured || input.full) {
      for (const j of IPT_JUMPS) await this.runner.ensureJump(j)
      this.jumpsEnsured = true
    }
    return { rules: r.rules, chains: r.natChains.length, written: r.text.length }
  }
}
