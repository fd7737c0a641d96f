// Audit logging (upstream's k8s.io/apiserver/pkg/audit): who did what, as JSON lines of
// `audit.k8s.io/v1` Events, filtered by a Policy file whose first matching rule sets the level:
// None (not logged), Metadata (user, verb, object, response status), Request (+ the request
// body), RequestResponse (netkube logs it like Request: response bodies are not captured).
// Off unless `--audit-log-path` is given; `-` writes to stdout, as upstream.
import { randomUUID } from 'node:crypto'
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { UserInfo } from '../apiserver/auth.js'
import type { Attributes } from '../apiserver/authorizer.js'

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse'
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic'
const LEVELS: AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse']
const STAGES: AuditStage[] = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic']

export interface GroupResources {
  group?: string
  resources?: string[]
  resourceNames?: string[]
}

export interface PolicyRule {
  level: AuditLevel
  users?: string[]
  userGroups?: string[]
  verbs?: string[]
  resources?: GroupResources[]
  namespaces?: string[]
  nonResourceURLs?: string[]
  omitStages?: AuditStage[]
}

export interface AuditPolicy {
  rules: PolicyRule[]
  omitStages: AuditStage[]
}

export class AuditPolicyError extends Error {}

const strings = (v: unknown, path: string): string[] | undefined => {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new AuditPolicyError(`${path}: must be a list of strings`)
  return v as string[]
}

function stages(v: unknown, path: string): AuditStage[] {
  const s = strings(v, path) ?? []
  for (const x of s) if (!STAGES.includes(x as AuditStage)) throw new AuditPolicyError(`${path}: Unsupported value: ${JSON.stringify(x)}: supported values: ${STAGES.map((y) => JSON.stringify(y)).join(', ')}`)
  return s as AuditStage[]
}

/** An audit.k8s.io/v1 Policy (YAML or JSON), validated as upstream's policy loader does. */
export function parseAuditPolicy(text: string): AuditPolicy {
  const doc = parseYaml(text) as Record<string, unknown> | null
  if (!doc || typeof doc !== 'object') throw new AuditPolicyError('policy: must be an object')
  if (doc.kind !== undefined && doc.kind !== 'Policy') throw new AuditPolicyError(`policy: kind must be Policy, not ${JSON.stringify(doc.kind)}`)
  if (doc.apiVersion !== undefined && doc.apiVersion !== 'audit.k8s.io/v1') throw new AuditPolicyError(`policy: apiVersion must be audit.k8s.io/v1, not ${JSON.stringify(doc.apiVersion)}`)
  if (!Array.isArray(doc.rules) || doc.rules.length === 0) throw new AuditPolicyError('policy: rules: Required value: at least one rule is required')
  const rules = doc.rules.map((raw, i): PolicyRule => {
    const p = `rules[${i}]`
    if (!raw || typeof raw !== 'object') throw new AuditPolicyError(`${p}: must be an object`)
    const r = raw as Record<string, unknown>
    if (!LEVELS.includes(r.level as AuditLevel)) throw new AuditPolicyError(`${p}.level: Unsupported value: ${JSON.stringify(r.level)}: supported values: ${LEVELS.map((l) => JSON.stringify(l)).join(', ')}`)
    const out: PolicyRule = { level: r.level as AuditLevel }
    for (const k of ['users', 'userGroups', 'verbs', 'namespaces', 'nonResourceURLs'] as const) {
      const v = strings(r[k], `${p}.${k}`)
      if (v) out[k] = v
    }
    if (r.resources !== undefined) {
      if (!Array.isArray(r.resources)) throw new AuditPolicyError(`${p}.resources: must be a list`)
      out.resources = r.resources.map((g, j) => {
        const gr = (g ?? {}) as Record<string, unknown>
        const o: GroupResources = {}
        if (typeof gr.group === 'string') o.group = gr.group
        const res = strings(gr.resources, `${p}.resources[${j}].resources`)
        if (res) o.resources = res
        const names = strings(gr.resourceNames, `${p}.resources[${j}].resourceNames`)
        if (names) o.resourceNames = names
        return o
      })
    }
    if ((out.nonResourceURLs?.length ?? 0) > 0 && ((out.resources?.length ?? 0) > 0 || (out.namespaces?.length ?? 0) > 0))
      throw new AuditPolicyError(`${p}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs`)
    const omit = stages(r.omitStages, `${p}.omitStages`)
    if (omit.length) out.omitStages = omit
    return out
  })
  return { rules, omitStages: stages(doc.omitStages, 'omitStages') }
}

function resourceMatches(rules: GroupResources[], a: Attributes): boolean {
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  return rules.some((g) => {
    if ((g.group ?? '') !== a.apiGroup && g.group !== '*') return false
    const res = g.resources ?? []
    const resOk =
      res.length === 0 ||
      res.some((r) => r === '*' || r === combined || r === a.resource && !a.subresource || (r.startsWith('*/') && r.slice(2) === a.subresource) || (r.endsWith('/*') && r.slice(0, -2) === a.resource))
    const names = g.resourceNames ?? []
    return resOk && (names.length === 0 || names.includes(a.name))
  })
}

