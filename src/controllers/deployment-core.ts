// Deployment reconcile core, after kube-controller-manager's deployment controller
// (pkg/controller/deployment: sync.go, rolling.go, recreate.go, progress.go), as a pure
// function: Deployment + its namespace's ReplicaSets (+ pods, for Recreate) → actions.
//
// The core works on an in-memory copy of the ReplicaSets, the way the Go controller mutates
// its copies after each API call, so one pass can create the new ReplicaSet and scale old
// ones down, and the status it reports is the one Kubernetes would report for that pass.
// Each pass makes one step; RS/pod status changes trigger the next pass (level-triggered).
import type { Condition, Deployment, DeploymentStatus, Pod, ReplicaSet, PodTemplateSpec } from '../api/types.js'
import { ANNOTATION_REVISION, LABEL_POD_TEMPLATE_HASH } from '../api/types.js'
import { controllerRef, getCondition, isPodTerminal, labelSelectorMatches, resolveIntOrPercent } from './apiutil.js'
import { canonicalJSON, creationMs, deepClone, fnv32a, isDeleting, safeEncode } from './util.js'

export const ANNOTATION_DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas'
export const ANNOTATION_MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas'
export const ANNOTATION_REVISION_HISTORY = 'deployment.kubernetes.io/revision-history'

// Annotations of a Deployment that are not copied onto its ReplicaSets.
const SKIP_ANNOTATIONS = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  ANNOTATION_REVISION,
  ANNOTATION_REVISION_HISTORY,
  ANNOTATION_DESIRED_REPLICAS,
  ANNOTATION_MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
])

export const Reason = {
  NewRSCreated: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  RSUpdated: 'ReplicaSetUpdated',
  NewRSAvailable: 'NewReplicaSetAvailable',
  TimedOut: 'ProgressDeadlineExceeded',
  Paused: 'DeploymentPaused',
  Resumed: 'DeploymentResumed',
  MinAvailable: 'MinimumReplicasAvailable',
  MinUnavailable: 'MinimumReplicasUnavailable',
} as const

export type DeployAction =
  | { kind: 'adoptRS'; name: string }
  | { kind: 'releaseRS'; name: string }
  | { kind: 'createRS'; rs: ReplicaSet }
  | { kind: 'updateRS'; name: string; replicas: number; annotations: Record<string, string>; minReadySeconds: number }
  | { kind: 'deleteRS'; name: string }
  | { kind: 'annotateDeployment'; annotations: Record<string, string> }
  | { kind: 'status'; status: DeploymentStatus }

export interface DeployInput {
  d: Deployment
  rsList: ReplicaSet[]
  /** Pods of the namespace; only Recreate needs them (to wait for old pods to be gone). */
  pods?: Pod[]
  now: number
}

export interface DeployResult {
  actions: DeployAction[]
  requeueAfterMs?: number
}

// ---------- template hashing and identity ----------

/** Drop null-valued keys: Go clients send `creationTimestamp: null` for what is simply unset. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls)
  if (v === null || typeof v !== 'object') return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNulls(x)
  return out
}

function stripHash(t: PodTemplateSpec | undefined): PodTemplateSpec | undefined {
  if (!t) return t
  const c = dropNulls(deepClone(t)) as PodTemplateSpec
  if (c.metadata?.labels) {
    delete c.metadata.labels[LABEL_POD_TEMPLATE_HASH]
    if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels
  }
  return c
}

/** Stable pod-template-hash: FNV-32a of the canonical template (+ collisionCount), safe-encoded. */
export function computeTemplateHash(t: PodTemplateSpec, collisionCount?: number): string {
  const s = canonicalJSON(stripHash(t)) + (collisionCount ? `#${collisionCount}` : '')
  return safeEncode(fnv32a(s))
}

export function templatesEqualIgnoringHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return canonicalJSON(stripHash(a)) === canonicalJSON(stripHash(b))
}

// ---------- surge / unavailable arithmetic ----------

function isRolling(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate'
}

