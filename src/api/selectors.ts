// Label and field selectors: the string grammar of k8s.io/apimachinery/pkg/labels and pkg/fields,
// the metav1.LabelSelector API form, matching, and which fields each resource lets you select on.
//
// Conventions (they differ and matter):
// - A selector STRING that is empty selects everything (`?labelSelector=` lists all).
// - An API LabelSelector that is nil/undefined selects NOTHING (a Deployment without selector owns
//   no pods; a NetworkPolicy-like consumer must not match everything by accident), while an empty
//   object `{}` selects EVERYTHING. `labelSelectorFromApi(undefined)` therefore returns
//   `selectorMatchesNothing`, and `labelSelectorMatches` applies the rule directly.
import type { KubeObject, LabelSelector } from './types.js'
import type { ResourceInfo } from './resources.js'
import { isQualifiedName, isValidLabelValue } from './names.js'
import { EVENTS_V1_FIELD_ALIASES } from './events.js'

export interface Requirement {
  key: string
  operator: 'in' | 'notin' | 'exists' | '!' | '=' | '==' | '!=' | 'gt' | 'lt'
  values: string[]
}

/** AND of requirements; empty = everything. */
export type ParsedSelector = Requirement[]

export class SelectorError extends Error {
  override name = 'SelectorError'
}

/**
 * A selector no label set satisfies: one `in` requirement with an empty value set (which the
 * parser never produces). Frozen, so callers cannot turn it into "everything" by accident.
 */
export const selectorMatchesNothing: ParsedSelector = Object.freeze([
  Object.freeze({ key: '', operator: 'in', values: Object.freeze([]) as unknown as string[] }) as Requirement,
]) as unknown as ParsedSelector

export function isMatchNothing(sel: ParsedSelector): boolean {
  return sel.some((r) => (r.operator === 'in' || r.operator === '=' || r.operator === '==') && r.values.length === 0)
}

// ---------------- label selector string grammar ----------------

type Tok =
  | { t: 'id'; v: string }
  | { t: 'in' }
  | { t: 'notin' }
  | { t: '!' }
  | { t: '=' }
  | { t: '==' }
  | { t: '!=' }
  | { t: '>' }
  | { t: '<' }
  | { t: ',' }
  | { t: '(' }
  | { t: ')' }
  | { t: 'end' }

const SPECIAL = '=!(),><'

