// StatefulSet reconcile core: from a StatefulSet and the pods, claims and ControllerRevisions of its
// namespace (informer caches), what to do. No I/O: the shell (statefulset.ts) applies the actions
// in the order listed, and stops at the first failure (the next pass recomputes).
//
// Follows kube-controller-manager's StatefulSet controller as of v1.33 (StatefulSetAutoDeletePVC
// on; MaxUnavailableStatefulSet honoured when `maxUnavailable` is set):
// - Identity: pod `<set>-<ordinal>` with hostname = its name, subdomain = serviceName, labels
//   `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`, `controller-revision-hash`
//   (= the revision's name). Each volumeClaimTemplate becomes claim `<claim>-<set>-<ordinal>`,
//   created before its pod and wired into the pod's volumes; claims outlive pods.
// - History: one ControllerRevision per distinct template (data = a strategic-merge patch
//   `{spec:{template:{…,$patch:replace}}}`, what `kubectl rollout undo` applies); a template equal
//   to an older revision (a rollback) re-numbers that revision instead of creating one; a hash
//   clash with a different snapshot bumps `collisionCount`. Old revisions beyond
//   revisionHistoryLimit go, never one a pod still runs.
// - OrderedReady: ordinals in range are walked upwards; a missing one is created and the pass
//   ends; a pod that is terminating, not Running+Ready, or not yet available (minReadySeconds)
//   blocks those above it. Condemned pods (ordinal out of range) go highest first, one per pass,
//   each only when everything else is healthy. Parallel: no blocking, all at once.
// - Failed (or Succeeded) pods are deleted and recreated under the same name (RecreatingFailedPod).
// - RollingUpdate: with every pod in place, the highest-ordinal pod ≥ partition not at the update
//   revision is deleted (recreated at the new revision next pass); unhealthy pods block.
//   maxUnavailable > 1 deletes up to that many, minus those already unavailable. OnDelete: pods
//   are recreated at the update revision only when someone deletes them.
// - Status: replicas, ready/available/current/updated counts, revisions, collisionCount; a
//   RollingUpdate whose pods are all updated and ready makes the update revision current.
import type { ControllerRevision, OwnerReference, PersistentVolumeClaim, Pod, PodTemplateSpec, StatefulSet, StatefulSetStatus, Volume } from '../api/types.js'
import { LABEL_CONTROLLER_REVISION_HASH, LABEL_POD_INDEX, LABEL_STS_POD_NAME } from '../api/types.js'
import { newControllerRef } from '../api/meta.js'
import { controllerRef, podIsAvailable, podIsReady, resolveIntOrPercent, getCondition } from './apiutil.js'
import { findEqualRevisions, newControllerRevision, nextRevision, ownedRevisions, revisionsToTruncate, sortControllerRevisions } from './history.js'
import { claimPods, type ClaimAction } from './replicaset-core.js'
import { isDeleting } from './util.js'

export const STS_KIND = { apiVersion: 'apps/v1', kind: 'StatefulSet' } as const

export type DeleteReason = 'failed' | 'succeeded' | 'scale' | 'update'

export type StsAction =
  | ClaimAction
  | { kind: 'createRevision'; revision: ControllerRevision }
  /** A rollback to an older snapshot: that revision gets the next number. */
  | { kind: 'renumberRevision'; name: string; revision: number }
  | { kind: 'createClaim'; claim: PersistentVolumeClaim; pod: string }
  /** Bring a claim's ownerReferences in line with persistentVolumeClaimRetentionPolicy. */
  | { kind: 'updateClaimRefs'; claim: string; uid: string; ownerReferences: OwnerReference[] }
  | { kind: 'createPod'; pod: Pod }
  /** Restore a pod's identity labels (an adopted or edited pod). */
  | { kind: 'fixPodLabels'; pod: string; uid: string; labels: Record<string, string> }
  | { kind: 'deletePod'; pod: string; uid: string; reason: DeleteReason }
  | { kind: 'deleteRevision'; name: string; uid: string }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string }
  | { kind: 'status'; status: StatefulSetStatus }