/** maxSurge rounded up, maxUnavailable rounded down; both 0 → unavailable 1 (ResolveFenceposts). */
export function resolveFenceposts(d: Deployment): { surge: number; unavailable: number } {
  const replicas = d.spec.replicas ?? 1
  const ru = d.spec.strategy?.rollingUpdate
  const surge = resolveIntOrPercent(ru?.maxSurge, replicas, true, '25%')
  let unavailable = resolveIntOrPercent(ru?.maxUnavailable, replicas, false, '25%')
  if (surge === 0 && unavailable === 0) unavailable = 1
  return { surge, unavailable }
}

export function maxUnavailable(d: Deployment): number {
  const replicas = d.spec.replicas ?? 1
  if (!isRolling(d) || replicas === 0) return 0
  return Math.min(resolveFenceposts(d).unavailable, replicas)
}

export function maxSurge(d: Deployment): number {
  return isRolling(d) ? resolveFenceposts(d).surge : 0
}

// ---------- working copies ----------

interface RSW {
  rs: ReplicaSet
  name: string
  replicas: number
  annotations: Record<string, string>
  minReadySeconds: number
  created: number
  /** Not yet in the API (created this pass). */
  virtual: boolean
  dirty: boolean
}

function w(rs: ReplicaSet): RSW {
  return {
    rs,
    name: rs.metadata.name!,
    replicas: rs.spec.replicas ?? 0,
    annotations: { ...(rs.metadata.annotations ?? {}) },
    minReadySeconds: rs.spec.minReadySeconds ?? 0,
    created: creationMs(rs),
    virtual: false,
    dirty: false,
  }
}

const st = (x: RSW) => x.rs.status ?? { replicas: 0 }
/**
 * Available pods an RS can be counted on for: never more than its (possibly just lowered) size.
 * The cache may still show the availability from before a scale-down; counting that twice
 * would scale down again and break maxUnavailable.
 */
const avail = (x: RSW) => Math.min(st(x).availableReplicas ?? 0, x.replicas)
const sumSpec = (l: RSW[]) => l.reduce((a, x) => a + x.replicas, 0)
const revisionOf = (x: { annotations: Record<string, string> }) => {
  const n = Number(x.annotations[ANNOTATION_REVISION])
  return Number.isFinite(n) ? n : 0
}

function replicasAnnotations(d: Deployment, ann: Record<string, string>): Record<string, string> {
  const replicas = d.spec.replicas ?? 1
  return { ...ann, [ANNOTATION_DESIRED_REPLICAS]: String(replicas), [ANNOTATION_MAX_REPLICAS]: String(replicas + maxSurge(d)) }
}

/** Set an RS's size (and its replicas annotations) in the working copy; true if anything changed. */
function scale(d: Deployment, x: RSW, n: number): boolean {
  const ann = replicasAnnotations(d, x.annotations)
  const changed = x.replicas !== n || canonicalJSON(ann) !== canonicalJSON(x.annotations)
  if (changed) {
    x.replicas = n
    x.annotations = ann
    x.dirty = true
  }
  return changed
}

// ---------- conditions ----------

function setCond(status: DeploymentStatus, c: Condition, now: number): void {
  const ts = new Date(now).toISOString()
  const conds = status.conditions ?? []
  const cur = conds.find((x) => x.type === c.type)
  if (cur && cur.status === c.status && cur.reason === c.reason) return
  const next: Condition = { ...c, lastUpdateTime: ts, lastTransitionTime: cur && cur.status === c.status ? cur.lastTransitionTime ?? ts : ts }
  status.conditions = [...conds.filter((x) => x.type !== c.type), next]
}

function progressCond(status: 'True' | 'False' | 'Unknown', reason: string, message: string): Condition {
  return { type: 'Progressing', status, reason, message }
}

// ---------- the reconcile ----------

