// IPVS mode applied for real (a kernel with IP_VS: the Vagrant VMs; this machine has none).
// One sync, in the order a packet needs it:
//   ipsets (`ipset restore -exist`) → iptables (`iptables-restore --noflush` + the jumps from
//   the built-in chains) → addresses on the dummy device kube-ipvs0 (so the input path takes
//   service IPs as local) → virtual/real servers as the difference between `ipvsadm -Sn` and
//   the render (upstream's proxier also diffs: clearing the table on every sync would drop the
//   connection entries of services that did not change).
// Entering it removes nftables mode's tables; leaving it (a node switched back to nftables or
// iptables) removes all of IPVS mode's state: cleanupIpvs, as upstream's proxiers clean up
// after the modes they replace.
import { netnsHandle } from '../net/door.js'
import { writeSysctl } from '../net/sysctl.js'
import { logger } from '../util/log.js'
import { IPT, IptablesExec } from './iptables.js'
import { IPSETS, IPVS_DEVICE, type IpvsRender, type IpvsRunner } from './ipvs.js'
import { NFT_TABLE } from './nftables.js'

/** Built-in chain → the IPVS render's chain (nat for DNAT's companions, filter for source-range drops). */
export const IPVS_JUMPS: readonly { table: 'nat' | 'filter'; chain: string; target: string }[] = [
  { table: 'nat', chain: 'PREROUTING', target: IPT.services },
  { table: 'nat', chain: 'OUTPUT', target: IPT.services },
  { table: 'nat', chain: 'POSTROUTING', target: IPT.postrouting },
  { table: 'filter', chain: 'INPUT', target: IPT.filterFirewall },
  { table: 'filter', chain: 'FORWARD', target: IPT.filterFirewall },
]
/** The chains the render declares, per table (removed on cleanup, jumps first). */
const IPVS_CHAINS = {
  nat: [IPT.services, 'KUBE-NODE-PORT', IPT.postrouting, IPT.markMasq, 'KUBE-LOAD-BALANCER', 'KUBE-FIREWALL', IPT.markDrop],
  filter: [IPT.filterFirewall],
} as const

/** ipvsadm's rule key: `-A -t VIP:PORT` for a virtual server, plus `-r RIP:PORT` for a real one. */
function ruleKey(words: string[]): string | undefined {
  const kind = words[0]
  if (kind === '-A') return `${words[1]} ${words[2]}`
  if (kind === '-a') {
    const r = words.indexOf('-r')
    return r > 0 ? `${words[1]} ${words[2]} -r ${words[r + 1]}` : undefined
  }
  return undefined
}

/**
 * The ipvsadm-restore commands that turn `current` (`ipvsadm -Sn`) into `wanted` (the render,
 * whose leading `-C` is dropped): deletes of real servers, then of virtual servers, then adds
 * and edits. Pure.
 */
export function ipvsDiff(current: string, wanted: string): string {
  const parse = (text: string): Map<string, string[]> => {
    const m = new Map<string, string[]>()
    for (const line of text.split('\n')) {
      const words = line.trim().split(/\s+/).filter(Boolean)
      const key = ruleKey(words)
      if (key) m.set(`${words[0]} ${key}`, words)
    }
    return m
  }
  const cur = parse(current)
  const want = parse(wanted)
  const same = (a: string[], b: string[]): boolean => a.join(' ') === b.join(' ')
  const out: string[] = []
  // a real server of a virtual server that stays; the ones of a deleted virtual server go with it
  for (const [k, w] of cur) if (w[0] === '-a' && !want.has(k) && want.has(`-A ${w[1]} ${w[2]}`)) out.push(`-d ${w[1]} ${w[2]} -r ${w[w.indexOf('-r') + 1]}`)
  for (const [k, w] of cur) if (w[0] === '-A' && !want.has(k)) out.push(`-D ${w[1]} ${w[2]}`)
  for (const [k, w] of want) if (w[0] === '-A') {
    const c = cur.get(k)
    if (!c) out.push(w.join(' '))
    else if (!same(c, w)) out.push(['-E', ...w.slice(1)].join(' '))
  }
  for (const [k, w] of want) if (w[0] === '-a') {
    const c = cur.get(k)
    if (!c) out.push(w.join(' '))
    else if (!same(c, w)) out.push(['-e', ...w.slice(1)].join(' '))
  }
  return out.length ? out.join('\n') + '\n' : ''
}

