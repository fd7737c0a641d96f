// What a request asks, in authorization terms (upstream's RequestInfoFactory): resource
// requests under /api/v1 and /apis/<group>/<version>, everything else a non-resource path
// with the lower-case HTTP method as verb. Read from the URL alone, before any route runs, so
// an unknown resource is authorized like a known one (403 before 404, as upstream).
import type { UserInfo } from '../apiserver/auth.js'
import type { Attributes } from '../apiserver/authorizer.js'

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize'])

function decode(seg: string): string {
  try {
    return decodeURIComponent(seg)
  } catch {
    return seg
  }
}

/** The fieldSelector's `metadata.name=<x>` (list/watch of one object, as kubectl get <name> -w). */
function nameFromFieldSelector(q: URLSearchParams): string {
  const fs = q.get('fieldSelector')
  if (!fs) return ''
  for (const term of fs.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term)
    if (m) return m[1]!
  }
  return ''
}

export function requestAttributes(method: string, url: string, user: UserInfo): Attributes {
  const qi = url.indexOf('?')
  const path = qi < 0 ? url : url.slice(0, qi)
  const q = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1))
  const lower = method.toLowerCase()
  const base: Attributes = { user, verb: lower, resourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' }
  const segs = path.split('/').filter((s) => s !== '').map(decode)
  let parts: string[]
  if (segs[0] === 'api' && segs.length >= 3) {
    base.apiVersion = segs[1]!
    parts = segs.slice(2)
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    base.apiGroup = segs[1]!
    base.apiVersion = segs[2]!
    parts = segs.slice(3)
  } else return base

  const a: Attributes = { ...base, resourceRequest: true }
  let watchPath = false
  if (parts[0] === 'watch') {
    watchPath = true
    parts = parts.slice(1)
  }
  switch (method) {
    case 'POST':
      a.verb = 'create'
      break
    case 'GET':
    case 'HEAD':
      a.verb = 'get'
      break
    case 'PUT':
      a.verb = 'update'
      break
    case 'PATCH':
      a.verb = 'patch'
      break
    case 'DELETE':
      a.verb = 'delete'
      break
    default:
      a.verb = ''
  }
  if (watchPath) a.verb = 'watch'
  if (parts[0] === 'namespaces' && parts.length > 1) {
    a.namespace = parts[1]!
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2)
  }
  a.resource = parts[0] ?? ''
  if (parts.length >= 2) a.name = parts[1]!
  if (parts.length >= 3) a.subresource = parts[2]!
  if (parts.length === 1 || (parts.length === 0 && a.resource === '')) {
    // a collection
    if (a.verb === 'get') a.verb = q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : 'list'
    if (a.verb === 'delete') a.verb = 'deletecollection'
  }
  if ((a.verb === 'list' || a.verb === 'watch') && !a.name) a.name = nameFromFieldSelector(q)
  return a
}