export function reconcileDeployment(input: DeployInput): DeployResult {
  const { d, now } = input
  const actions: DeployAction[] = []
  const replicas = d.spec.replicas ?? 1

  // Claim ReplicaSets: adopt matching orphans, release controlled ones that stopped matching.
  const owned: RSW[] = []
  for (const rs of input.rsList) {
    const ref = controllerRef(rs)
    const matches = labelSelectorMatches(d.spec.selector, rs.metadata.labels)
    if (ref) {
      if (ref.uid !== d.metadata.uid) continue
      if (matches) owned.push(w(rs))
      else actions.push({ kind: 'releaseRS', name: rs.metadata.name! })
    } else if (matches && !isDeleting(d) && !isDeleting(rs)) {
      owned.push(w(rs))
      actions.push({ kind: 'adoptRS', name: rs.metadata.name! })
    }
  }
  owned.sort((a, b) => a.created - b.created || a.name.localeCompare(b.name))

  const status: DeploymentStatus = deepClone(d.status ?? {})
  const result: DeployResult = { actions }
  const dAnn: Record<string, string> = { ...(d.metadata.annotations ?? {}) }

  // The new RS is the oldest whose template equals the Deployment's (ignoring the hash label).
  let newRS = owned.find((x) => templatesEqualIgnoringHash(x.rs.spec.template, d.spec.template))
  const olds = () => owned.filter((x) => x !== newRS)

  if (isDeleting(d)) {
    finishStatus(d, owned, newRS, status, now, false, result, input)
    return result
  }

  // Paused conditions (checkPausedConditions).
  const prog = getCondition(status.conditions, 'Progressing')
  if (prog?.reason !== Reason.TimedOut) {
    const pausedCond = prog?.reason === Reason.Paused
    if (d.spec.paused && !pausedCond) setCond(status, progressCond('Unknown', Reason.Paused, 'Deployment is paused'), now)
    else if (!d.spec.paused && pausedCond) setCond(status, progressCond('Unknown', Reason.Resumed, 'Deployment is resumed'), now)
  }

  /** getAllReplicaSetsAndSyncRevision: sync the new RS's revision, or create the new RS. */
  const syncRevision = (create: boolean, createReplicas: () => number): void => {
    const maxOld = olds().reduce((m, x) => Math.max(m, revisionOf(x)), 0)
    const newRevision = String(maxOld + 1)
    if (newRS) {
      const ann = { ...newRS.annotations }
      copyDeploymentAnnotations(dAnn, ann)
      if (revisionOf(newRS) < maxOld + 1) ann[ANNOTATION_REVISION] = newRevision
      const mrs = d.spec.minReadySeconds ?? 0
      if (canonicalJSON(ann) !== canonicalJSON(newRS.annotations) || newRS.minReadySeconds !== mrs) {
        newRS.annotations = ann
        newRS.minReadySeconds = mrs
        newRS.dirty = true
      }
      if (!getCondition(status.conditions, 'Progressing')) {
        setCond(status, progressCond('True', Reason.FoundNewRS, `Found new replica set "${newRS.name}"`), now)
      }
      dAnn[ANNOTATION_REVISION] = newRS.annotations[ANNOTATION_REVISION] ?? newRevision
      return
    }
    if (!create) return
    const hash = computeTemplateHash(d.spec.template, status.collisionCount)
    const n = createReplicas()
    const tmpl = deepClone(d.spec.template)
    tmpl.metadata = { ...(tmpl.metadata ?? {}), labels: { ...(tmpl.metadata?.labels ?? {}), [LABEL_POD_TEMPLATE_HASH]: hash } }
    const ann: Record<string, string> = {}
    copyDeploymentAnnotations(dAnn, ann)
    ann[ANNOTATION_REVISION] = newRevision
    const sel = deepClone(d.spec.selector)
    sel.matchLabels = { ...(sel.matchLabels ?? {}), [LABEL_POD_TEMPLATE_HASH]: hash }
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace!,
        labels: { ...(tmpl.metadata.labels ?? {}) },
        annotations: replicasAnnotations(d, ann),
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name!, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: { replicas: n, minReadySeconds: d.spec.minReadySeconds ?? 0, selector: sel, template: tmpl },
      status: { replicas: 0 },
    }
    actions.push({ kind: 'createRS', rs })
    newRS = { ...w(rs), created: now, virtual: true }
    owned.push(newRS)
    dAnn[ANNOTATION_REVISION] = newRevision
    setCond(status, progressCond('True', Reason.NewRSCreated, `Created new replica set "${rs.metadata.name}"`), now)
  }

  const scalingEvent = owned.some((x) => {
    if (x.replicas <= 0) return false
    const v = x.annotations[ANNOTATION_DESIRED_REPLICAS]
    return v !== undefined && Number(v) !== replicas
  })

  if (d.spec.paused || scalingEvent) {
    // sync(): no rollout progress, only sizes (proportionally) and status.
    syncRevision(false, () => 0)
    scaleProportionally(d, newRS, olds())
    if (d.spec.paused) cleanup(d, olds(), actions)
    finishStatus(d, owned, newRS, status, now, false, result, input, dAnn)
    return result
  }

  if (isRolling(d)) {
    syncRevision(true, () => newRSNewReplicas(d, owned, undefined))
    const n = newRS!
    let scaled = false
    if (n.replicas > replicas) scaled = scale(d, n, replicas)
    else if (n.replicas < replicas) {
      const want = newRSNewReplicas(d, owned, n)
      if (want !== n.replicas) scaled = scale(d, n, want)
    }
    if (!scaled) {
      const scaledDown = reconcileOld(d, owned, n, olds())
      if (!scaledDown && complete(d, owned, n)) cleanup(d, olds(), actions)
    }
  } else {
    // Recreate: old RSs to zero, wait for their pods to be gone, then the new RS to full size.
    syncRevision(false, () => 0)
    let scaledDown = false
    for (const x of olds()) if (x.replicas !== 0) scaledDown = scale(d, x, 0) || scaledDown
    const oldUids = new Set(olds().map((x) => x.rs.metadata.uid))
    const oldRunning = (input.pods ?? []).some((p) => {
      const r = controllerRef(p)
      return !!r && oldUids.has(r.uid) && !isPodTerminal(p)
    }) || olds().some((x) => (st(x).replicas ?? 0) > 0)
    if (!scaledDown && !oldRunning) {
      syncRevision(true, () => replicas)
      const n = newRS!
      if (n.replicas !== replicas) scale(d, n, replicas)
      else if (complete(d, owned, n)) cleanup(d, olds(), actions)
    }
  }
  finishStatus(d, owned, newRS, status, now, true, result, input, dAnn)
  return result
}