function lex(s: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  while (i < s.length) {
    const c = s[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (SPECIAL.includes(c)) {
      const two = s.slice(i, i + 2)
      if (two === '==' || two === '!=') {
        out.push({ t: two })
        i += 2
        continue
      }
      out.push({ t: c as '=' | '!' | '(' | ')' | ',' | '>' | '<' })
      i++
      continue
    }
    let j = i
    while (j < s.length && !SPECIAL.includes(s[j]!) && !/\s/.test(s[j]!)) j++
    const word = s.slice(i, j)
    if (word === 'in') out.push({ t: 'in' })
    else if (word === 'notin') out.push({ t: 'notin' })
    else out.push({ t: 'id', v: word })
    i = j
  }
  out.push({ t: 'end' })
  return out
}

const describe = (t: Tok): string => (t.t === 'id' ? JSON.stringify(t.v) : t.t === 'end' ? 'end of string' : `'${t.t}'`)

function checkKey(key: string, sel: string): void {
  const errs = isQualifiedName(key)
  if (errs.length > 0) throw new SelectorError(`unable to parse requirement: key: Invalid value: ${JSON.stringify(key)}: ${errs.join('; ')} (in selector ${JSON.stringify(sel)})`)
}

function checkValue(v: string, sel: string): void {
  const errs = isValidLabelValue(v)
  if (errs.length > 0) throw new SelectorError(`unable to parse requirement: values: Invalid value: ${JSON.stringify(v)}: ${errs.join('; ')} (in selector ${JSON.stringify(sel)})`)
}

/**
 * Parse a label selector string: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
 * `a>5`, `a<5`, comma-separated (AND). Values may be empty (`a=`). Throws SelectorError.
 */
export function parseLabelSelector(s: string): ParsedSelector {
  const toks = lex(s)
  let p = 0
  const peek = (): Tok => toks[p]!
  const next = (): Tok => toks[p++]!
  const fail = (what: string): never => {
    throw new SelectorError(`unable to parse requirement: ${what} (in selector ${JSON.stringify(s)})`)
  }
  const reqs: Requirement[] = []
  if (peek().t === 'end') return reqs
  for (;;) {
    let neg = false
    if (peek().t === '!') {
      next()
      neg = true
    }
    const k = next()
    if (k.t !== 'id') fail(`found ${describe(k)}, expected: identifier`)
    const key = (k as { v: string }).v
    checkKey(key, s)
    if (neg) {
      reqs.push({ key, operator: '!', values: [] })
      const after = peek()
      if (after.t !== ',' && after.t !== 'end') fail(`found ${describe(after)}, expected: ',' or end of string`)
    } else {
      const op = peek()
      if (op.t === ',' || op.t === 'end') {
        reqs.push({ key, operator: 'exists', values: [] })
      } else if (op.t === '=' || op.t === '==' || op.t === '!=' || op.t === '>' || op.t === '<') {
        next()
        const v = peek()
        let value = ''
        if (v.t === 'id') {
          next()
          value = v.v
        } else if (v.t === 'in' || v.t === 'notin') {
          next()
          value = v.t
        } else if (v.t !== ',' && v.t !== 'end') {
          fail(`found ${describe(v)}, expected: identifier`)
        }
        if (op.t === '>' || op.t === '<') {
          if (!/^-?[0-9]+$/.test(value)) fail(`for 'Gt', 'Lt' operators, the value must be an integer: ${JSON.stringify(value)}`)
          reqs.push({ key, operator: op.t === '>' ? 'gt' : 'lt', values: [value] })
        } else {
          checkValue(value, s)
          reqs.push({ key, operator: op.t, values: [value] })
        }
      } else if (op.t === 'in' || op.t === 'notin') {
        next()
        const open = next()
        if (open.t !== '(') fail(`found ${describe(open)}, expected: '('`)
        const values: string[] = []
        for (;;) {
          const v = next()
          if (v.t === ')' && values.length === 0) break
          let value = ''
          if (v.t === 'id') value = v.v
          else if (v.t === 'in' || v.t === 'notin') value = v.t
          else if (v.t === ',' || v.t === ')') {
            // an empty value between separators: `(a,,b)` or `(a,)`
            p--
          } else fail(`found ${describe(v)}, expected: ',', ')' or identifier`)
          checkValue(value, s)
          if (!values.includes(value)) values.push(value)
          const sep = next()
          if (sep.t === ')') break
          if (sep.t !== ',') fail(`found ${describe(sep)}, expected: ',' or ')'`)
        }
        if (values.length === 0) fail(`for 'in', 'notin' operators, values set can't be empty`)
        reqs.push({ key, operator: op.t, values })
      } else {
        fail(`found ${describe(op)}, expected: in, notin, =, ==, !=, gt, lt`)
      }
    }
    const sep = next()
    if (sep.t === 'end') break
    if (sep.t !== ',') fail(`found ${describe(sep)}, expected: ','`)
    if (peek().t === 'end') fail(`found end of string, expected: identifier`)
  }
  return reqs
}

function requirementMatches(r: Requirement, labels: Record<string, string> | undefined): boolean {
  // `labels: null` is accepted on write (Go decodes it as a nil map): it means no labels.
  const has = labels !== undefined && labels !== null && Object.prototype.hasOwnProperty.call(labels, r.key)
  const v = has ? labels![r.key]! : undefined
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(v!)
    case 'notin':
    case '!=':
      return !has || !r.values.includes(v!)
    case 'exists':
      return has
    case '!':
      return !has
    case 'gt':
    case 'lt': {
      if (!has || !/^-?[0-9]+$/.test(v!) || r.values.length !== 1) return false
      const lv = BigInt(v!)
      const rv = BigInt(r.values[0]!)
      return r.operator === 'gt' ? lv > rv : lv < rv
    }
  }
}

export function matchesLabels(sel: ParsedSelector, labels: Record<string, string> | undefined): boolean {
  return sel.every((r) => requirementMatches(r, labels))
}

/**
 * metav1.LabelSelector → requirements. undefined → `selectorMatchesNothing`; `{}` → [] (everything).
 * Throws SelectorError on an invalid selector (unknown operator, values on Exists, none on In).
 */
export function labelSelectorFromApi(ls: LabelSelector | undefined): ParsedSelector {
  if (ls === undefined || ls === null) return selectorMatchesNothing
  const reqs: Requirement[] = []
  for (const [k, v] of Object.entries(ls.matchLabels ?? {})) {
    reqs.push({ key: k, operator: '=', values: [v] })
  }
  for (const e of ls.matchExpressions ?? []) {
    const values = e.values ?? []
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) throw new SelectorError(`for 'in', 'notin' operators, values set can't be empty`)
        reqs.push({ key: e.key, operator: e.operator === 'In' ? 'in' : 'notin', values: [...values] })
        break
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) throw new SelectorError(`values set must be empty for exists and does not exist`)
        reqs.push({ key: e.key, operator: e.operator === 'Exists' ? 'exists' : '!', values: [] })
        break
      default:
        throw new SelectorError(`${JSON.stringify((e as { operator: unknown }).operator)} is not a valid label selector operator`)
    }
  }
  return reqs
}

