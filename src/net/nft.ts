// A typed nftables transaction, in the manner of knftables: callers queue add/flush/delete
// operations on one table's objects, the transaction renders to `nft -f` text exactly once,
// and the kernel applies the whole batch atomically (all or nothing). A fake runner keeps an
// in-memory model of the table, so pure code can be unit-tested without root and the result
// of a full vs an incremental transaction compared.
//
// nft 1.0.6 traps handled here: every rule line ends with a newline (a rule directly before
// `}` needs `;`), names are bare identifiers (letters, digits, `/ - _ .`, starting with a
// letter), and elements are batched per set to keep the text (and the parse) small.
import { ExecError, type RunResult } from '../util/exec.js'
import { runIn } from './netns.js'
import { parseNftList, type NftTableState } from './nft-list.js'

export type { NftTableState }

export type NftFamily = 'ip' | 'ip6' | 'inet'

export interface NftChain {
  kind: 'chain'
  name: string
  /** Base chains only: `type nat hook prerouting priority dstnat`. */
  type?: 'nat' | 'filter' | 'route'
  hook?: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'
  priority?: string | number
  comment?: string
}

export interface NftRule {
  kind: 'rule'
  chain: string
  rule: string
}

export interface NftSet {
  kind: 'set' | 'map'
  name: string
  /** `ipv4_addr . inet_proto . inet_service : verdict` for a map, `ipv4_addr` for a set. */
  type: string
  flags?: string[]
  /** Seconds (dynamic sets with timeout). */
  timeout?: number
  comment?: string
}

export interface NftElement {
  kind: 'element'
  /** Name of the set or map. */
  set: string
  key: string
  /** Maps only. */
  value?: string
  /** The set has `flags interval` and a concatenated key: over netlink every element then carries a KEY_END, as nft sends it. */
  interval?: boolean
}

export interface NftTableObj {
  kind: 'table'
  comment?: string
}

export type NftObject = NftTableObj | NftChain | NftRule | NftSet | NftElement
export type NftVerb = 'add' | 'flush' | 'delete'

export interface NftOp {
  verb: NftVerb
  obj: NftObject
  /** Another table of the same family (default: the transaction's): one batch, one commit. */
  table?: string
}

const IDENT = /^[A-Za-z][A-Za-z0-9/_.\-]*$/

function checkName(name: string): string {
  if (!IDENT.test(name) || name.length > 255) throw new Error(`nft: invalid object name ${JSON.stringify(name)}`)
  return name
}

const quote = (s: string): string => `"${s.replace(/"/g, "'")}"`

/** One batch of operations on one table, rendered and sent once. */
export class NftTransaction {
  readonly ops: NftOp[] = []
  constructor(
    readonly family: NftFamily,
    readonly table: string,
  ) {
    checkName(table)
  }

  private push(verb: NftVerb, obj: NftObject, table?: string): this {
    if (table !== undefined && table !== this.table) this.ops.push({ verb, obj, table: checkName(table) })
    else this.ops.push({ verb, obj })
    return this
  }
  /** `table`: an op on another table of this family, in the same transaction. */
  add(obj: NftObject, table?: string): this {
    return this.push('add', obj, table)
  }
  flush(obj: NftTableObj | NftChain | NftSet, table?: string): this {
    return this.push('flush', obj, table)
  }
  delete(obj: NftObject, table?: string): this {
    if (obj.kind === 'rule') throw new Error('nft: rules are deleted by flushing their chain')
    return this.push('delete', obj, table)
  }

  get size(): number {
    return this.ops.length
  }

