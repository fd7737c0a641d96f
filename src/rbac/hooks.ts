// The one authorization hook: after authentication (which set req.user), impersonation may
// switch the user, then the chain decides on the request's attributes; a refusal is a 403
// Status before any route runs. Also serves the review kinds (create-only, never stored).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { csrAdmission } from '../certificates/admission.js'
import { findResource, REVIEW_RESOURCES, type ResourceInfo } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { bootstrapClusterRoleBindings, bootstrapClusterRoles, reconcilePolicyObject } from './bootstrap-policy.js'

const CLUSTER_ROLES = findResource('rbac.authorization.k8s.io', 'v1', 'clusterroles')!
const CLUSTER_ROLE_BINDINGS = findResource('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings')!
import type { Attributes, Authorizer } from '../apiserver/authorizer.js'
import { alwaysAllow } from '../apiserver/authorizer.js'
import type { UserInfo } from '../apiserver/auth.js'
import * as E from '../apiserver/errors.js'
import { decodeJsonBody } from '../apiserver/json-body.js'
import { decodeK8sProtobuf } from '../apiserver/protobuf.js'
import type { Registry } from '../apiserver/registry.js'
import type { EtcdStore } from '../storage/store.js'
import { RbacAuthorizer, RbacState, UnionAuthorizer } from './authorizer.js'
import { escalationCheck } from './escalation.js'
import { forbidden } from './forbidden.js'
import { ANONYMOUS_USER, AUTHENTICATED, impersonate } from './impersonation.js'
import { NodeAuthorizer, NodeGraphState } from './node.js'
import { nodeRestriction } from './node-restriction.js'
import { requestAttributes } from './request-info.js'
import { Reviews, type ReviewKind } from './reviews.js'
import { auditEvent, auditLevel, type AuditLog, type AuditRequest } from '../audit/audit.js'
import { ProtobufError } from '../apiserver/protobuf.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's authorization attributes (audit reads them). */
    authz: Attributes | null
    /** The authenticated user when the request impersonates another (audit's `impersonatedUser`). */
    impersonator: UserInfo | null
    authzAllowed: boolean
    authzReason: string | null
    auditStatus: Record<string, unknown> | null
  }
}

export const AUTHORIZATION_MODES = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'] as const
export type AuthorizationMode = (typeof AUTHORIZATION_MODES)[number]
export const DEFAULT_AUTHORIZATION_MODE = 'Node,RBAC'

export function parseAuthorizationModes(v: string): AuthorizationMode[] {
  const modes = v.split(',').map((s) => s.trim()).filter(Boolean)
  if (!modes.length) throw new Error('--authorization-mode: at least one mode is required')
  for (const m of modes) if (!(AUTHORIZATION_MODES as readonly string[]).includes(m)) throw new Error(`--authorization-mode: unknown mode ${JSON.stringify(m)} (known: ${AUTHORIZATION_MODES.join(', ')})`)
  if (new Set(modes).size !== modes.length) throw new Error(`--authorization-mode: ${JSON.stringify(v)} has a duplicate mode`)
  return modes as AuthorizationMode[]
}

/** The authorizers of `--authorization-mode`, their state, and the admission plugins they bring. */
export class Authorization {
  readonly authorizer: Authorizer
  readonly rbacState: RbacState | undefined
  readonly rbac: RbacAuthorizer | undefined
  readonly nodes: NodeGraphState | undefined
  readonly reviews: Reviews

  constructor(store: EtcdStore, readonly modes: AuthorizationMode[]) {
    const chain: Authorizer[] = []
    for (const m of modes) {
      if (m === 'AlwaysAllow') chain.push(alwaysAllow)
      else if (m === 'AlwaysDeny') chain.push({ authorize: () => ({ decision: 'deny', reason: '' }) })
      else if (m === 'Node') chain.push(new NodeAuthorizer((this.nodes = new NodeGraphState(store))))
      else if (m === 'RBAC') chain.push((this.rbac = new RbacAuthorizer((this.rbacState = new RbacState(store)))))
    }
    this.authorizer = chain.length === 1 ? chain[0]! : new UnionAuthorizer(chain)
    this.reviews = new Reviews(this.authorizer, this.rbac)
  }

  /** The bootstrap policy, created or put back (system writes: no escalation check applies). */
  async reconcilePolicy(reg: Registry): Promise<void> {
    if (!this.rbacState) return
    const put = async (r: ResourceInfo, want: KubeObject): Promise<void> => {
      const name = want.metadata.name!
      let have: KubeObject | undefined
      try {
        have = await reg.get(r, undefined, name)
      } catch (err) {
        if (!(err instanceof E.ApiError && err.reason === 'NotFound')) throw err
      }
      const next = reconcilePolicyObject(want, have)
      if (!next) return
      if (!have) await reg.create(r, undefined, next, { system: true, manager: 'kube-apiserver' }).catch((err) => {
        if (!(err instanceof E.ApiError && err.reason === 'AlreadyExists')) throw err
      })
      else
        await reg.update(r, undefined, name, next, { system: true, manager: 'kube-apiserver' }).catch((err) => {
          // Another apiserver reconciled it in between; the next round looks again.
          if (!(err instanceof E.ApiError && err.reason === 'Conflict')) throw err
        })
    }
    for (const cr of bootstrapClusterRoles()) await put(CLUSTER_ROLES, cr)
    for (const crb of bootstrapClusterRoleBindings()) await put(CLUSTER_ROLE_BINDINGS, crb)
  }