export interface StsInput {
  set: StatefulSet
  /** The pods, claims and revisions of the set's namespace. */
  pods: Pod[]
  claims: PersistentVolumeClaim[]
  revisions: ControllerRevision[]
  now: number
}

export interface StsResult {
  actions: StsAction[]
  /** Call again after this long (a pod reaching minReadySeconds). */
  requeueAfterMs?: number
}

// ---------- identity ----------

/** `web-3` → ordinal 3 when the parent is `web`; -1 for anything else. */
export function podOrdinal(setName: string, podName: string): number {
  if (!podName.startsWith(`${setName}-`)) return -1
  const tail = podName.slice(setName.length + 1)
  return /^(0|[1-9][0-9]*)$/.test(tail) ? Number(tail) : -1
}

export function podName(set: StatefulSet, ordinal: number): string {
  return `${set.metadata.name}-${ordinal}`
}

export function claimName(set: StatefulSet, templateName: string, ordinal: number): string {
  return `${templateName}-${set.metadata.name}-${ordinal}`
}

export const podRevision = (p: Pod): string | undefined => p.metadata.labels?.[LABEL_CONTROLLER_REVISION_HASH]

const isFailed = (p: Pod): boolean => p.status?.phase === 'Failed'
const isSucceeded = (p: Pod): boolean => p.status?.phase === 'Succeeded'
const isTerminating = (p: Pod): boolean => isDeleting(p)
const isRunningAndReady = (p: Pod): boolean => p.status?.phase === 'Running' && podIsReady(p)
const isHealthy = (p: Pod): boolean => isRunningAndReady(p) && !isTerminating(p)

/** The revision's data: the patch that restores `template` (what kubectl's rollback applies). */
export function revisionData(template: PodTemplateSpec | undefined): unknown {
  return { spec: { template: { ...structuredClone(template ?? {}), $patch: 'replace' } } }
}

/** The template a revision holds (ApplyRevision for the only field the data carries). */
export function templateOf(rev: ControllerRevision): PodTemplateSpec | undefined {
  const d = rev.data as { spec?: { template?: PodTemplateSpec & { $patch?: string } } } | undefined
  const t = d?.spec?.template
  if (!t || typeof t !== 'object') return undefined
  const { $patch: _p, ...rest } = t
  return rest
}

/** A new pod for `ordinal` from `template`, labelled with `revision` (newVersionedStatefulSetPod). */
export function newStatefulSetPod(set: StatefulSet, template: PodTemplateSpec, revision: string, ordinal: number): Pod {
  const name = podName(set, ordinal)
  const spec = structuredClone(template.spec)
  spec.hostname = name
  if (set.spec.serviceName) spec.subdomain = set.spec.serviceName
  // Claim volumes replace template volumes of the same name.
  const claims = set.spec.volumeClaimTemplates ?? []
  const claimVols: Volume[] = claims.map((c) => ({ name: c.metadata.name!, persistentVolumeClaim: { claimName: claimName(set, c.metadata.name!, ordinal) } }))
  const keep = (spec.volumes ?? []).filter((v) => !claims.some((c) => c.metadata.name === v.name))
  if (claimVols.length || keep.length) spec.volumes = [...keep, ...claimVols]
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), [LABEL_STS_POD_NAME]: name, [LABEL_POD_INDEX]: String(ordinal), [LABEL_CONTROLLER_REVISION_HASH]: revision },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [newControllerRef(set, STS_KIND.apiVersion, STS_KIND.kind)],
    },
    spec,
  }
}