  /** `nft -f` text. Consecutive element ops on the same set with the same verb share one line. */
  render(): string {
    const out: string[] = []
    for (let i = 0; i < this.ops.length; i++) {
      const { verb, obj } = this.ops[i]!
      const table = this.ops[i]!.table ?? this.table
      const t = `${this.family} ${table}`
      switch (obj.kind) {
        case 'table':
          out.push(verb === 'add' && obj.comment ? `add table ${t} { comment ${quote(obj.comment)} ; }` : `${verb} table ${t}`)
          break
        case 'chain': {
          const name = checkName(obj.name)
          if (verb !== 'add') {
            out.push(`${verb} chain ${t} ${name}`)
            break
          }
          const parts: string[] = []
          if (obj.type && obj.hook) parts.push(`type ${obj.type} hook ${obj.hook} priority ${obj.priority ?? 0} ;`)
          if (obj.comment) parts.push(`comment ${quote(obj.comment)} ;`)
          out.push(parts.length ? `add chain ${t} ${name} { ${parts.join(' ')} }` : `add chain ${t} ${name}`)
          break
        }
        case 'rule':
          out.push(`add rule ${t} ${checkName(obj.chain)} ${obj.rule}`)
          break
        case 'set':
        case 'map': {
          const name = checkName(obj.name)
          if (verb !== 'add') {
            out.push(`${verb} ${obj.kind} ${t} ${name}`)
            break
          }
          const parts = [`type ${obj.type} ;`]
          if (obj.flags?.length) parts.push(`flags ${obj.flags.join(',')} ;`)
          if (obj.timeout !== undefined) parts.push(`timeout ${obj.timeout}s ;`)
          if (obj.comment) parts.push(`comment ${quote(obj.comment)} ;`)
          out.push(`add ${obj.kind} ${t} ${name} { ${parts.join(' ')} }`)
          break
        }
        case 'element': {
          const items: string[] = []
          let j = i
          for (; j < this.ops.length; j++) {
            const o = this.ops[j]!
            if (o.verb !== verb || o.obj.kind !== 'element' || o.obj.set !== obj.set || (o.table ?? this.table) !== table) break
            // a deleted element is named by its key alone
            items.push(verb === 'add' && o.obj.value !== undefined ? `${o.obj.key} : ${o.obj.value}` : o.obj.key)
          }
          i = j - 1
          out.push(`${verb} element ${t} ${checkName(obj.set)} { ${items.join(', ')} }`)
          break
        }
      }
    }
    return out.length ? out.join('\n') + '\n' : ''
  }
}

export type NftErrorKind = 'notFound' | 'exists' | 'syntax' | 'busy' | 'permission' | 'other'

/** A failed `nft` run, classified so callers can decide (e.g. "table gone" vs "bad rule"). */
export class NftError extends Error {
  constructor(
    readonly kind: NftErrorKind,
    message: string,
    readonly stderr: string,
  ) {
    super(message)
  }
}

export function classifyNftError(stderr: string): NftErrorKind {
  if (/syntax error|unexpected|Could not process rule: (Invalid argument|Numerical result)/i.test(stderr)) return 'syntax'
  if (/No such file or directory|does not exist/i.test(stderr)) return 'notFound'
  if (/File exists/i.test(stderr)) return 'exists'
  if (/Device or resource busy/i.test(stderr)) return 'busy'
  if (/Operation not permitted|Permission denied/i.test(stderr)) return 'permission'
  return 'other'
}

/** What a table should hold (chains, declarations, rules in order), for readers that compare. */
export interface NftReferenceLike {
  chains: readonly NftChain[]
  sets: readonly NftSet[]
  rules: readonly (readonly [string, string])[]
}

/** Applies transactions and reads back state. */
export interface NftRunner {
  apply(tx: NftTransaction): Promise<void>
  /** `nft list table FAMILY NAME` text, or undefined when the table does not exist. */
  listTable(family: NftFamily, table: string): Promise<string | undefined>
  /** The table as data (chains, rules, sets, elements), or undefined when it does not exist. */
  readTable?(family: NftFamily, table: string): Promise<NftTableState | undefined>
  /** Several tables of one family in one read: name → state for those that exist. */
  readTables?(family: NftFamily, tables: readonly string[], reference?: (table: string) => NftReferenceLike | undefined): Promise<Map<string, NftTableState>>
}

/** The real thing: `nft -f -`, inside namespace `netns` (name or path) when given. */
export class NftExec implements NftRunner {
  constructor(readonly netns?: string) {}

  private nft(args: string[], input?: string): Promise<RunResult> {
    const opts = { input: input ?? '', allowFailure: true, timeoutMs: 300_000 }
    return runIn(this.netns, 'nft', args, opts)
  }

  async apply(tx: NftTransaction): Promise<void> {
    const text = tx.render()
    if (!text) return
    const r = await this.nft(['-f', '-'], text)
    if (r.code !== 0) {
      const first = r.stderr.split('\n').slice(0, 6).join('\n')
      throw new NftError(classifyNftError(r.stderr), `nft -f (${tx.size} ops${this.netns ? ` in ${this.netns}` : ''}): ${first}`, r.stderr)
    }
  }

