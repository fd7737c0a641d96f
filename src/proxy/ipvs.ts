// IPVS mode, after upstream's ipvs proxier. Pure render here; on a kernel with IP_VS (the
// Vagrant VMs, npm run test:vagrant) ipvs-exec.ts feeds the three texts to `ipset restore`,
// `iptables-restore --noflush` and ipvsadm (as a diff), and binds every ClusterIP/externalIP
// to the dummy device kube-ipvs0 (so the input path accepts them).
//   virtual server per ClusterIP:port, externalIP:port and nodeIP:nodePort, scheduler rr,
//   `-p <timeout>` persistence for ClientIP affinity; real servers in NAT (masquerading) mode.
//   ipsets carry what iptables must still do: masquerade off-cluster ClusterIP traffic
//   (KUBE-CLUSTER-IP), hairpin (KUBE-LOOP-BACK), NodePort masquerade (KUBE-NODE-PORT-*).
import type { ProxyBackend, SyncInput, SyncStats } from './backend.js'
import { IPT } from './iptables.js'
import { categorize, type ServicePortInfo } from './serviceport.js'

export const IPVS_DEVICE = 'kube-ipvs0'
export const IPSETS = {
  clusterIP: 'KUBE-CLUSTER-IP',
  externalIP: 'KUBE-EXTERNAL-IP',
  loopBack: 'KUBE-LOOP-BACK',
  nodePortTCP: 'KUBE-NODE-PORT-TCP',
  nodePortUDP: 'KUBE-NODE-PORT-UDP',
  // LoadBalancer IPs (upstream's sets): all, Local ones (no masquerade), with source ranges
  loadBalancer: 'KUBE-LOAD-BALANCER',
  loadBalancerLocal: 'KUBE-LOAD-BALANCER-LOCAL',
  loadBalancerFW: 'KUBE-LOAD-BALANCER-FW',
  loadBalancerSourceCIDR: 'KUBE-LOAD-BALANCER-SOURCE-CIDR',
} as const

export interface IpvsConfig {
  clusterCIDR: string
  nodeIPs: readonly string[]
  /** --nodeport-addresses resolved (undefined: NodePorts on `nodeIPs`, matched as any local address). */
  nodePortIPs?: readonly string[]
  scheduler?: string
}

export interface IpvsRender {
  /** ipvsadm-restore input (starts by clearing the table: the render is complete). */
  ipvsadm: string
  /** `ipset restore` input. */
  ipset: string
  /** iptables-restore --noflush input. */
  iptables: string
  /** Addresses to bind to kube-ipvs0. */
  addresses: string[]
  virtualServers: number
  realServers: number
}

const flag = (p: string): string => (p === 'tcp' ? '-t' : p === 'udp' ? '-u' : '--sctp-service')

