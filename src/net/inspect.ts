// Read-only views of one namespace's dataplane, as the kernel prints them: what `netkube trace`
// shows a person is the kernel's own answer (`ip route get`, `ip neigh`, `bridge fdb`, `ss`,
// `nft list table`), verbatim, so each hop can quote the object that decided it. Nothing here
// changes state. Callers parse the text with pure functions (src/trace/parse.ts).
import { runIn } from './netns.js'

const T = { timeoutMs: 10_000, allowFailure: true } as const

async function text(ref: string | undefined, file: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await runIn(ref, file, args, T)
  return { ok: r.code === 0, out: r.code === 0 ? r.stdout : r.stderr.trim() || r.stdout.trim() }
}

/** `ip -o route get DST [from SRC] [iif DEV] [mark M]`: the route the kernel picks, one line (or the error). */
export async function routeGet(ref: string | undefined, dst: string, o: { from?: string; iif?: string; mark?: string } = {}): Promise<{ ok: boolean; out: string }> {
  const args = ['-o', 'route', 'get', dst]
  if (o.from) args.push('from', o.from)
  if (o.iif) args.push('iif', o.iif)
  if (o.mark) args.push('mark', o.mark)
  const r = await text(ref, 'ip', args)
  return { ok: r.ok, out: r.out.trim() }
}

/** `ip neigh show [to IP] [dev DEV]`. */
export async function neighbours(ref: string | undefined, o: { to?: string; dev?: string } = {}): Promise<string> {
  const args = ['neigh', 'show']
  if (o.to) args.push('to', o.to)
  if (o.dev) args.push('dev', o.dev)
  return (await text(ref, 'ip', args)).out
}

/** `bridge fdb show [dev DEV | br BR]`. */
export async function fdbEntries(ref: string | undefined, o: { dev?: string; br?: string } = {}): Promise<string> {
  const args = ['fdb', 'show']
  if (o.dev) args.push('dev', o.dev)
  if (o.br) args.push('br', o.br)
  return (await text(ref, 'bridge', args)).out
}

/** `ip -d -o link show [dev DEV]`: details (VXLAN id/local/port, bridge master, veth peer index). */
export async function linkDetails(ref: string | undefined, dev?: string): Promise<string> {
  return (await text(ref, 'ip', ['-d', '-o', 'link', 'show', ...(dev ? ['dev', dev] : [])])).out
}

/** `ip -o -4 addr show`: every IPv4 address in the namespace. */
export async function addresses(ref: string | undefined): Promise<string> {
  return (await text(ref, 'ip', ['-o', '-4', 'addr', 'show'])).out
}

/** `ss -ltnuH`: listening TCP and bound UDP sockets, numeric. */
export async function listeningSockets(ref: string | undefined): Promise<string> {
  return (await text(ref, 'ss', ['-ltnuH'])).out
}

/** `nft [-a] list table FAMILY NAME`; absent table → ok false. */
export async function nftListTable(ref: string | undefined, family: string, table: string, o: { handles?: boolean } = {}): Promise<{ ok: boolean; out: string }> {
  return text(ref, 'nft', [...(o.handles ? ['-a'] : []), 'list', 'table', family, table])
}

/** `nft get element FAMILY TABLE SET { KEY }`: the kernel's own lookup (interval sets included). */
export async function nftGetElement(ref: string | undefined, family: string, table: string, set: string, key: string): Promise<{ ok: boolean; out: string }> {
  return text(ref, 'nft', ['get', 'element', family, table, set, `{ ${key} }`])
}

/** `nft list ruleset`. */
export async function nftRuleset(ref: string | undefined): Promise<string> {
  return (await text(ref, 'nft', ['list', 'ruleset'])).out
}