/** The claim for one template and ordinal: template labels plus the set's matchLabels. */
export function newClaim(set: StatefulSet, tpl: PersistentVolumeClaim, ordinal: number): PersistentVolumeClaim {
  const labels = { ...(tpl.metadata.labels ?? {}), ...(set.spec.selector?.matchLabels ?? {}) }
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: claimName(set, tpl.metadata.name!, ordinal),
      namespace: set.metadata.namespace,
      labels,
      ...(tpl.metadata.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
    },
    spec: structuredClone(tpl.spec ?? {}),
  }
}

// ---------- claim ownership (persistentVolumeClaimRetentionPolicy) ----------

/**
 * The ownerReferences a claim should carry (updateClaimOwnerRefs): whenDeleted=Delete → owned by
 * the set (the GC removes it with the set); whenScaled=Delete and the pod scaled away → owned by
 * the pod (removed with it). Other references are kept as they are.
 */
export function wantedClaimRefs(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod | undefined, inRange: boolean): OwnerReference[] {
  const policy = set.spec.persistentVolumeClaimRetentionPolicy ?? {}
  const delOnDelete = policy.whenDeleted === 'Delete'
  const delOnScale = policy.whenScaled === 'Delete'
  const podUid = pod?.metadata.uid
  const refs = (claim.metadata.ownerReferences ?? []).filter((r) => r.uid !== set.metadata.uid && !(podUid && r.uid === podUid))
  const setRef: OwnerReference = { ...newControllerRef(set, STS_KIND.apiVersion, STS_KIND.kind) }
  const podRef = (): OwnerReference => ({ apiVersion: 'v1', kind: 'Pod', name: pod!.metadata.name!, uid: podUid! })
  if (delOnScale && !inRange && pod && podUid) refs.push(podRef())
  else if (delOnDelete) refs.push(setRef)
  return refs
}

const sameRefs = (a: OwnerReference[] | undefined, b: OwnerReference[]): boolean => JSON.stringify(a ?? []) === JSON.stringify(b)

/** A claim left over from an earlier pod of this name that is being removed (PodClaimIsStale). */
function claimIsStale(c: PersistentVolumeClaim): boolean {
  return isDeleting(c) || (c.metadata.ownerReferences ?? []).some((r) => r.kind === 'Pod')
}

// ---------- revisions ----------

interface Revisions {
  current: ControllerRevision
  update: ControllerRevision
  collisionCount: number
  /** The set's revisions after this pass's create/renumber. */
  owned: ControllerRevision[]
  actions: StsAction[]
}

function resolveRevisions(set: StatefulSet, all: ControllerRevision[]): Revisions {
  const owned = sortControllerRevisions(ownedRevisions(all, set))
  let collisionCount = set.status?.collisionCount ?? 0
  const data = revisionData(set.spec.template)
  const labels = set.spec.template?.metadata?.labels
  const next = nextRevision(owned)
  let cand = newControllerRevision(set, STS_KIND, labels, data, next, collisionCount)
  // A name taken by a different snapshot: bump the collision count and hash again.
  for (let i = 0; i < 100; i++) {
    const clash = all.find((r) => r.metadata.name === cand.metadata.name)
    if (!clash || findEqualRevisions([clash], cand).length > 0) break
    collisionCount++
    cand = newControllerRevision(set, STS_KIND, labels, data, next, collisionCount)
  }
  const actions: StsAction[] = []
  const equal = findEqualRevisions(owned, cand)
  let update: ControllerRevision
  if (equal.length > 0 && equal[equal.length - 1] === owned[owned.length - 1]) update = equal[equal.length - 1]!
  else if (equal.length > 0) {
    const old = equal[equal.length - 1]!
    update = { ...old, revision: next }
    actions.push({ kind: 'renumberRevision', name: old.metadata.name!, revision: next })
  } else {
    update = cand
    actions.push({ kind: 'createRevision', revision: cand })
  }
  const list = [...owned.filter((r) => r.metadata.name !== update.metadata.name), update]
  const current = list.find((r) => r.metadata.name === set.status?.currentRevision) ?? update
  return { current, update, collisionCount, owned: sortControllerRevisions(list), actions }
}