function copyDeploymentAnnotations(from: Record<string, string>, to: Record<string, string>): void {
  for (const [k, v] of Object.entries(from)) if (!SKIP_ANNOTATIONS.has(k)) to[k] = v
}

/** NewRSNewReplicas for RollingUpdate: grow the new RS as far as maxSurge allows. */
function newRSNewReplicas(d: Deployment, all: RSW[], n: RSW | undefined): number {
  const replicas = d.spec.replicas ?? 1
  const cur = n?.replicas ?? 0
  const total = sumSpec(all)
  const maxTotal = replicas + maxSurge(d)
  if (total >= maxTotal) return cur
  return cur + Math.max(0, Math.min(maxTotal - total, replicas - cur))
}

/** reconcileOldReplicaSets: scale old RSs down without dropping below replicas - maxUnavailable available. */
function reconcileOld(d: Deployment, all: RSW[], n: RSW, olds: RSW[]): boolean {
  const oldCount = sumSpec(olds)
  if (oldCount === 0) return false
  const replicas = d.spec.replicas ?? 1
  let allPods = sumSpec(all)
  const minAvailable = replicas - maxUnavailable(d)
  const newUnavailable = n.replicas - avail(n)
  const maxScaledDown = allPods - minAvailable - newUnavailable
  if (maxScaledDown <= 0) return false
  let scaled = false
  // First the unhealthy pods of old RSs (oldest RS first): they cost no availability.
  let cleaned = 0
  for (const x of [...olds].sort((a, b) => a.created - b.created)) {
    if (cleaned >= maxScaledDown) break
    if (x.replicas === 0) continue
    const unhealthy = x.replicas - avail(x)
    if (unhealthy <= 0) continue
    const down = Math.min(maxScaledDown - cleaned, unhealthy)
    scale(d, x, x.replicas - down)
    cleaned += down
    scaled = true
  }
  allPods -= cleaned
  // Then healthy ones, as far as the available count above minAvailable allows.
  const availableAll = all.reduce((a, x) => a + avail(x), 0)
  let total = availableAll - minAvailable
  if (total > 0) {
    // Available pods of RSs just shrunk by the cleanup above are not counted twice: a scale
    // to below the available count only removes available pods.
    for (const x of [...olds].sort((a, b) => a.created - b.created)) {
      if (total <= 0) break
      if (x.replicas === 0) continue
      const down = Math.min(x.replicas, total)
      scale(d, x, x.replicas - down)
      total -= down
      scaled = true
    }
  }
  return scaled
}

