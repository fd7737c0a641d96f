// POST serviceaccounts/<name>/token: upstream's TokenRequest REST (pkg/registry/core/
// serviceaccount/storage/token.go). Defaults (1 h, the API audiences), validation with
// upstream's wording, the bound object looked up (same namespace, same ServiceAccount, UID
// matching), then a token signed by serviceaccount.ts.
import type { KubeObject } from '../api/types.js'
import { findResource } from '../api/resources.js'
import * as F from '../api/field-errors.js'
import * as E from '../apiserver/errors.js'
import type { Registry } from '../apiserver/registry.js'
import type { BoundRef, ServiceAccountTokens } from './serviceaccount.js'

export const DEFAULT_EXPIRATION_SECONDS = 3600
const MIN_EXPIRATION_SECONDS = 600
const MAX_EXPIRATION_SECONDS = 2 ** 32

export interface TokenRequest extends KubeObject {
  spec: {
    audiences?: string[]
    expirationSeconds?: number
    boundObjectRef?: { kind?: string; apiVersion?: string; name?: string; uid?: string }
  }
  status?: { token: string; expirationTimestamp: string }
}

export type TokenRequestHandler = (namespace: string, name: string, body: unknown, dryRun: boolean) => Promise<KubeObject>

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Pure: defaulted spec or field errors. */
export function validateTokenRequest(body: unknown, defaultAudiences: string[]): { spec: Required<Pick<TokenRequest['spec'], 'audiences' | 'expirationSeconds'>> & TokenRequest['spec'] } | { errors: F.FieldError[] } {
  const errors: F.FieldError[] = []
  const spec = isObj(body) && isObj(body.spec) ? body.spec : {}
  const exp = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS
  if (typeof exp !== 'number' || !Number.isInteger(exp)) errors.push(F.typeInvalid('spec.expirationSeconds', exp, 'must be an integer'))
  else if (exp < MIN_EXPIRATION_SECONDS) errors.push(F.invalid('spec.expirationSeconds', exp, 'may not specify a duration less than 10 minutes'))
  else if (exp > MAX_EXPIRATION_SECONDS) errors.push(F.invalid('spec.expirationSeconds', exp, 'may not specify a duration larger than 2^32 seconds'))
  let audiences = spec.audiences ?? []
  if (!Array.isArray(audiences) || audiences.some((a) => typeof a !== 'string')) {
    errors.push(F.typeInvalid('spec.audiences', audiences, 'must be a list of strings'))
    audiences = []
  }
  const ref = spec.boundObjectRef
  if (ref !== undefined && ref !== null && !isObj(ref)) errors.push(F.typeInvalid('spec.boundObjectRef', ref, 'must be an object'))
  if (errors.length) return { errors }
  const out = { ...(spec as TokenRequest['spec']), audiences: (audiences as string[]).length ? (audiences as string[]) : defaultAudiences, expirationSeconds: exp as number }
  return { spec: out }
}

const POD_RESOURCE = findResource('', 'v1', 'pods')!
const SECRET_RESOURCE = findResource('', 'v1', 'secrets')!
const NODE_RESOURCE = findResource('', 'v1', 'nodes')!
const SA_RESOURCE = findResource('', 'v1', 'serviceaccounts')!

export function tokenRequestHandler(reg: Registry, tokens: ServiceAccountTokens): TokenRequestHandler {
  return async (ns, name, body, dryRun) => {
    const v = validateTokenRequest(body, tokens.apiAudiences)
    if ('errors' in v) throw E.invalid('TokenRequest', 'authentication.k8s.io', name, v.errors)
    const sa = await reg.get(SA_RESOURCE, ns, name)
    let bound: BoundRef | undefined
    let node: { name: string; uid: string } | undefined
    const ref = v.spec.boundObjectRef
    if (ref) {
      const kind = ref.kind ?? ''
      const refName = ref.name ?? ''
      let obj: KubeObject
      if (kind === 'Pod' && (ref.apiVersion ?? 'v1') === 'v1') {
        obj = await reg.get(POD_RESOURCE, ns, refName)
        const pod = obj as KubeObject & { spec?: { serviceAccountName?: string; nodeName?: string } }
        if ((pod.spec?.serviceAccountName ?? 'default') !== name)
          throw E.badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with different serviceaccount name.`)
        if (pod.spec?.nodeName) {
          const n = await reg.get(NODE_RESOURCE, undefined, pod.spec.nodeName).catch(() => undefined)
          if (n) node = { name: pod.spec.nodeName, uid: n.metadata.uid ?? '' }
        }
      } else if (kind === 'Secret' && (ref.apiVersion ?? 'v1') === 'v1') {
        obj = await reg.get(SECRET_RESOURCE, ns, refName)
      } else if (kind === 'Node' && (ref.apiVersion ?? 'v1') === 'v1') {
        obj = await reg.get(NODE_RESOURCE, undefined, refName)
      } else {
        throw E.badRequest(`cannot bind token to object of type ${ref.apiVersion ?? ''}, Kind=${kind}`)
      }
      const uid = obj.metadata.uid ?? ''
      if (ref.uid && ref.uid !== uid) {
        throw E.conflict({ group: '', resource: kind }, refName, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`)
      }
      bound = { kind: kind as BoundRef['kind'], name: refName, uid }
    }
    const out: TokenRequest = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name, namespace: ns, creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      spec: { ...v.spec, ...(bound ? { boundObjectRef: { kind: bound.kind, apiVersion: 'v1', name: bound.name, uid: bound.uid } } : {}) },
    }
    if (dryRun) return out
    const t = await tokens.issue({
      namespace: ns,
      serviceAccount: { name, uid: sa.metadata.uid ?? '' },
      audiences: v.spec.audiences,
      expirationSeconds: v.spec.expirationSeconds,
      ...(bound ? { bound } : {}),
      ...(node ? { node } : {}),
    })
    out.status = { token: t.token, expirationTimestamp: t.expirationTimestamp.toISOString().replace(/\.\d{3}Z$/, 'Z') }
    return out
  }
}