function urlMatches(patterns: string[], path: string): boolean {
  return patterns.some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))))
}

/** The first matching rule's level and stages to omit (None when no rule matches). */
export function auditLevel(policy: AuditPolicy, a: Attributes): { level: AuditLevel; omitStages: AuditStage[] } {
  for (const r of policy.rules) {
    if (r.users && !r.users.includes(a.user.name)) continue
    if (r.userGroups && !r.userGroups.some((g) => a.user.groups.includes(g))) continue
    if (r.verbs && !r.verbs.includes(a.verb)) continue
    if (r.nonResourceURLs || r.resources || r.namespaces) {
      if (a.resourceRequest) {
        if (r.nonResourceURLs && !r.resources && !r.namespaces) continue
        if (r.namespaces && !r.namespaces.includes(a.namespace)) continue
        if (r.resources && !resourceMatches(r.resources, a)) continue
      } else {
        if (!r.nonResourceURLs || !urlMatches(r.nonResourceURLs, a.path)) continue
      }
    }
    return { level: r.level, omitStages: [...policy.omitStages, ...(r.omitStages ?? [])] }
  }
  return { level: 'None', omitStages: policy.omitStages }
}

/** Go's metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

export interface AuditRequest {
  attributes: Attributes
  user: UserInfo
  impersonatedUser?: UserInfo
  requestURI: string
  sourceIP: string
  userAgent?: string
  receivedMs: number
  /** The decoded request body (Request level and above). */
  body?: unknown
  decision?: { decision: 'allow' | 'forbid'; reason: string }
}

function userOf(u: UserInfo): Record<string, unknown> {
  return { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(u.extra ? { extra: u.extra } : {}) }
}

/** One audit.k8s.io/v1 Event. */
export function auditEvent(
  req: AuditRequest,
  level: AuditLevel,
  stage: AuditStage,
  auditID: string,
  nowMs: number,
  response?: { code: number; status?: Record<string, unknown> },
): Record<string, unknown> {
  const a = req.attributes
  const ev: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level,
    auditID,
    stage,
    requestURI: req.requestURI,
    verb: a.verb,
    user: userOf(req.user),
  }
  if (req.impersonatedUser) ev.impersonatedUser = userOf(req.impersonatedUser)
  ev.sourceIPs = [req.sourceIP]
  if (req.userAgent) ev.userAgent = req.userAgent
  if (a.resourceRequest) {
    const ref: Record<string, string> = { resource: a.resource }
    if (a.namespace) ref.namespace = a.namespace
    // A create names its object in the body (upstream's LogRequestObject fills it in).
    const bodyName = (req.body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name
    if (a.name) ref.name = a.name
    else if (typeof bodyName === 'string' && a.subresource === '') ref.name = bodyName
    if (a.apiGroup) ref.apiGroup = a.apiGroup
    ref.apiVersion = a.apiVersion
    if (a.subresource) ref.subresource = a.subresource
    ev.objectRef = ref
  }
  if (response) {
    const rs: Record<string, unknown> = { metadata: {}, code: response.code }
    const st = response.status
    if (st && st.kind === 'Status') {
      if (typeof st.status === 'string') rs.status = st.status
      if (typeof st.message === 'string') rs.message = st.message
      if (typeof st.reason === 'string') rs.reason = st.reason
    }
    ev.responseStatus = rs
  }
  if ((level === 'Request' || level === 'RequestResponse') && req.body !== undefined) ev.requestObject = req.body
  ev.requestReceivedTimestamp = microTime(req.receivedMs)
  ev.stageTimestamp = microTime(nowMs)
  if (req.decision) ev.annotations = { 'authorization.k8s.io/decision': req.decision.decision, 'authorization.k8s.io/reason': req.decision.reason }
  return ev
}

export class AuditLog {
  private readonly out: WriteStream | NodeJS.WriteStream

  constructor(
    readonly policy: AuditPolicy,
    path: string,
  ) {
    this.out = path === '-' ? process.stdout : createWriteStream(path, { flags: 'a', mode: 0o600 })
  }

  static fromFiles(logPath: string, policyPath: string | undefined): AuditLog {
    // Upstream without a policy file logs nothing; netkube logs Metadata for everything then.
    const policy = policyPath ? parseAuditPolicy(readFileSync(policyPath, 'utf8')) : { rules: [{ level: 'Metadata' as const }], omitStages: [] }
    return new AuditLog(policy, logPath)
  }

  newID(): string {
    return randomUUID()
  }

  write(ev: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify(ev)}\n`)
  }

  async close(): Promise<void> {
    if (this.out === process.stdout) return
    await new Promise<void>((resolve) => (this.out as WriteStream).end(resolve))
  }
}