/** nil selector → false; `{}` → true; otherwise matchLabels AND matchExpressions. */
export function labelSelectorMatches(ls: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (ls === undefined || ls === null) return false
  try {
    return matchesLabels(labelSelectorFromApi(ls), labels)
  } catch {
    return false
  }
}

/** True when a LabelSelector selects everything (`{}`). */
export function labelSelectorIsEmpty(ls: LabelSelector | undefined): boolean {
  return ls !== undefined && ls !== null && Object.keys(ls.matchLabels ?? {}).length === 0 && (ls.matchExpressions ?? []).length === 0
}

/** String form of parsed requirements, sorted by key as labels.Selector.String() prints them. */
export function formatSelector(sel: ParsedSelector): string {
  const sorted = [...sel].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return sorted
    .map((r) => {
      switch (r.operator) {
        case 'in':
        case 'notin':
          return `${r.key} ${r.operator} (${[...r.values].sort().join(',')})`
        case 'exists':
          return r.key
        case '!':
          return `!${r.key}`
        case 'gt':
          return `${r.key}>${r.values[0] ?? ''}`
        case 'lt':
          return `${r.key}<${r.values[0] ?? ''}`
        default:
          return `${r.key}${r.operator}${r.values[0] ?? ''}`
      }
    })
    .join(',')
}

/**
 * metav1.LabelSelector as a selector string (Scale.status.selector, kubectl's SELECTOR column):
 * `app=web,tier in (a,b)`. `{}` → '' (everything).
 */
export function formatLabelSelector(ls: LabelSelector): string {
  const reqs = labelSelectorFromApi(ls)
  // matchLabels print as `k=v` (labels.Set form), not `k==v`.
  return formatSelector(reqs)
}

// ---------------- field selectors ----------------

/** Split on an unescaped separator; `\` escapes `\`, `,`, `=` and `!` in values. */
function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = []
  let cur = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1]
      i++
    } else if (c === sep) {
      parts.push(cur)
      cur = ''
    } else cur += c
  }
  parts.push(cur)
  return parts
}

function unescapeFieldValue(v: string, sel: string): string {
  let out = ''
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!
    if (c === '\\') {
      const n = v[i + 1]
      if (n === undefined || !'\\,=!'.includes(n)) throw new SelectorError(`invalid field selector: invalid escape sequence in ${JSON.stringify(sel)}`)
      out += n
      i++
    } else if (c === ',' || c === '=') {
      throw new SelectorError(`invalid field selector: unescaped ${c} in value: ${JSON.stringify(sel)}`)
    } else out += c
  }
  return out
}

/** Parse `metadata.name=x,spec.nodeName!=y` (`=`, `==`, `!=` only). Throws SelectorError. */
export function parseFieldSelector(s: string): ParsedSelector {
  const reqs: Requirement[] = []
  if (s.trim() === '') return reqs
  for (const part of splitUnescaped(s, ',')) {
    let m: RegExpExecArray | null = null
    for (const op of ['!=', '==', '='] as const) {
      const i = findUnescaped(part, op)
      if (i >= 0) {
        m = [part, part.slice(0, i), op, part.slice(i + op.length)] as unknown as RegExpExecArray
        break
      }
    }
    if (!m) throw new SelectorError(`invalid selector: '${s}'; can't understand '${part}'`)
    const key = m[1]!.trim()
    if (key === '') throw new SelectorError(`invalid selector: '${s}'; can't understand '${part}'`)
    reqs.push({ key, operator: m[2] as '=' | '==' | '!=', values: [unescapeFieldValue(m[3]!, s)] })
  }
  return reqs
}

function findUnescaped(s: string, op: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      i++
      continue
    }
    if (s.startsWith(op, i)) return i
  }
  return -1
}