  /** `terse`: without set contents (`nft -t`), for readers that fetch elements over netlink. */
  async listTable(family: NftFamily, table: string, opts: { terse?: boolean } = {}): Promise<string | undefined> {
    const r = await this.nft([...(opts.terse ? ['-t'] : []), 'list', 'table', family, table])
    if (r.code === 0) return r.stdout
    if (classifyNftError(r.stderr) === 'notFound') return undefined
    throw new NftError(classifyNftError(r.stderr), `nft list table ${family} ${table}: ${r.stderr.trim()}`, r.stderr)
  }

  /**
   * The table's chains (base or not, no rules) and set/map declarations (no elements):
   * `nft -t list sets|maps table` and `list chains`, which fetch no set elements (fast at
   * any table size). Undefined when the table does not exist.
   */
  async listDeclarations(family: NftFamily, table: string): Promise<NftTableState | undefined> {
    const r = await this.nft(['-t', '-f', '-'], `list sets table ${family} ${table}\nlist maps ${family}\nlist chains ${family}\n`)
    if (r.code !== 0) {
      if (classifyNftError(r.stderr) === 'notFound') return undefined
      throw new NftError(classifyNftError(r.stderr), `nft list sets/maps/chains ${family} ${table}: ${r.stderr.trim()}`, r.stderr)
    }
    // one `table F NAME { … }` block per table and command: keep ours, merged
    const state: NftTableState = { chains: new Map(), sets: new Map() }
    const head = `table ${family} ${table} {`
    for (const block of r.stdout.split(/^(?=table )/m)) {
      if (!block.startsWith(head + '\n')) continue
      const part = parseNftList(block)
      for (const [k, v] of part.chains) state.chains.set(k, v)
      for (const [k, v] of part.sets) state.sets.set(k, v)
    }
    return state
  }

  async readTable(family: NftFamily, table: string): Promise<NftTableState | undefined> {
    const text = await this.listTable(family, table)
    return text === undefined ? undefined : parseNftList(text)
  }

  /**
   * One `nft list table` per table, four at a time: nft 1.0.6 fetches the whole ruleset for
   * `list ruleset`/`list tables` and grows badly with the number of tables (22 s for 65
   * tables holding 1k Services, measured), while a per-table list reads only that table.
   */
  async readTables(family: NftFamily, tables: readonly string[]): Promise<Map<string, NftTableState>> {
    const out = new Map<string, NftTableState>()
    const queue = [...tables]
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        const st = await this.readTable(family, t)
        if (st) out.set(t, st)
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    return out
  }
}

export { ExecError }

interface FakeTable {
  chains: Map<string, { base?: string; rules: string[] }>
  sets: Map<string, { decl: string; obj: NftSet; elements: Map<string, string | undefined> }>
}

/**
 * In-memory nftables for unit tests. It records every transaction and applies it to a model
 * with the kernel's rules where they matter for correctness: operations on missing objects
 * fail, a chain must be empty to be deleted, and a failing transaction changes nothing.
 */
export class FakeNft implements NftRunner {
  readonly transactions: NftTransaction[] = []
  tables = new Map<string, FakeTable>()
  /** Make the next apply fail with this error kind (once). */
  failNext?: NftErrorKind

  get lastTransaction(): NftTransaction | undefined {
    return this.transactions[this.transactions.length - 1]
  }