function complete(d: Deployment, all: RSW[], n: RSW): boolean {
  const replicas = d.spec.replicas ?? 1
  const updated = st(n).replicas ?? 0
  const total = all.reduce((a, x) => a + (st(x).replicas ?? 0), 0)
  const avail = all.reduce((a, x) => a + (st(x).availableReplicas ?? 0), 0)
  return n.replicas === replicas && updated === replicas && total === replicas && avail === replicas
}

/** Delete the oldest zero-size old RSs beyond revisionHistoryLimit. */
function cleanup(d: Deployment, olds: RSW[], actions: DeployAction[]): void {
  const limit = d.spec.revisionHistoryLimit ?? 10
  const cleanable = olds
    .filter((x) => !x.virtual && x.replicas === 0 && (st(x).replicas ?? 0) === 0 && !isDeleting(x.rs) &&
      (x.rs.metadata.generation ?? 0) <= (x.rs.status?.observedGeneration ?? 0))
    .sort((a, b) => revisionOf(a) - revisionOf(b) || a.created - b.created)
  const diff = cleanable.length - limit
  for (let i = 0; i < diff; i++) actions.push({ kind: 'deleteRS', name: cleanable[i]!.name })
}

/** scale(): a scaling event (or a paused Deployment) resizes RSs without moving the rollout. */
function scaleProportionally(d: Deployment, n: RSW | undefined, olds: RSW[]): void {
  const replicas = d.spec.replicas ?? 1
  const all = n ? [n, ...olds] : olds
  const active = all.filter((x) => x.replicas > 0)
  if (active.length <= 1) {
    // Also refreshes the replicas annotations, which is what ends the scaling event.
    const target = active[0] ?? n ?? [...olds].sort((a, b) => b.created - a.created)[0]
    if (target) scale(d, target, replicas)
    return
  }
  if (n && n.replicas === replicas && (st(n).availableReplicas ?? 0) === replicas) {
    for (const x of olds) if (x.replicas !== 0) scale(d, x, 0)
    return
  }
  if (!isRolling(d)) return
  const allReplicas = sumSpec(active)
  const allowed = replicas > 0 ? replicas + maxSurge(d) : 0
  const toAdd = allowed - allReplicas
  const sorted = [...active].sort((a, b) => b.replicas - a.replicas || (toAdd > 0 ? b.created - a.created : a.created - b.created))
  const sizes = new Map<RSW, number>()
  let added = 0
  if (toAdd !== 0) {
    for (const x of sorted) {
      let prop = 0
      if (x.replicas !== 0) {
        const annotated = Number(x.annotations[ANNOTATION_MAX_REPLICAS] ?? d.status?.replicas ?? allReplicas) || allReplicas
        const frac = replicas === 0 ? -x.replicas : Math.round((x.replicas * allowed) / annotated) - x.replicas
        const room = toAdd - added
        prop = toAdd > 0 ? Math.min(frac, room) : Math.max(frac, room)
      }
      sizes.set(x, x.replicas + prop)
      added += prop
    }
    const left = toAdd - added
    if (left !== 0 && sorted[0]) sizes.set(sorted[0], (sizes.get(sorted[0]) ?? 0) + left)
  }
  for (const x of all) scale(d, x, Math.max(0, sizes.get(x) ?? x.replicas))
}