  /** Escalation checks (with RBAC) and NodeRestriction (with Node) join the registry's admission. */
  admit(reg: Registry): void {
    if (this.nodes) reg.admission.push(nodeRestriction)
    if (this.rbacState) reg.admission.push(escalationCheck(this.authorizer, this.rbacState))
    // CertificateApproval, CertificateSigning, CertificateSubjectRestriction (on whatever the mode).
    reg.admission.push(csrAdmission(this.authorizer))
  }

  async start(): Promise<void> {
    await Promise.all([this.rbacState?.start(), this.nodes?.start()])
  }

  stop(): void {
    this.rbacState?.stop()
    this.nodes?.stop()
  }
}

/** Upstream's AuthenticatedGroupAdder: every authenticated user is in system:authenticated. */
export function withAuthenticatedGroup(u: UserInfo): UserInfo {
  if (u.name === ANONYMOUS_USER || u.groups.includes(AUTHENTICATED) || u.groups.includes('system:unauthenticated')) return u
  return { ...u, groups: [...u.groups, AUTHENTICATED] }
}

function send(reply: FastifyReply, err: E.ApiError): FastifyReply {
  return reply.code(err.code).type('application/json').send(err.status)
}

/** `authz` undefined: no authorization hook (everything authenticated is allowed); reviews are served either way. */
export function installAuthorization(app: FastifyInstance, authz: Authorizer | undefined, reviews: Reviews): void {
  app.decorateRequest('authz', null)
  app.decorateRequest('impersonator', null)
  app.decorateRequest('authzAllowed', false)
  app.decorateRequest('authzReason', null)
  if (authz) app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.user) return // authentication answered already
    try {
      req.user = withAuthenticatedGroup(req.user)
      const as = await impersonate(req.headers, req.user, authz)
      if (as) {
        req.impersonator = req.user
        req.user = as
      }
      const a = requestAttributes(req.method, req.url, req.user)
      req.authz = a
      const r = await authz.authorize(a)
      req.authzReason = r.reason
      if (r.decision === 'allow') {
        req.authzAllowed = true
        return
      }
      return send(reply, forbidden(a, r.reason))
    } catch (err) {
      if (err instanceof E.ApiError) return send(reply, err)
      throw err
    }
  })

  for (const r of REVIEW_RESOURCES) {
    const gv = `${r.group}/${r.version}`
    const url = r.namespaced ? `/apis/${gv}/namespaces/:namespace/${r.plural}` : `/apis/${gv}/${r.plural}`
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      handler: async (req, reply) => {
        if (req.method !== 'POST') throw E.methodNotAllowed()
        const raw = req.body
        if (!Buffer.isBuffer(raw) || raw.length === 0) throw E.badRequest('the body of the request is empty')
        const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
        let body: unknown
        try {
          body = ct === 'application/vnd.kubernetes.protobuf' ? decodeK8sProtobuf(raw) : decodeJsonBody(raw)
        } catch (err) {
          if (err instanceof ProtobufError) throw E.unsupportedMediaType(`application/vnd.kubernetes.protobuf (${err.message})`)
          throw err
        }
        const ns = (req.params as { namespace?: string }).namespace ?? ''
        req.kctx = { verb: 'create', resource: r.plural }
        reply.code(201)
        return reviews.answer(r.kind as ReviewKind, gv, body, req.user!, ns)
      },
    })
  }
}

/** The audit hooks: the decision recorded at authorization, the events written when the response ends. */
export function installAudit(app: FastifyInstance, audit: AuditLog): void {
  app.decorateRequest('auditStatus', null)
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{')) {
      try {
        req.auditStatus = JSON.parse(payload) as Record<string, unknown>
      } catch {
        /* not a Status */
      }
    }
    return payload
  })
  app.addHook('onResponse', async (req, reply) => {
    const user = req.impersonator ?? req.user ?? { name: '', uid: '', groups: [] }
    const attributes = req.authz ?? requestAttributes(req.method, req.url, req.user ?? user)
    const { level, omitStages } = auditLevel(audit.policy, attributes)
    if (level === 'None') return
    const ar: AuditRequest = {
      attributes,
      user,
      requestURI: req.url,
      sourceIP: req.ip,
      receivedMs: Date.now() - reply.elapsedTime,
    }
    if (req.impersonator && req.user) ar.impersonatedUser = req.user
    const ua = req.headers['user-agent']
    if (ua) ar.userAgent = ua
    if (req.authz) ar.decision = { decision: req.authzAllowed ? 'allow' : 'forbid', reason: req.authzReason ?? '' }
    if (Buffer.isBuffer(req.body) && req.body.length > 0 && req.body[0] === 0x7b) {
      try {
        ar.body = JSON.parse(req.body.toString('utf8'))
      } catch {
        /* a non-JSON body (protobuf, YAML) is not recorded */
      }
    }
    const id = audit.newID()
    const now = Date.now()
    if (!omitStages.includes('RequestReceived')) audit.write(auditEvent(ar, level, 'RequestReceived', id, ar.receivedMs))
    if (!omitStages.includes('ResponseComplete')) audit.write(auditEvent(ar, level, 'ResponseComplete', id, now, { code: reply.statusCode, ...(req.auditStatus ? { status: req.auditStatus } : {}) }))
  })
}