  async apply(tx: NftTransaction): Promise<void> {
    this.transactions.push(tx)
    if (this.failNext) {
      const kind = this.failNext
      this.failNext = undefined
      throw new NftError(kind, `fake nft: injected ${kind}`, '')
    }
    const next = new Map(this.tables)
    const cloneTable = (t: FakeTable): FakeTable => ({
      chains: new Map([...t.chains].map(([k, v]) => [k, { ...v, rules: [...v.rules] }])),
      sets: new Map([...t.sets].map(([k, v]) => [k, { decl: v.decl, obj: v.obj, elements: new Map(v.elements) }])),
    })
    // tables this transaction touched, cloned on first touch (undefined = deleted)
    const touched = new Map<string, FakeTable | undefined>()
    const fail = (msg: string): never => {
      throw new NftError('notFound', `fake nft: ${msg}`, msg)
    }
    let key = ''
    let table: FakeTable | undefined
    for (const op of tx.ops) {
      const { verb, obj } = op
      const k = `${tx.family} ${op.table ?? tx.table}`
      if (k !== key) {
        if (key) touched.set(key, table)
        key = k
        table = touched.has(k) ? touched.get(k) : next.get(k) ? cloneTable(next.get(k)!) : undefined
      }
      if (obj.kind === 'table') {
        if (verb === 'add') table ??= { chains: new Map(), sets: new Map() }
        else if (!table) fail(`table ${key} does not exist`)
        else if (verb === 'delete') table = undefined
        else {
          for (const c of table.chains.values()) c.rules = []
          for (const s of table.sets.values()) s.elements.clear()
        }
        continue
      }
      if (!table) fail(`table ${key} does not exist`)
      const tb = table!
      switch (obj.kind) {
        case 'chain': {
          const c = tb.chains.get(obj.name)
          if (verb === 'add') {
            if (!c) tb.chains.set(obj.name, { base: obj.hook ? `${obj.type} ${obj.hook} ${obj.priority}` : undefined, rules: [] })
          } else if (!c) fail(`chain ${obj.name} does not exist`)
          else if (verb === 'flush') c.rules = []
          else if (c.rules.length) throw new NftError('busy', `fake nft: chain ${obj.name} not empty`, '')
          else tb.chains.delete(obj.name)
          break
        }
        case 'rule': {
          const c = tb.chains.get(obj.chain) ?? fail(`chain ${obj.chain} does not exist`)
          c.rules.push(obj.rule)
          break
        }
        case 'set':
        case 'map': {
          const s = tb.sets.get(obj.name)
          if (verb === 'add') {
            if (!s) tb.sets.set(obj.name, { decl: `${obj.kind} ${obj.type} ${obj.flags?.join(',') ?? ''} ${obj.timeout ?? ''}`, obj, elements: new Map() })
          } else if (!s) fail(`${obj.kind} ${obj.name} does not exist`)
          else if (verb === 'flush') s.elements.clear()
          else tb.sets.delete(obj.name)
          break
        }
        case 'element': {
          const s = tb.sets.get(obj.set) ?? fail(`set ${obj.set} does not exist`)
          if (verb === 'add') {
            if (!s.elements.has(obj.key)) s.elements.set(obj.key, obj.value)
          } else if (!s.elements.has(obj.key)) fail(`element ${obj.key} in ${obj.set} does not exist`)
          else s.elements.delete(obj.key)
          break
        }
      }
    }
    if (key) touched.set(key, table)
    for (const [k, tb] of touched) {
      if (tb) next.set(k, tb)
      else next.delete(k)
    }
    this.tables = next
  }

  async listTable(family: NftFamily, table: string): Promise<string | undefined> {
    return this.dump(family, table)
  }

  async readTable(family: NftFamily, table: string): Promise<NftTableState | undefined> {
    const t = this.tables.get(`${family} ${table}`)
    if (!t) return undefined
    const state: NftTableState = { chains: new Map(), sets: new Map() }
    for (const [name, c] of t.chains) state.chains.set(name, { base: c.base !== undefined, rules: [...c.rules] })
    for (const [name, s] of t.sets)
      state.sets.set(name, { kind: s.obj.kind, type: s.obj.type, flags: [...(s.obj.flags ?? [])], timeout: s.obj.timeout, elements: new Map(s.elements) })
    return state
  }

  async readTables(family: NftFamily, tables: readonly string[]): Promise<Map<string, NftTableState>> {
    const out = new Map<string, NftTableState>()
    for (const name of tables) {
      const st = await this.readTable(family, name)
      if (st) out.set(name, st)
    }
    return out
  }

  /** Canonical, sorted text of a table's content: equal dumps mean equal rulesets. */
  dump(family: NftFamily, table: string): string | undefined {
    const t = this.tables.get(`${family} ${table}`)
    if (!t) return undefined
    const out: string[] = []
    for (const name of [...t.chains.keys()].sort()) {
      const c = t.chains.get(name)!
      out.push(`chain ${name}${c.base ? ` [${c.base}]` : ''}`, ...c.rules.map((r) => `  ${r}`))
    }
    for (const name of [...t.sets.keys()].sort()) {
      const s = t.sets.get(name)!
      out.push(`${s.decl.split(' ')[0]} ${name}`, ...[...s.elements].map(([k, v]) => `  ${k}${v !== undefined ? ` : ${v}` : ''}`).sort())
    }
    return out.join('\n') + '\n'
  }
}
