// Pure: did the cluster keep every acknowledged write? From the writers' log and the objects
// read back at the end. Per key the writer is sequential, so its records are in order; the
// object must hold the effect of the last acknowledged write, or of an `unknown` attempt made
// after it (that one may have landed). A `fail` attempt must never show. Acknowledged
// resourceVersions strictly increase per key (a delete and re-create included: etcd's
// revision is cluster-wide), and the object read back is no older than the last ack.
import { decodePayload, type FinalObject, type WriteRecord } from './history.js'

export type ViolationKind =
  /** an acked create/update is not what the object holds (absent, or an older value) */
  | 'lost'
  /** an acked delete, yet the object exists (and no later unknown create explains it) */
  | 'resurrected'
  /** the object holds a write the server said it refused */
  | 'rejected-applied'
  /** the object holds a counter no writer ever sent for it */
  | 'foreign'
  /** data unreadable or its checksum wrong */
  | 'corrupt'
  /** acked resourceVersions not strictly increasing, or the final one older than an ack */
  | 'rv-order'
  /** an object in the writers' namespaces that no writer ever tried to create */
  | 'phantom'

export interface Violation {
  key: string
  kind: ViolationKind
  detail: string
}

export interface CheckResult {
  ok: boolean
  keys: number
  acked: number
  unknown: number
  failed: number
  /** acked writes whose effect is missing ('lost' + 'resurrected'). */
  lostAcked: number
  corrupt: number
  violations: Violation[]
}

type State = { present: false } | { present: true; value: number }

const show = (s: State): string => (s.present ? `counter ${s.value}` : 'absent')
const same = (a: State, b: State): boolean => a.present === b.present && (!a.present || (b.present && a.value === b.value))

function effect(r: WriteRecord): State {
  if (r.op === 'delete') return { present: false }
  if (r.value === undefined) throw new Error(`${r.key}: ${r.op} record without a value`)
  return { present: true, value: r.value }
}

function revision(rv: string): bigint | undefined {
  return /^\d+$/.test(rv) ? BigInt(rv) : undefined
}

function checkRevisions(key: string, recs: WriteRecord[], final: FinalObject | undefined, out: Violation[]): void {
  let last: { rv: bigint; raw: string } | undefined
  for (const r of recs) {
    if (r.outcome !== 'ok' || r.rv === undefined) continue
    const rv = revision(r.rv)
    if (rv === undefined) {
      out.push({ key, kind: 'rv-order', detail: `acked ${r.op} has a non-numeric resourceVersion ${JSON.stringify(r.rv)}` })
      return
    }
    if (last && rv <= last.rv) out.push({ key, kind: 'rv-order', detail: `acked ${r.op} got resourceVersion ${r.rv} after ${last.raw}` })
    last = { rv, raw: r.rv }
  }
  if (final && last) {
    const rv = revision(final.rv)
    if (rv === undefined || rv < last.rv) out.push({ key, kind: 'rv-order', detail: `read back at resourceVersion ${final.rv}, older than the acked ${last.raw}` })
  }
}

/** Check one key's history against what was read back (undefined = absent). */
function checkKey(key: string, recs: WriteRecord[], final: FinalObject | undefined, out: Violation[]): void {
  checkRevisions(key, recs, final, out)
  let actual: State = { present: false }
  if (final) {
    const d = decodePayload(key, final.data)
    if ('corrupt' in d) {
      out.push({ key, kind: 'corrupt', detail: d.corrupt })
      return
    }
    actual = { present: true, value: d.value }
  }
  let lastAck = -1
  for (let i = 0; i < recs.length; i++) if (recs[i]!.outcome === 'ok') lastAck = i
  const expected: State = lastAck >= 0 ? effect(recs[lastAck]!) : { present: false }
  const allowed = [expected, ...recs.slice(lastAck + 1).filter((r) => r.outcome === 'unknown').map(effect)]
  if (allowed.some((s) => same(s, actual))) return
  const lastOp = lastAck >= 0 ? recs[lastAck]!.op : undefined
  const because = lastAck >= 0 ? `last acked write: ${lastOp} (${show(expected)})` : 'no acked write'
  const alsoOk = allowed.length > 1 ? `; later unknown attempts allow ${allowed.slice(1).map(show).join(', ')}` : ''
  if (actual.present) {
    const v = actual.value
    const attempts = recs.filter((r) => r.op !== 'delete' && r.value === v)
    if (attempts.length === 0) out.push({ key, kind: 'foreign', detail: `holds counter ${v}, never sent for this key` })
    else if (attempts.every((r) => r.outcome === 'fail')) out.push({ key, kind: 'rejected-applied', detail: `holds counter ${v} from a refused ${attempts[0]!.op}; ${because}` })
    else if (lastOp === 'delete') out.push({ key, kind: 'resurrected', detail: `holds ${show(actual)}; ${because}${alsoOk}` })
    else out.push({ key, kind: 'lost', detail: `holds ${show(actual)}; ${because}${alsoOk}` })
  } else if (lastAck >= 0) out.push({ key, kind: 'lost', detail: `absent; ${because}${alsoOk}` })
}

export function checkHistory(records: readonly WriteRecord[], finalObjects: readonly FinalObject[]): CheckResult {
  const byKey = new Map<string, WriteRecord[]>()
  for (const r of records) {
    const l = byKey.get(r.key)
    if (l) l.push(r)
    else byKey.set(r.key, [r])
  }
  const finals = new Map(finalObjects.map((o) => [o.key, o]))
  const violations: Violation[] = []
  for (const [key, recs] of byKey) {
    // Sequential per key: sort by send time (stable) so callers may pass interleaved logs.
    const ordered = [...recs].sort((a, b) => a.start - b.start)
    checkKey(key, ordered, finals.get(key), violations)
  }
  for (const o of finalObjects) if (!byKey.has(o.key)) violations.push({ key: o.key, kind: 'phantom', detail: `exists at resourceVersion ${o.rv}; no writer touched it` })
  const count = (k: ViolationKind[]): number => violations.filter((v) => k.includes(v.kind)).length
  return {
    ok: violations.length === 0,
    keys: byKey.size,
    acked: records.filter((r) => r.outcome === 'ok').length,
    unknown: records.filter((r) => r.outcome === 'unknown').length,
    failed: records.filter((r) => r.outcome === 'fail').length,
    lostAcked: count(['lost', 'resurrected']),
    corrupt: count(['corrupt']),
    violations,
  }
}