// ---------- status ----------

function computeStatus(set: StatefulSet, pods: Pod[], rev: Revisions, now: number): StatefulSetStatus {
  const minReady = set.spec.minReadySeconds ?? 0
  const st: StatefulSetStatus = {
    observedGeneration: set.metadata.generation ?? 0,
    replicas: 0,
    readyReplicas: 0,
    currentReplicas: 0,
    updatedReplicas: 0,
    availableReplicas: 0,
    currentRevision: rev.current.metadata.name!,
    updateRevision: rev.update.metadata.name!,
    collisionCount: rev.collisionCount,
  }
  for (const p of pods) {
    st.replicas++
    if (isRunningAndReady(p)) {
      st.readyReplicas!++
      if (podIsAvailable(p, minReady, now)) st.availableReplicas!++
    }
    if (!isTerminating(p)) {
      if (podRevision(p) === st.currentRevision) st.currentReplicas!++
      if (podRevision(p) === st.updateRevision) st.updatedReplicas!++
    }
  }
  // completeRollingUpdate: every pod updated and ready → the update revision is current.
  if (set.spec.updateStrategy?.type !== 'OnDelete' && st.updatedReplicas === st.replicas && st.readyReplicas === st.replicas) {
    st.currentReplicas = st.updatedReplicas
    st.currentRevision = st.updateRevision
  }
  if (set.status?.conditions?.length) st.conditions = set.status.conditions
  return st
}

