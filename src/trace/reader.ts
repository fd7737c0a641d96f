// The edge of `netkube trace`: how one node's (or pod's) dataplane is read, live. A NodeReader
// answers the questions the trace asks of one namespace through src/net (inspect.ts: ip, bridge,
// ss, nft list/get), caching per trace what it read once (a table, the link list).
// The lab reaches node namespaces directly (plan: node netns names); the Vagrant VMs would need
// an agent endpoint that runs these same reads (not built yet).
import { addresses, fdbEntries, linkDetails, listeningSockets, neighbours, nftGetElement, nftListTable, routeGet } from '../net/inspect.js'
import { netnsHandle } from '../net/door.js'
import { parseNftList, type NftTableState } from '../net/nft-list.js'
import { parseAddresses, parseFdb, parseLinkDetails, parseNeighbours, parseRouteGet, parseSockets, type FdbEntry, type LinkDetail, type Neighbour, type RouteGet, type Socket } from './parse.js'

export class NamespaceReader {
  private tables = new Map<string, Promise<NftTableState | undefined>>()
  private links?: Promise<LinkDetail[]>
  private addrs?: Promise<{ dev: string; ip: string; prefix: number }[]>

  constructor(readonly ref: string) {}

  async route(dst: string, o: { from?: string; iif?: string } = {}): Promise<RouteGet | undefined> {
    const r = await routeGet(this.ref, dst, o)
    return r.ok ? parseRouteGet(r.out) : { line: r.out, dst, type: 'error' }
  }

  table(family: string, name: string): Promise<NftTableState | undefined> {
    const k = `${family} ${name}`
    let p = this.tables.get(k)
    if (!p) {
      p = nftListTable(this.ref, family, name).then((r) => (r.ok ? parseNftList(r.out) : undefined))
      this.tables.set(k, p)
    }
    return p
  }

  /** The element the kernel finds for `key` in `set` (interval sets: the range containing it). */
  async element(family: string, table: string, set: string, key: string): Promise<string | undefined> {
    const r = await nftGetElement(this.ref, family, table, set, key)
    if (!r.ok) return undefined
    const m = /elements = \{ (.*?) \}/s.exec(r.out)
    return m ? `${set}: ${m[1]!.replace(/\s+/g, ' ').trim()}` : r.out.trim()
  }

  linkList(): Promise<LinkDetail[]> {
    return (this.links ??= linkDetails(this.ref).then(parseLinkDetails))
  }

  addressList(): Promise<{ dev: string; ip: string; prefix: number }[]> {
    return (this.addrs ??= addresses(this.ref).then(parseAddresses))
  }

  async neigh(o: { to?: string; dev?: string }): Promise<Neighbour[]> {
    return parseNeighbours(await neighbours(this.ref, o))
  }

  async fdb(o: { dev?: string; br?: string }): Promise<FdbEntry[]> {
    return parseFdb(await fdbEntries(this.ref, o))
  }

  async sockets(): Promise<Socket[]> {
    return parseSockets(await listeningSockets(this.ref))
  }

  /** A file as a program in this namespace sees it with the pod's /etc (resolv.conf). */
  async podFile(path: string): Promise<string> {
    const r = await netnsHandle(this.ref).run('cat', [path], { etc: 'netns', allowFailure: true, timeoutMs: 5000 })
    return r.code === 0 ? r.stdout : ''
  }

  /** `dig +noall +comments +answer NAME A @SERVER` run inside this namespace. */
  async dig(name: string, server: string): Promise<string> {
    const r = await netnsHandle(this.ref).run('dig', ['+noall', '+comments', '+answer', '+time=2', '+tries=1', `@${server}`, name, 'A'], { allowFailure: true, timeoutMs: 8000 })
    return r.stdout + r.stderr
  }
}