function finishStatus(
  d: Deployment,
  owned: RSW[],
  n: RSW | undefined,
  status: DeploymentStatus,
  now: number,
  rollout: boolean,
  result: DeployResult,
  input: DeployInput,
  dAnn?: Record<string, string>,
): void {
  const { actions } = result
  for (const x of owned) {
    if (x.virtual || !x.dirty) continue
    actions.push({ kind: 'updateRS', name: x.name, replicas: x.replicas, annotations: x.annotations, minReadySeconds: x.minReadySeconds })
  }
  if (dAnn && canonicalJSON(dAnn) !== canonicalJSON(d.metadata.annotations ?? {})) {
    const patch: Record<string, string> = {}
    for (const [k, v] of Object.entries(dAnn)) if (d.metadata.annotations?.[k] !== v) patch[k] = v
    actions.push({ kind: 'annotateDeployment', annotations: patch })
  }
  const replicas = d.spec.replicas ?? 1
  const sum = (f: (x: RSW) => number) => owned.reduce((a, x) => a + f(x), 0)
  const available = sum((x) => st(x).availableReplicas ?? 0)
  const totalSpec = sum((x) => x.replicas)
  status.observedGeneration = d.metadata.generation ?? 0
  status.replicas = sum((x) => st(x).replicas ?? 0)
  status.updatedReplicas = n ? st(n).replicas ?? 0 : 0
  status.readyReplicas = sum((x) => st(x).readyReplicas ?? 0)
  status.availableReplicas = available
  status.unavailableReplicas = Math.max(0, totalSpec - available)
  if (available >= replicas - maxUnavailable(d)) {
    setCond(status, { type: 'Available', status: 'True', reason: Reason.MinAvailable, message: 'Deployment has minimum availability.' }, now)
  } else {
    setCond(status, { type: 'Available', status: 'False', reason: Reason.MinUnavailable, message: 'Deployment does not have minimum availability.' }, now)
  }

  const deadline = d.spec.progressDeadlineSeconds ?? 600
  if (rollout && !d.spec.paused && n) {
    const cur = getCondition(status.conditions, 'Progressing')
    const isComplete = status.replicas === status.updatedReplicas && cur?.reason === Reason.NewRSAvailable
    if (!isComplete) {
      const old = d.status ?? {}
      const completeNow =
        status.updatedReplicas === replicas && status.replicas === replicas && available === replicas &&
        (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
      const progressing =
        (status.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
        (status.replicas ?? 0) - (status.updatedReplicas ?? 0) < (old.replicas ?? 0) - (old.updatedReplicas ?? 0) ||
        (status.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
        available > (old.availableReplicas ?? 0)
      if (completeNow) {
        setCond(status, progressCond('True', Reason.NewRSAvailable, `ReplicaSet "${n.name}" has successfully progressed.`), now)
      } else if (progressing) {
        // A fresh "progressing" update: lastUpdateTime moves (that is what the deadline counts from).
        const ts = new Date(now).toISOString()
        const keep = cur?.status === 'True' ? cur.lastTransitionTime ?? ts : ts
        status.conditions = [
          ...(status.conditions ?? []).filter((c) => c.type !== 'Progressing'),
          { type: 'Progressing', status: 'True', reason: Reason.RSUpdated, message: `ReplicaSet "${n.name}" is progressing.`, lastUpdateTime: ts, lastTransitionTime: keep },
        ]
      } else if (cur && cur.reason !== Reason.NewRSAvailable) {
        const from = Date.parse(cur.lastUpdateTime ?? cur.lastTransitionTime ?? '') || now
        if (cur.reason === Reason.TimedOut || now > from + deadline * 1000) {
          setCond(status, progressCond('False', Reason.TimedOut, `ReplicaSet "${n.name}" has timed out progressing.`), now)
        } else {
          result.requeueAfterMs = from + deadline * 1000 - now + 100
        }
      }
    }
  }
  if (input.d.status === undefined || canonicalJSON(stripTimes(status)) !== canonicalJSON(stripTimes(d.status ?? {})) || condTimesChanged(status, d.status ?? {})) {
    actions.push({ kind: 'status', status })
  }
}

function stripTimes(s: DeploymentStatus): DeploymentStatus {
  return { ...s, conditions: (s.conditions ?? []).map((c) => ({ ...c, lastUpdateTime: undefined, lastTransitionTime: undefined })) }
}

function condTimesChanged(a: DeploymentStatus, b: DeploymentStatus): boolean {
  return canonicalJSON(a.conditions ?? []) !== canonicalJSON(b.conditions ?? [])
}