function sameStatus(a: StatefulSetStatus | undefined, b: StatefulSetStatus): boolean {
  if (!a) return false
  const keys: (keyof StatefulSetStatus)[] = ['observedGeneration', 'replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'currentRevision', 'updateRevision', 'collisionCount']
  return keys.every((k) => (a[k] ?? 0) === (b[k] ?? 0))
}

// ---------- the pass ----------

export function reconcileStatefulSet(input: StsInput): StsResult {
  const { set, now } = input
  const name = set.metadata.name!
  // Claim pods: only pods named like ours may be adopted; ours that lost the name are released.
  const members = input.pods.filter((p) => podOrdinal(name, p.metadata.name ?? '') >= 0)
  const { owned, actions: claimActions } = claimPods(set, set.spec.selector, members)
  const actions: StsAction[] = [...claimActions]
  for (const p of input.pods)
    if (podOrdinal(name, p.metadata.name ?? '') < 0 && controllerRef(p)?.uid === set.metadata.uid && !isDeleting(p)) actions.push({ kind: 'release', pod: p.metadata.name! })

  const rev = resolveRevisions(set, input.revisions)
  actions.push(...rev.actions)
  let requeue: number | undefined
  const wake = (ms: number): void => {
    requeue = requeue === undefined ? ms : Math.min(requeue, ms)
  }

  if (!isDeleting(set)) {
    const res = pass(set, owned, input, rev, now, wake)
    actions.push(...res)
  }

  const status = computeStatus(set, owned, rev, now)
  if (!sameStatus(set.status, status)) actions.push({ kind: 'status', status })

  // History: keep revisionHistoryLimit old revisions besides the live ones.
  const live = new Set<string>([rev.current.metadata.name!, rev.update.metadata.name!])
  for (const p of owned) {
    const r = podRevision(p)
    if (r) live.add(r)
  }
  for (const r of revisionsToTruncate(rev.owned, live, set.spec.revisionHistoryLimit ?? 10))
    if (r.metadata.uid) actions.push({ kind: 'deleteRevision', name: r.metadata.name!, uid: r.metadata.uid })
  return requeue === undefined ? { actions } : { actions, requeueAfterMs: requeue }
}

/** The pod and claim actions of one pass (updateStatefulSet); ends early where upstream returns. */
function pass(set: StatefulSet, owned: Pod[], input: StsInput, rev: Revisions, now: number, wake: (ms: number) => void): StsAction[] {
  const out: StsAction[] = []
  const monotonic = set.spec.podManagementPolicy !== 'Parallel'
  const minReady = set.spec.minReadySeconds ?? 0
  const start = set.spec.ordinals?.start ?? 0
  const count = set.spec.replicas ?? 1
  const strategy = set.spec.updateStrategy ?? {}
  const partition = strategy.rollingUpdate?.partition ?? 0
  const currentTemplate = templateOf(rev.current) ?? set.spec.template
  const claimsByName = new Map(input.claims.map((c) => [c.metadata.name!, c]))

  const slots: (Pod | undefined)[] = new Array<Pod | undefined>(count).fill(undefined)
  const condemned: Pod[] = []
  for (const p of owned) {
    const ord = podOrdinal(set.metadata.name!, p.metadata.name!)
    if (ord >= start && ord < start + count) slots[ord - start] = p
    else condemned.push(p)
  }
  condemned.sort((a, b) => podOrdinal(set.metadata.name!, b.metadata.name!) - podOrdinal(set.metadata.name!, a.metadata.name!))

  // The first unhealthy pod, in range upwards, then condemned lowest first: the one pod a
  // monotonic scale-down may remove even though it is unhealthy.
  let firstUnhealthy: Pod | undefined
  for (const p of slots) if (p && !isHealthy(p)) { firstUnhealthy ??= p }
  for (let i = condemned.length - 1; i >= 0; i--) if (!isHealthy(condemned[i]!)) firstUnhealthy ??= condemned[i]

  const notAvailableYet = (p: Pod): boolean => {
    if (podIsAvailable(p, minReady, now)) return false
    const since = Date.parse(getCondition(p.status?.conditions, 'Ready')?.lastTransitionTime ?? '')
    if (Number.isFinite(since)) wake(Math.max(0, since + minReady * 1000 - now) + 50)
    return true
  }
  const claimRefActions = (pod: Pod, inRange: boolean): StsAction[] => {
    const acts: StsAction[] = []
    for (const tpl of set.spec.volumeClaimTemplates ?? []) {
      const ord = podOrdinal(set.metadata.name!, pod.metadata.name!)
      const c = claimsByName.get(claimName(set, tpl.metadata.name!, ord))
      if (!c || isDeleting(c) || !c.metadata.uid) continue
      const want = wantedClaimRefs(c, set, pod, inRange)
      if (!sameRefs(c.metadata.ownerReferences, want)) acts.push({ kind: 'updateClaimRefs', claim: c.metadata.name!, uid: c.metadata.uid, ownerReferences: want })
    }
    return acts
  }

  let createdAny = false
  /** Pods deleted earlier in this pass (Parallel): the update logic must not count them again. */
  const gone = new Set<string>()
  for (let i = 0; i < count; i++) {
    const ord = start + i
    const pod = slots[i]
    if (pod && (isFailed(pod) || isSucceeded(pod)) && !isTerminating(pod)) {
      const pn = pod.metadata.name!
      out.push(
        isFailed(pod)
          ? { kind: 'event', type: 'Warning', reason: 'RecreatingFailedPod', message: `StatefulSet ${set.metadata.namespace}/${set.metadata.name} is recreating failed Pod ${pn}` }
          : { kind: 'event', type: 'Normal', reason: 'RecreatingTerminatedPod', message: `StatefulSet ${set.metadata.namespace}/${set.metadata.name} is recreating terminated Pod ${pn}` },
      )
      out.push({ kind: 'deletePod', pod: pn, uid: pod.metadata.uid!, reason: isFailed(pod) ? 'failed' : 'succeeded' })
      // Recreated once the informer shows it gone (the name is reused).
      if (monotonic) return out
      gone.add(pn)
      continue
    }
    if (!pod) {
      // Below the partition a RollingUpdate recreates pods at the current revision.
      const atCurrent = strategy.type !== 'OnDelete' && ord < partition
      const tpl = atCurrent ? currentTemplate : set.spec.template
      const revName = atCurrent ? rev.current.metadata.name! : rev.update.metadata.name!
      const np = newStatefulSetPod(set, tpl, revName, ord)
      let stale = false
      for (const tplc of set.spec.volumeClaimTemplates ?? []) {
        const cn = claimName(set, tplc.metadata.name!, ord)
        const c = claimsByName.get(cn)
        if (!c) {
          const claim = newClaim(set, tplc, ord)
          const refs = wantedClaimRefs(claim, set, undefined, true)
          if (refs.length) claim.metadata.ownerReferences = refs
          out.push({ kind: 'createClaim', claim, pod: np.metadata.name! })
        } else if (claimIsStale(c)) stale = true
      }
      // A claim still owned by the previous pod of this name (being collected): wait for it.
      if (stale) return out
      out.push({ kind: 'createPod', pod: np })
      createdAny = true
      if (monotonic) return out
      continue
    }
    if (pod.status?.phase === 'Pending' && !isTerminating(pod)) {
      for (const tplc of set.spec.volumeClaimTemplates ?? []) {
        const cn = claimName(set, tplc.metadata.name!, ord)
        if (!claimsByName.has(cn)) out.push({ kind: 'createClaim', claim: newClaim(set, tplc, ord), pod: pod.metadata.name! })
      }
    }
    if (isTerminating(pod) && monotonic) return out
    if (!isRunningAndReady(pod) && monotonic) return out
    if (monotonic && notAvailableYet(pod)) return out
    if (isTerminating(pod)) continue
    // Enforce identity and claim ownership on pods that are otherwise fine.
    const want = { [LABEL_STS_POD_NAME]: pod.metadata.name!, [LABEL_POD_INDEX]: String(ord) }
    const labels = pod.metadata.labels ?? {}
    if (Object.entries(want).some(([k, v]) => labels[k] !== v)) out.push({ kind: 'fixPodLabels', pod: pod.metadata.name!, uid: pod.metadata.uid!, labels: want })
    out.push(...claimRefActions(pod, true))
  }

  // Claims of condemned pods follow whenScaled before the pods go.
  for (const p of condemned) if (!isTerminating(p)) out.push(...claimRefActions(p, false))

  for (const p of condemned) {
    if (isTerminating(p)) {
      if (monotonic) return out
      continue
    }
    if (monotonic && p !== firstUnhealthy && (!isRunningAndReady(p) || notAvailableYet(p))) return out
    out.push({ kind: 'deletePod', pod: p.metadata.name!, uid: p.metadata.uid!, reason: 'scale' })
    if (monotonic) return out
  }

  if (strategy.type === 'OnDelete' || createdAny || gone.size > 0) return out

  // RollingUpdate, highest ordinal first, never below the partition.
  const minIdx = Math.max(0, partition - start)
  const mu = strategy.rollingUpdate?.maxUnavailable
  if (mu === undefined || mu === null) {
    for (let i = count - 1; i >= minIdx; i--) {
      const p = slots[i]!
      if (podRevision(p) !== rev.update.metadata.name && !isTerminating(p)) {
        out.push({ kind: 'deletePod', pod: p.metadata.name!, uid: p.metadata.uid!, reason: 'update' })
        return out
      }
      if (!isHealthy(p)) return out
    }
    return out
  }
  const maxUnavailable = Math.max(1, resolveIntOrPercent(mu, count, true, 1))
  const unavailable = slots.filter((p) => !p || !isHealthy(p)).length
  let budget = maxUnavailable - unavailable
  for (let i = count - 1; i >= minIdx && budget > 0; i--) {
    const p = slots[i]!
    if (podRevision(p) !== rev.update.metadata.name && !isTerminating(p)) {
      out.push({ kind: 'deletePod', pod: p.metadata.name!, uid: p.metadata.uid!, reason: 'update' })
      budget--
    }
  }
  return out
}