export function renderIpvs(all: Iterable<readonly ServicePortInfo[]>, cfg: IpvsConfig): IpvsRender {
  const sched = cfg.scheduler ?? 'rr'
  const ipvs: string[] = ['-C']
  const sets = {
    [IPSETS.clusterIP]: [] as string[],
    [IPSETS.externalIP]: [] as string[],
    [IPSETS.loopBack]: [] as string[],
    [IPSETS.nodePortTCP]: [] as string[],
    [IPSETS.nodePortUDP]: [] as string[],
    [IPSETS.loadBalancer]: [] as string[],
    [IPSETS.loadBalancerLocal]: [] as string[],
    [IPSETS.loadBalancerFW]: [] as string[],
    [IPSETS.loadBalancerSourceCIDR]: [] as string[],
  }
  const addresses = new Set<string>()
  let vs = 0
  let rs = 0
  for (const ports of all)
    for (const sp of ports) {
      if (!sp.clusterIP) continue
      const cat = categorize(sp)
      const persist = sp.affinitySeconds !== undefined ? ` -p ${sp.affinitySeconds}` : ''
      const virtual = (ip: string, port: number, eps: typeof cat.cluster): void => {
        ipvs.push(`-A ${flag(sp.protocol)} ${ip}:${port} -s ${sched}${persist}`)
        vs++
        for (const ep of eps) {
          ipvs.push(`-a ${flag(sp.protocol)} ${ip}:${port} -r ${ep.ip}:${ep.port} -m -w 1`)
          rs++
        }
      }
      addresses.add(sp.clusterIP)
      sets[IPSETS.clusterIP].push(`${sp.clusterIP},${sp.protocol}:${sp.port}`)
      // a virtual server without real servers answers nothing; upstream keeps it (traffic is
      // dropped by IPVS), the iptables filter chain rejects it first
      virtual(sp.clusterIP, sp.port, cat.internal)
      for (const ip of sp.externalIPs) {
        addresses.add(ip)
        sets[IPSETS.externalIP].push(`${ip},${sp.protocol}:${sp.port}`)
        virtual(ip, sp.port, cat.external)
      }
      for (const ip of sp.loadBalancerIPs) {
        // bound to kube-ipvs0 like a ClusterIP, so the input path accepts it
        addresses.add(ip)
        const entry = `${ip},${sp.protocol}:${sp.port}`
        sets[IPSETS.loadBalancer].push(entry)
        if (sp.externalLocal) sets[IPSETS.loadBalancerLocal].push(entry)
        if (sp.sourceRanges.length) {
          sets[IPSETS.loadBalancerFW].push(entry)
          for (const r of sp.sourceRanges) sets[IPSETS.loadBalancerSourceCIDR].push(`${entry},${r}`)
        }
        virtual(ip, sp.port, cat.external)
      }
      if (sp.nodePort !== undefined) {
        for (const ip of cfg.nodePortIPs ?? cfg.nodeIPs) virtual(ip, sp.nodePort, cat.external)
        if (sp.protocol === 'tcp') sets[IPSETS.nodePortTCP].push(String(sp.nodePort))
        if (sp.protocol === 'udp') sets[IPSETS.nodePortUDP].push(String(sp.nodePort))
      }
      for (const ep of cat.cluster) sets[IPSETS.loopBack].push(`${ep.ip},${sp.protocol}:${ep.port},${ep.ip}`)
    }
  const setTypes: Record<string, string> = {
    [IPSETS.clusterIP]: 'hash:ip,port',
    [IPSETS.externalIP]: 'hash:ip,port',
    [IPSETS.loopBack]: 'hash:ip,port,ip',
    [IPSETS.nodePortTCP]: 'bitmap:port range 0-65535',
    [IPSETS.nodePortUDP]: 'bitmap:port range 0-65535',
    [IPSETS.loadBalancer]: 'hash:ip,port',
    [IPSETS.loadBalancerLocal]: 'hash:ip,port',
    [IPSETS.loadBalancerFW]: 'hash:ip,port',
    [IPSETS.loadBalancerSourceCIDR]: 'hash:ip,port,net',
  }
  const ipset: string[] = []
  for (const [name, entries] of Object.entries(sets)) {
    ipset.push(`create ${name} ${setTypes[name]} -exist`, `flush ${name}`)
    for (const e of [...new Set(entries)].sort()) ipset.push(`add ${name} ${e}`)
  }
  const ipt = [
    '*nat',
    `:${IPT.services} - [0:0]`,
    `:KUBE-NODE-PORT - [0:0]`,
    `:${IPT.postrouting} - [0:0]`,
    `:${IPT.markMasq} - [0:0]`,
    `:KUBE-LOAD-BALANCER - [0:0]`,
    `:KUBE-FIREWALL - [0:0]`,
    `:${IPT.markDrop} - [0:0]`,
    `-A ${IPT.postrouting} -m set --match-set ${IPSETS.loopBack} dst,dst,src -j MASQUERADE`,
    `-A ${IPT.postrouting} -m mark ! --mark ${IPT.masqMark} -j RETURN`,
    `-A ${IPT.postrouting} -j MARK --xor-mark 0x4000`,
    `-A ${IPT.postrouting} -j MASQUERADE --random-fully`,
    `-A ${IPT.markMasq} -j MARK --or-mark 0x4000`,
    `-A ${IPT.services} -m set --match-set ${IPSETS.clusterIP} dst,dst ! -s ${cfg.clusterCIDR} -j ${IPT.markMasq}`,
    `-A ${IPT.services} -m set --match-set ${IPSETS.externalIP} dst,dst -j ${IPT.markMasq}`,
    // LoadBalancer IPs: source ranges first (others marked for drop), Local ones keep the client address
    `-A ${IPT.services} -m set --match-set ${IPSETS.loadBalancer} dst,dst -j KUBE-LOAD-BALANCER`,
    `-A KUBE-LOAD-BALANCER -m set --match-set ${IPSETS.loadBalancerFW} dst,dst -j KUBE-FIREWALL`,
    `-A KUBE-LOAD-BALANCER -m set --match-set ${IPSETS.loadBalancerLocal} dst,dst -j RETURN`,
    `-A KUBE-LOAD-BALANCER -j ${IPT.markMasq}`,
    `-A KUBE-FIREWALL -m set --match-set ${IPSETS.loadBalancerSourceCIDR} dst,dst,src -j RETURN`,
    `-A KUBE-FIREWALL -j ${IPT.markDrop}`,
    `-A ${IPT.markDrop} -j MARK --or-mark 0x8000`,
    ...(cfg.nodePortIPs ? cfg.nodePortIPs.map((ip) => `-A ${IPT.services} -d ${ip}/32 -j KUBE-NODE-PORT`) : [`-A ${IPT.services} -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT`]),
    `-A KUBE-NODE-PORT -p tcp -m set --match-set ${IPSETS.nodePortTCP} dst -j ${IPT.markMasq}`,
    `-A KUBE-NODE-PORT -p udp -m set --match-set ${IPSETS.nodePortUDP} dst -j ${IPT.markMasq}`,
    'COMMIT',
    '*filter',
    `:${IPT.filterFirewall} - [0:0]`,
    `-A ${IPT.filterFirewall} -m mark --mark ${IPT.dropMark} -j DROP`,
    'COMMIT',
    '',
  ]
  return {
    ipvsadm: ipvs.join('\n') + '\n',
    ipset: ipset.join('\n') + '\n',
    iptables: ipt.join('\n'),
    addresses: [...addresses].sort(),
    virtualServers: vs,
    realServers: rs,
  }
}

export interface IpvsRunner {
  apply(r: IpvsRender): Promise<void>
}

/** Records renders (unit tests; this machine's kernel has no IP_VS). */
export class RecordingIpvsRunner implements IpvsRunner {
  readonly applied: IpvsRender[] = []
  async apply(r: IpvsRender): Promise<void> {
    this.applied.push(r)
  }
}

export class IpvsBackend implements ProxyBackend {
  readonly mode = 'ipvs' as const
  constructor(
    readonly runner: IpvsRunner,
    readonly cfg: IpvsConfig,
  ) {}
  async sync(input: SyncInput): Promise<SyncStats> {
    const r = renderIpvs(input.ports.values(), { ...this.cfg, nodePortIPs: input.nodePortIPs })
    await this.runner.apply(r)
    return { rules: r.realServers, chains: r.virtualServers, written: r.ipvsadm.length }
  }
}