export class IpvsExec implements IpvsRunner {
  private prepared = false
  private readonly log = logger('proxy-ipvs')
  constructor(
    readonly netns: string | undefined,
    readonly iptables = new IptablesExec(netns),
  ) {}

  private async must(file: string, args: string[], input = ''): Promise<string> {
    const r = await netnsHandle(this.netns).run(file, args, { input, allowFailure: true, timeoutMs: 120_000 })
    if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr.trim().split('\n').slice(0, 4).join(' | ')}`)
    return r.stdout
  }

  /** The dummy device and the sysctls IPVS needs (vs.conntrack: iptables' masquerade sees IPVS's connections). */
  private async prepare(): Promise<void> {
    const h = netnsHandle(this.netns)
    await h.run('modprobe', ['-a', 'ip_vs', 'ip_vs_rr'], { allowFailure: true })
    const exists = await h.withOps(async (ops) => (await ops.getLink(IPVS_DEVICE)) !== undefined)
    if (!exists) await h.ipBatch([`link add ${IPVS_DEVICE} type dummy`])
    await writeSysctl(this.netns, 'net.ipv4.vs.conntrack', '1')
    // A node that ran nftables mode before: its DNAT in nat prerouting/output would take the
    // service traffic before IPVS (at local-in) sees it. Our tables only: netkube-proxy[-N].
    const tables = await h.run('nft', ['list', 'tables'], { allowFailure: true })
    for (const m of tables.stdout.matchAll(new RegExp(`^table ip (${NFT_TABLE}(?:-\\d+)?)$`, 'gm'))) {
      await this.must('nft', ['delete', 'table', 'ip', m[1]!])
      this.log.info({ table: m[1] }, 'removed nftables mode leftovers')
    }
    this.prepared = true
  }

  async apply(r: IpvsRender): Promise<void> {
    if (!this.prepared) await this.prepare()
    await this.must('ipset', ['restore', '-exist'], r.ipset)
    await this.iptables.restore(r.iptables)
    for (const j of IPVS_JUMPS) await this.iptables.ensureJump(j)
    await netnsHandle(this.netns).withOps(async (ops) => {
      const have = new Set((await ops.listAddresses(IPVS_DEVICE)).map((a) => a.cidr))
      const want = new Set(r.addresses.map((a) => `${a}/32`))
      for (const a of want) if (!have.has(a)) await ops.addAddress(IPVS_DEVICE, a)
      for (const a of have) if (!want.has(a)) await ops.delAddress(IPVS_DEVICE, a)
    })
    const diff = ipvsDiff(await this.must('ipvsadm', ['-S', '-n']), r.ipvsadm)
    if (diff) await this.must('ipvsadm', ['-R'], diff)
    this.log.debug({ virtualServers: r.virtualServers, realServers: r.realServers, commands: diff.split('\n').length - 1 }, 'ipvs synced')
  }
}

/**
 * Remove what IPVS mode left on this node: virtual servers, kube-ipvs0 and its addresses, the
 * render's iptables chains and ipsets. Does nothing (one link lookup) where kube-ipvs0 never was.
 */
export async function cleanupIpvs(netns: string | undefined, iptablesBin = 'iptables-legacy'): Promise<boolean> {
  const h = netnsHandle(netns)
  const present = await h.withOps(async (ops) => (await ops.getLink(IPVS_DEVICE)) !== undefined)
  if (!present) return false
  const x = (file: string, args: string[]) => h.run(file, args, { allowFailure: true, timeoutMs: 60_000 })
  await x('ipvsadm', ['-C'])
  for (const j of IPVS_JUMPS) {
    const spec = ['-m', 'comment', '--comment', 'netkube proxy', '-j', j.target]
    while ((await x(iptablesBin, ['-w', '-t', j.table, '-D', j.chain, ...spec])).code === 0);
  }
  for (const [table, chains] of Object.entries(IPVS_CHAINS)) {
    for (const c of chains) await x(iptablesBin, ['-w', '-t', table, '-F', c])
    for (const c of chains) await x(iptablesBin, ['-w', '-t', table, '-X', c])
  }
  for (const s of Object.values(IPSETS)) await x('ipset', ['destroy', s])
  await h.withOps((ops) => ops.deleteLink(IPVS_DEVICE))
  logger('proxy-ipvs').info({ netns }, 'removed IPVS mode leftovers (kube-ipvs0, virtual servers, ipsets, chains)')
  return true
}