/** Fields absent from `fields` compare as the empty string, as k8s field sets do. */
export function matchesFields(sel: ParsedSelector, fields: Record<string, string>): boolean {
  return sel.every((r) => {
    const v = Object.prototype.hasOwnProperty.call(fields, r.key) ? fields[r.key]! : ''
    switch (r.operator) {
      case '=':
      case '==':
      case 'in':
        return r.values.includes(v)
      case '!=':
      case 'notin':
        return !r.values.includes(v)
      default:
        return false
    }
  })
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v))
const get = (o: unknown, ...path: string[]): unknown => {
  let cur = o
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

/** The extra selectable fields per resource (metadata.name/namespace are always selectable). */
const FIELDS: Record<string, Record<string, (o: KubeObject) => string>> = {
  certificatesigningrequests: { 'spec.signerName': (o) => str(get(o, 'spec', 'signerName')) },
  pods: {
    'spec.nodeName': (o) => str(get(o, 'spec', 'nodeName')),
    'spec.restartPolicy': (o) => str(get(o, 'spec', 'restartPolicy')),
    'spec.schedulerName': (o) => str(get(o, 'spec', 'schedulerName')),
    'spec.serviceAccountName': (o) => str(get(o, 'spec', 'serviceAccountName')),
    'spec.hostNetwork': (o) => String(get(o, 'spec', 'hostNetwork') === true),
    'status.phase': (o) => str(get(o, 'status', 'phase')),
    'status.podIP': (o) => str(get(o, 'status', 'podIP')),
    'status.nominatedNodeName': (o) => str(get(o, 'status', 'nominatedNodeName')),
  },
  nodes: { 'spec.unschedulable': (o) => String(get(o, 'spec', 'unschedulable') === true) },
  services: {
    'spec.clusterIP': (o) => str(get(o, 'spec', 'clusterIP')),
    'spec.type': (o) => str(get(o, 'spec', 'type')),
  },
  replicasets: { 'status.replicas': (o) => String(get(o, 'status', 'replicas') ?? 0) },
  namespaces: { 'status.phase': (o) => str(get(o, 'status', 'phase')) },
  endpointslices: { addressType: (o) => str(get(o, 'addressType')) },
}

// Events (issue #11): core/v1 names (the storage form, which selectors are matched against);
// events.k8s.io/v1 selects the same objects under its own names (upstream's field label conversion).
const EVENT_FIELDS: Record<string, (o: KubeObject) => string> = {
  'involvedObject.kind': (o) => str(get(o, 'involvedObject', 'kind')),
  'involvedObject.namespace': (o) => str(get(o, 'involvedObject', 'namespace')),
  'involvedObject.name': (o) => str(get(o, 'involvedObject', 'name')),
  'involvedObject.uid': (o) => str(get(o, 'involvedObject', 'uid')),
  'involvedObject.apiVersion': (o) => str(get(o, 'involvedObject', 'apiVersion')),
  'involvedObject.resourceVersion': (o) => str(get(o, 'involvedObject', 'resourceVersion')),
  'involvedObject.fieldPath': (o) => str(get(o, 'involvedObject', 'fieldPath')),
  reason: (o) => str(get(o, 'reason')),
  reportingComponent: (o) => str(get(o, 'reportingComponent')),
  source: (o) => str(get(o, 'source', 'component')),
  type: (o) => str(get(o, 'type')),
}
const EVENTS_V1_FIELDS: Record<string, (o: KubeObject) => string> = Object.fromEntries(
  Object.entries(EVENTS_V1_FIELD_ALIASES).map(([v1, core]) => [v1, EVENT_FIELDS[core]!]),
)
const SECRET_FIELDS: Record<string, (o: KubeObject) => string> = { type: (o) => str(get(o, 'type')) }

function fieldsOf(r: ResourceInfo): Record<string, (o: KubeObject) => string> {
  if (r.kind === 'Event') return r.group === '' ? EVENT_FIELDS : EVENTS_V1_FIELDS
  if (r.kind === 'Secret') return SECRET_FIELDS
  return FIELDS[r.plural] ?? {}
}

export function selectableFields(r: ResourceInfo, obj: KubeObject): Record<string, string> {
  const out: Record<string, string> = { 'metadata.name': obj.metadata.name ?? '' }
  // Cluster-scoped objects still answer metadata.namespace (as ''), like kube-apiserver.
  out['metadata.namespace'] = r.namespaced ? obj.metadata.namespace ?? '' : ''
  for (const [k, f] of Object.entries(fieldsOf(r))) out[k] = f(obj)
  return out
}

/** Whether `field` may appear in a fieldSelector for r; otherwise 400 `field label not supported: x`. */
export function isSelectableField(r: ResourceInfo, field: string): boolean {
  return field === 'metadata.name' || field === 'metadata.namespace' || Object.prototype.hasOwnProperty.call(fieldsOf(r), field)
}

/** The unsupported fields of a parsed field selector, for the 400 message. */
export function unsupportedFields(r: ResourceInfo, sel: ParsedSelector): string[] {
  return sel.filter((q) => !isSelectableField(r, q.key)).map((q) => q.key)
}
