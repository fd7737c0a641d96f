// Pure: the kernel's and resolver's own text (ip, bridge, ss, dig, nft monitor trace) as data.
// Every parser keeps the verbatim line it read, so a hop can quote the object that decided it.

export interface ResolvConf {
  nameservers: string[]
  search: string[]
  ndots: number
}

/** resolv.conf as glibc reads it (ndots defaults to 1; the last `search` line wins). */
export function parseResolvConf(text: string): ResolvConf {
  const rc: ResolvConf = { nameservers: [], search: [], ndots: 1 }
  for (const raw of text.split('\n')) {
    const f = raw.replace(/[#;].*$/, '').trim().split(/\s+/).filter(Boolean)
    if (f[0] === 'nameserver' && f[1]) rc.nameservers.push(f[1])
    else if (f[0] === 'search' || f[0] === 'domain') rc.search = f.slice(1)
    else if (f[0] === 'options')
      for (const o of f.slice(1)) {
        const m = /^ndots:(\d+)$/.exec(o)
        if (m) rc.ndots = Math.min(15, Number(m[1]))
      }
  }
  return rc
}

/**
 * The names a stub resolver asks, in order (glibc res_search): a trailing dot is absolute
 * and asked alone; a name with at least `ndots` dots is tried as is first, then with each
 * search domain; a shorter one with the search domains first, then as is.
 */
export function searchCandidates(name: string, rc: ResolvConf): string[] {
  if (name.endsWith('.')) return [name]
  const dots = name.split('.').length - 1
  const withSearch = rc.search.map((d) => `${name}.${d.replace(/\.$/, '')}.`)
  return dots >= rc.ndots ? [`${name}.`, ...withSearch] : [...withSearch, `${name}.`]
}

export interface DigAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, … or 'timeout' when no server answered. */
  status: string
  /** Answer RRs verbatim (`web.default.svc.cluster.local. 5 IN A 10.96.3.7`). */
  answers: string[]
  /** The A records' addresses, in order. */
  addresses: string[]
}

/** `dig +noall +comments +answer` output. */
export function parseDig(out: string): DigAnswer {
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? (/timed out|no servers could be reached/i.test(out) ? 'timeout' : 'unknown')
  const answers = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.replace(/\s+/g, ' '))
  const addresses = answers.map((a) => a.split(' ')).filter((f) => f[3] === 'A' && f[4]).map((f) => f[4]!)
  return { status, answers, addresses }
}

export interface RouteGet {
  line: string
  type?: string
  dst: string
  via?: string
  dev?: string
  src?: string
  iif?: string
}

/** `ip -o route get` output: `10.244.2.3 via 10.244.2.0 dev flannel.1 src 10.244.1.0 uid 0 \    cache`. */
export function parseRouteGet(text: string): RouteGet | undefined {
  const line = text.split('\n')[0]?.replace(/\\/g, ' ').replace(/\s+/g, ' ').trim()
  if (!line) return undefined
  const f = line.split(' ')
  let i = 0
  let type: string | undefined
  if (['local', 'broadcast', 'unreachable', 'blackhole', 'prohibit', 'multicast'].includes(f[0]!)) type = f[i++]
  const r: RouteGet = { line, dst: f[i++]!, ...(type ? { type } : {}) }
  for (; i < f.length; i++) {
    const k = f[i]!
    if ((k === 'via' || k === 'dev' || k === 'src' || k === 'iif') && f[i + 1]) r[k] = f[++i]!
  }
  return r
}

export interface Neighbour {
  line: string
  ip: string
  dev?: string
  lladdr?: string
  state?: string
}

/** `ip neigh show` lines. */
export function parseNeighbours(text: string): Neighbour[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const f = line.split(/\s+/)
      const n: Neighbour = { line, ip: f[0]! }
      for (let i = 1; i < f.length; i++) {
        if (f[i] === 'dev' && f[i + 1]) n.dev = f[++i]!
        else if (f[i] === 'lladdr' && f[i + 1]) n.lladdr = f[++i]!
      }
      const last = f[f.length - 1]!
      if (/^[A-Z]+$/.test(last)) n.state = last
      return n
    })
}

export interface FdbEntry {
  line: string
  mac: string
  dev?: string
  dst?: string
  master?: string
  vlan?: string
  permanent: boolean
  self: boolean
}

/** `bridge fdb show` lines. */
export function parseFdb(text: string): FdbEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const f = line.split(/\s+/)
      const e: FdbEntry = { line, mac: f[0]!.toLowerCase(), permanent: f.includes('permanent'), self: f.includes('self') }
      for (let i = 1; i < f.length; i++) {
        const k = f[i]!
        if ((k === 'dev' || k === 'dst' || k === 'master' || k === 'vlan') && f[i + 1]) e[k] = f[++i]!
      }
      return e
    })
}

export interface LinkDetail {
  line: string
  index: number
  name: string
  /** a veth's peer index (`eth0@if7`) */
  peerIndex?: number
  kind?: string
  master?: string
  mac?: string
  vxlan?: { vni: number; local?: string; port?: number; dev?: string }
}

