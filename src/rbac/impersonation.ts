// Impersonation (upstream's filters/impersonation.go): `Impersonate-User`, `-Group`, `-Uid` and
// `Impersonate-Extra-<key>` headers switch the request's user, each piece checked as the
// `impersonate` verb on users / serviceaccounts / groups / uids / userextras for the real user.
import type { IncomingHttpHeaders } from 'node:http'
import type { UserInfo } from '../apiserver/auth.js'
import type { Attributes, Authorizer } from '../apiserver/authorizer.js'
import * as E from '../apiserver/errors.js'
import { forbidden } from './forbidden.js'
import { SA_PREFIX } from './policy.js'

export const AUTHENTICATED = 'system:authenticated'
export const UNAUTHENTICATED = 'system:unauthenticated'
export const ANONYMOUS_USER = 'system:anonymous'

const values = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** The impersonated user, undefined without impersonation headers; throws 403 / 400. */
export async function impersonate(headers: IncomingHttpHeaders, requestor: UserInfo, authz: Authorizer): Promise<UserInfo | undefined> {
  const userName = values(headers['impersonate-user'])[0]
  const groups = values(headers['impersonate-group'])
  const uid = values(headers['impersonate-uid'])[0]
  const extra: Record<string, string[]> = {}
  for (const [h, v] of Object.entries(headers)) {
    if (!h.startsWith('impersonate-extra-')) continue
    extra[safeDecode(h.slice('impersonate-extra-'.length))] = values(v).flatMap((x) => x.split(',').map((s) => s.trim()))
  }
  if (userName === undefined) {
    if (groups.length || uid !== undefined || Object.keys(extra).length)
      throw E.badRequest(`requested [${[...groups.map((g) => `Group ${g}`), ...(uid !== undefined ? [`UID ${uid}`] : [])].join(' ')}] without impersonating a user`)
    return undefined
  }
  const check = async (a: Omit<Attributes, 'user' | 'verb' | 'resourceRequest' | 'path' | 'apiVersion' | 'subresource'> & { subresource?: string }): Promise<void> => {
    const attrs: Attributes = { user: requestor, verb: 'impersonate', resourceRequest: true, path: '', apiVersion: '', subresource: '', ...a }
    const r = await authz.authorize(attrs)
    if (r.decision !== 'allow') throw forbidden(attrs, r.reason)
  }
  const out: UserInfo = { name: userName, uid: uid ?? '', groups: [...groups] }
  if (userName.startsWith(SA_PREFIX)) {
    const [ns, name] = userName.slice(SA_PREFIX.length).split(':')
    await check({ namespace: ns ?? '', apiGroup: '', resource: 'serviceaccounts', name: name ?? '' })
    if (groups.length === 0) out.groups.push('system:serviceaccounts', `system:serviceaccounts:${ns}`)
  } else {
    await check({ namespace: '', apiGroup: '', resource: 'users', name: userName })
  }
  for (const g of groups) await check({ namespace: '', apiGroup: '', resource: 'groups', name: g })
  if (uid !== undefined) await check({ namespace: '', apiGroup: 'authentication.k8s.io', resource: 'uids', name: uid })
  for (const [k, vs] of Object.entries(extra)) for (const v of vs) await check({ namespace: '', apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: k, name: v })
  if (Object.keys(extra).length) out.extra = extra
  const marker = userName === ANONYMOUS_USER ? UNAUTHENTICATED : AUTHENTICATED
  if (!out.groups.includes(marker)) out.groups.push(marker)
  return out
}
