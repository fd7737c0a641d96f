// Rule matching, as upstream's rbac/v1 helpers (VerbMatches, APIGroupMatches, ResourceMatches,
// ResourceNameMatches, NonResourceURLMatches) — pure functions over one PolicyRule, plus the
// breakdown into single-verb atoms that escalation checks and SelfSubjectRulesReview use.
import type { PolicyRule } from '../api/types.js'
import type { Attributes } from '../apiserver/authorizer.js'

const has = (list: readonly string[] | undefined, v: string): boolean => !!list && (list.includes('*') || list.includes(v))

export const verbMatches = (rule: PolicyRule, verb: string): boolean => has(rule.verbs, verb)
export const apiGroupMatches = (rule: PolicyRule, group: string): boolean => has(rule.apiGroups, group)

/** `pods` matches pods only; `pods/log` a subresource; `*` everything; `*\/scale` a subresource of any resource. */
export function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true
    if (subresource && r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true
  }
  return false
}

export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? []
  return names.length === 0 || names.includes(name)
}

/** Exact, `*`, or a trailing-`*` prefix (`/healthz/*`). */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true
  }
  return false
}

export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (a.resourceRequest) {
    return verbMatches(rule, a.verb) && apiGroupMatches(rule, a.apiGroup) && resourceMatches(rule, a.resource, a.subresource) && resourceNameMatches(rule, a.name)
  }
  return verbMatches(rule, a.verb) && nonResourceURLMatches(rule, a.path)
}

export function rulesAllow(a: Attributes, rules: readonly PolicyRule[]): boolean {
  for (const r of rules) if (ruleAllows(a, r)) return true
  return false
}

/** BreakdownRule: one rule per (group, resource, name, verb) or (url, verb). */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = []
  for (const group of rule.apiGroups ?? [])
    for (const resource of rule.resources ?? [])
      for (const verb of rule.verbs ?? []) {
        const names = rule.resourceNames ?? []
        if (names.length) for (const n of names) out.push({ apiGroups: [group], resources: [resource], resourceNames: [n], verbs: [verb] })
        else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] })
      }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs ?? []) out.push({ nonResourceURLs: [url], verbs: [verb] })
  return out
}

const hasAll = (owner: readonly string[] | undefined, want: readonly string[] | undefined): boolean =>
  (owner ?? []).includes('*') || (want ?? []).every((w) => (owner ?? []).includes(w))

function resourceCovers(owner: readonly string[], want: string): boolean {
  if (owner.includes('*') || owner.includes(want)) return true
  const slash = want.indexOf('/')
  return slash >= 0 && owner.includes(`*${want.slice(slash)}`)
}

function urlCovers(owner: readonly string[], want: string): boolean {
  return owner.some((u) => u === '*' || u === want || (u.endsWith('*') && want.startsWith(u.slice(0, -1))))
}

/** ruleCovers: does one held rule grant everything one requested (broken-down) rule asks? */
export function ruleCovers(owner: PolicyRule, want: PolicyRule): boolean {
  if (!hasAll(owner.verbs, want.verbs)) return false
  if ((want.nonResourceURLs ?? []).length) return (want.nonResourceURLs ?? []).every((u) => urlCovers(owner.nonResourceURLs ?? [], u))
  if (!hasAll(owner.apiGroups, want.apiGroups)) return false
  if (!(want.resources ?? []).every((r) => resourceCovers(owner.resources ?? [], r))) return false
  const ownerNames = owner.resourceNames ?? []
  if (ownerNames.length === 0) return true
  const wantNames = want.resourceNames ?? []
  return wantNames.length > 0 && wantNames.every((n) => ownerNames.includes(n))
}

/** Covers: the requested rules' atoms that no held rule grants (empty = no escalation). */
export function uncovered(held: readonly PolicyRule[], requested: readonly PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = []
  for (const r of requested) for (const atom of breakdownRule(r)) if (!held.some((h) => ruleCovers(h, atom))) missing.push(atom)
  return missing
}

const goQuoted = (list: readonly string[]): string => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`

/** CompactString, as escalation errors print a rule: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = []
  if (r.apiGroups?.length) parts.push(`APIGroups:${goQuoted(r.apiGroups)}`)
  if (r.resources?.length) parts.push(`Resources:${goQuoted(r.resources)}`)
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goQuoted(r.nonResourceURLs)}`)
  if (r.resourceNames?.length) parts.push(`ResourceNames:${goQuoted(r.resourceNames)}`)
  if (r.verbs?.length) parts.push(`Verbs:${goQuoted(r.verbs)}`)
  return `{${parts.join(', ')}}`
}

export { goQuoted }