/** `ip -d -o link show` lines (`3: flannel.1: <…> mtu 1450 … link/ether MAC … vxlan id 1 local 192.168.56.10 dev eth0 … dstport 8472 …`). */
export function parseLinkDetails(text: string): LinkDetail[] {
  const out: LinkDetail[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\\/g, ' ').replace(/\s+/g, ' ').trim()
    const m = /^(\d+): ([^:@ ]+)(?:@(?:if(\d+)|\S+))?: /.exec(line)
    if (!m) continue
    const d: LinkDetail = { line, index: Number(m[1]), name: m[2]!, ...(m[3] ? { peerIndex: Number(m[3]) } : {}) }
    const master = / master (\S+)/.exec(line)
    if (master) d.master = master[1]!
    const mac = / link\/ether ([0-9a-f:]{17})/.exec(line)
    if (mac) d.mac = mac[1]!
    const vx = / vxlan id (\d+)(?: .*?)?$/.exec(line)
    if (vx) {
      const local = / local (\S+)/.exec(line)?.[1]
      const port = / dstport (\d+)/.exec(line)?.[1]
      const dev = / vxlan id \d+ .*?dev (\S+)/.exec(line)?.[1]
      d.kind = 'vxlan'
      d.vxlan = { vni: Number(vx[1]), ...(local ? { local } : {}), ...(port ? { port: Number(port) } : {}), ...(dev ? { dev } : {}) }
    } else if (/ veth /.test(line)) d.kind = 'veth'
    else if (/ bridge /.test(line) && !/ bridge_slave /.test(line)) d.kind = 'bridge'
    out.push(d)
  }
  return out
}

/** The parts of an `ip -d -o link` line a person needs: name, state, MTU, master, peer namespace, VXLAN id/local/port. */
export function shortLink(line: string): string {
  const head = /^\d+: \S+ <[^>]*> mtu \d+/.exec(line)?.[0] ?? line.split(' ').slice(0, 4).join(' ')
  const keep = [/ master \S+/, / state (?:UP|DOWN|UNKNOWN)/, / link\/ether \S+/, / link-netns \S+/, / vxlan id \d+( local \S+)?( dev \S+)?/, / dstport \d+/, / nolearning/, / hairpin \S+/]
  return head + keep.map((r) => r.exec(line)?.[0] ?? '').join('')
}

export interface Socket {
  line: string
  proto: 'tcp' | 'udp'
  address: string
  port: number
}

/** `ss -ltnuH` lines: `tcp LISTEN 0 511 0.0.0.0:80 0.0.0.0:*` / `udp UNCONN 0 0 *:53 *:*`. */
export function parseSockets(text: string): Socket[] {
  const out: Socket[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+/g, ' ').trim()
    const f = line.split(' ')
    if (f[0] !== 'tcp' && f[0] !== 'udp') continue
    const local = f[4]
    const m = local ? /^(.*):(\d+)$/.exec(local) : null
    if (!m) continue
    out.push({ line, proto: f[0], address: m[1]!.replace(/^\[|\]$/g, '').replace(/%\S+$/, ''), port: Number(m[2]) })
  }
  return out
}

/** A socket that would take a packet for `ip:port`: bound to it, to every address, or to the v6 wildcard. */
export function listenerFor(sockets: readonly Socket[], proto: 'tcp' | 'udp', ip: string, port: number): Socket | undefined {
  return sockets.find((s) => s.proto === proto && s.port === port && ['0.0.0.0', '*', '::', ip].includes(s.address))
}

/** An IPv4 address of a namespace from `ip -o -4 addr show`: `2: eth0    inet 192.168.56.10/24 brd … scope global eth0`. */
export function parseAddresses(text: string): { dev: string; ip: string; prefix: number }[] {
  const out: { dev: string; ip: string; prefix: number }[] = []
  for (const line of text.split('\n')) {
    const m = /^\d+: (\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line.trim())
    if (m) out.push({ dev: m[1]!, ip: m[2]!, prefix: Number(m[3]) })
  }
  return out
}

export interface TraceEventLine {
  id: string
  family: string
  table: string
  chain: string
  /** 'packet' | 'rule' | 'verdict' | 'policy' */
  what: string
  rule?: string
  handle?: number
  verdict?: string
  line: string
}

/**
 * One `nft monitor trace` line:
 *   trace id 5e1b… ip netkube-proxy services rule ip daddr . meta l4proto . th dport vmap @service-ips (verdict goto service-…)
 *   trace id 5e1b… ip netkube-proxy nat-prerouting packet: iif "veth…" …
 *   trace id 5e1b… ip netkube-netpol netpol-forward verdict continue
 *   trace id 5e1b… ip filter forward policy accept
 */
export function parseTraceLine(line: string): TraceEventLine | undefined {
  const m = /^trace id (\S+) (ip6?|inet|arp|bridge|netdev) (\S+) (\S+) (.*)$/.exec(line.trim())
  if (!m) return undefined
  const [, id, family, table, chain, rest] = m as unknown as [string, string, string, string, string, string]
  const ev: TraceEventLine = { id, family, table, chain, what: rest.split(' ')[0]!.replace(/:$/, ''), line: line.trim() }
  if (ev.what === 'rule') {
    const r = /^rule (.*?)(?: # handle (\d+))? \(verdict ([^)]+)\)$/.exec(rest)
    if (r) {
      ev.rule = r[1]!
      if (r[2]) ev.handle = Number(r[2])
      ev.verdict = r[3]!
    } else ev.rule = rest.slice(5)
  } else if (ev.what === 'verdict' || ev.what === 'policy') ev.verdict = rest.split(' ').slice(1).join(' ')
  return ev
}
