// rbac.authorization.k8s.io/v1 (pkg/apis/rbac/validation): names are path segments (`system:node`
// is valid), rules need verbs and either resources with groups or non-resource URLs, bindings a
// supported roleRef (immutable) and well-formed subjects.
import { invalid, notSupported, required } from '../field-errors.js'
import { isDNS1123Label, isDNS1123Subdomain } from '../names.js'
import { asArray, asObj, asString, deepEqual, isObj, type Errs, type Obj } from './common.js'
import { validateLabelSelector } from './apps.js'

export const RBAC_GROUP = 'rbac.authorization.k8s.io'

/** path.IsValidPathSegmentName: what a name may be when it is a URL path segment. */
export function isValidPathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`]
  const out: string[] = []
  for (const bad of ['/', '%']) if (name.includes(bad)) out.push(`may not contain '${bad}'`)
  return out
}

function stringList(v: unknown, path: string, errs: Errs): string[] {
  return asArray(v, path, errs).filter((x, i) => {
    if (typeof x === 'string') return true
    errs.push({ type: 'FieldValueTypeInvalid', field: `${path}[${i}]`, value: x, message: `Invalid value: ${JSON.stringify(x)}: must be of type string` })
    return false
  }) as string[]
}

function validateRule(raw: unknown, namespaced: boolean, path: string, errs: Errs): void {
  const rule = asObj(raw, path, errs)
  if (!rule) return
  const verbs = stringList(rule.verbs, `${path}.verbs`, errs)
  const groups = stringList(rule.apiGroups, `${path}.apiGroups`, errs)
  const resources = stringList(rule.resources, `${path}.resources`, errs)
  const names = stringList(rule.resourceNames, `${path}.resourceNames`, errs)
  const urls = stringList(rule.nonResourceURLs, `${path}.nonResourceURLs`, errs)
  if (verbs.length === 0) errs.push(required(`${path}.verbs`, 'verbs must contain at least one value'))
  if (urls.length > 0) {
    if (namespaced) errs.push(invalid(`${path}.nonResourceURLs`, urls, 'namespaced rules cannot apply to non-resource URLs'))
    if (groups.length > 0 || resources.length > 0 || names.length > 0)
      errs.push(invalid(`${path}.nonResourceURLs`, urls, 'rules cannot apply to both regular resources and non-resource URLs'))
    return
  }
  if (groups.length === 0) errs.push(required(`${path}.apiGroups`, 'resource rules must supply at least one api group'))
  if (resources.length === 0) errs.push(required(`${path}.resources`, 'resource rules must supply at least one resource'))
}

export function validateRole(obj: Obj, namespaced: boolean, errs: Errs): void {
  asArray(obj.rules, 'rules', errs).forEach((r, i) => validateRule(r, namespaced, `rules[${i}]`, errs))
  if (namespaced) return
  const agg = asObj(obj.aggregationRule, 'aggregationRule', errs)
  if (!agg) return
  asArray(agg.clusterRoleSelectors, 'aggregationRule.clusterRoleSelectors', errs).forEach((s, i) =>
    validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`, errs),
  )
}

function validateSubject(raw: unknown, namespaced: boolean, path: string, errs: Errs): void {
  const s = asObj(raw, path, errs)
  if (!s) return
  const name = asString(s.name, `${path}.name`, errs) ?? ''
  const kind = asString(s.kind, `${path}.kind`, errs) ?? ''
  const apiGroup = asString(s.apiGroup, `${path}.apiGroup`, errs) ?? ''
  const ns = asString(s.namespace, `${path}.namespace`, errs) ?? ''
  if (name === '') errs.push(required(`${path}.name`))
  switch (kind) {
    case 'ServiceAccount':
      if (name) for (const m of isDNS1123Subdomain(name)) errs.push(invalid(`${path}.name`, name, m))
      if (apiGroup !== '') errs.push(notSupported(`${path}.apiGroup`, apiGroup, ['']))
      if (!namespaced && ns === '') errs.push(required(`${path}.namespace`))
      if (ns) for (const m of isDNS1123Label(ns)) errs.push(invalid(`${path}.namespace`, ns, m))
      break
    case 'User':
    case 'Group':
      // A user or group name is an opaque string (`system:masters`): only the group is checked.
      if (apiGroup !== RBAC_GROUP) errs.push(notSupported(`${path}.apiGroup`, apiGroup, [RBAC_GROUP]))
      break
    default:
      errs.push(notSupported(`${path}.kind`, kind, ['ServiceAccount', 'User', 'Group']))
  }
}

export function validateBinding(obj: Obj, namespaced: boolean, errs: Errs): void {
  const ref = asObj(obj.roleRef, 'roleRef', errs)
  const apiGroup = ref ? asString(ref.apiGroup, 'roleRef.apiGroup', errs) ?? '' : ''
  const kind = ref ? asString(ref.kind, 'roleRef.kind', errs) ?? '' : ''
  const name = ref ? asString(ref.name, 'roleRef.name', errs) ?? '' : ''
  if (apiGroup !== RBAC_GROUP) errs.push(notSupported('roleRef.apiGroup', apiGroup, [RBAC_GROUP]))
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole']
  if (!kinds.includes(kind)) errs.push(notSupported('roleRef.kind', kind, kinds))
  if (name === '') errs.push(required('roleRef.name'))
  else for (const m of isValidPathSegmentName(name)) errs.push(invalid('roleRef.name', name, m))
  asArray(obj.subjects, 'subjects', errs).forEach((s, i) => validateSubject(s, namespaced, `subjects[${i}]`, errs))
}

export function validateBindingUpdate(obj: Obj, old: Obj, errs: Errs): void {
  if (!deepEqual(obj.roleRef, old.roleRef)) errs.push(invalid('roleRef', isObj(obj.roleRef) ? obj.roleRef : obj.roleRef, 'cannot change roleRef'))
}
