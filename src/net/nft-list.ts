// What one nftables table holds, as data: read back from `nft list table` text (or from
// FakeNft's model), so an agent that restarts can diff its wanted state against the kernel's
// and write only the difference instead of replacing everything.
//
// Rules are compared in a normalized form: nft prints some rules differently from how they
// were written (`numgen random mod 3 == 0` lists as `numgen random mod 3 0`, `0x4000` as
// `0x00004000`, `meta l4proto tcp reject with tcp reset` as `reject with tcp reset`), so both
// sides go through `normalizeRule`.

export interface NftChainState {
  /** A base chain (has a hook). */
  base: boolean
  rules: string[]
}

export interface NftSetState {
  kind: 'set' | 'map'
  /** `ipv4_addr . inet_proto . inet_service : verdict` for a map, `ipv4_addr` for a set. */
  type: string
  flags: string[]
  /** Seconds. */
  timeout?: number
  /** key → value (maps) or undefined (sets). */
  elements: Map<string, string | undefined>
}

export interface NftTableState {
  chains: Map<string, NftChainState>
  sets: Map<string, NftSetState>
}

/** The comparable form of one rule (see the note at the top). */
export function normalizeRule(rule: string): string {
  return rule
    .trim()
    .replace(/0x[0-9a-f]+/gi, (h) => String(parseInt(h, 16)))
    .replace(/ == /g, ' ')
    .replace(/meta l4proto tcp reject with tcp reset/, 'reject with tcp reset')
    .replace(/\s+/g, ' ')
}

/** nft's duration text (`3h`, `1d2h3m4s`, `10s`) in seconds. */
export function parseNftDuration(text: string): number {
  let s = 0
  const units: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 }
  for (const m of text.matchAll(/(\d+)(ms|d|h|m|s)/g)) s += Number(m[1]) * units[m[2]!]!
  return Math.round(s)
}

/** Split `a : goto x, b : drop` at top-level commas. */
function splitElements(body: string): string[] {
  return body
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
}

/** Parse `nft list table FAMILY NAME` output. Dynamic set contents (expires …) are kept as keys only. */
export function parseNftList(text: string): NftTableState {
  const state: NftTableState = { chains: new Map(), sets: new Map() }
  const lines = text.split('\n')
  let chain: NftChainState | undefined
  let set: NftSetState | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (!line || line.startsWith('table ')) continue
    let m: RegExpExecArray | null
    if ((m = /^chain (\S+) \{$/.exec(line))) {
      chain = { base: false, rules: [] }
      state.chains.set(m[1]!, chain)
      set = undefined
    } else if ((m = /^(set|map) (\S+) \{$/.exec(line))) {
      set = { kind: m[1] as 'set' | 'map', type: '', flags: [], elements: new Map() }
      state.sets.set(m[2]!, set)
      chain = undefined
    } else if (line === '}') {
      chain = undefined
      set = undefined
    } else if (chain) {
      if (/^type \S+ hook /.test(line)) chain.base = true
      else if (!line.startsWith('comment ')) chain.rules.push(line)
    } else if (set) {
      if (line.startsWith('type ')) set.type = line.slice(5)
      else if (line.startsWith('flags ')) set.flags = line.slice(6).split(',')
      else if (line.startsWith('timeout ')) set.timeout = parseNftDuration(line.slice(8))
      else if (line.startsWith('elements = {')) {
        let body = line.slice('elements = {'.length)
        while (!body.trimEnd().endsWith('}') && i + 1 < lines.length) body += ' ' + lines[++i]!.trim()
        body = body.trimEnd().slice(0, -1)
        for (const e of splitElements(body)) {
          const [key, value] = e.split(' : ')
          // dynamic sets list `10.0.0.1 timeout 3h expires 2h59m`: the key is what precedes
          const k = key!.replace(/ (timeout|expires) .*$/, '').trim()
          set.elements.set(k, set.kind === 'map' ? value?.trim() : undefined)
        }
      }
    }
  }
  return state
}

