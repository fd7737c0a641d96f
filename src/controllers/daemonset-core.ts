// DaemonSet reconcile core (kube-controller-manager's DaemonSetsController, v1.33), pure: from a
// DaemonSet, the nodes, the pods of its namespace and its ControllerRevisions, decide what to do.
// The shell (daemonset.ts) applies the actions. One pass, as upstream's syncDaemonSet:
//   1. history: the revision whose data equals the current template is "current" (created with
//      the next number if missing, re-numbered when a rollback makes an old one current again);
//      its hash labels new pods (`controller-revision-hash`, with `pod-template-generation`);
//   2. manage: per node, should a daemon pod run there (nodeSelector, required node affinity,
//      taints vs the template's tolerations plus the DaemonSet defaults) and may a running one
//      stay (only untolerated NoExecute taints evict it)? Create where one is missing, delete
//      failed pods, extras (the oldest stays) and pods on nodes that no longer fit or exist.
//      Pods are created unscheduled, pinned by `matchFields metadata.name` node affinity, and
//      bound by the default scheduler (upstream since 1.12);
//   3. RollingUpdate, only when manage had nothing to do: maxSurge 0 deletes old pods while at
//      most maxUnavailable nodes lack an available pod (a terminating pod counts as missing; the
//      next manage creates the new one once it is gone); maxSurge > 0 creates a new pod beside
//      the old one on up to maxSurge nodes, and deletes the old pod once the new one is available;
//   4. history beyond revisionHistoryLimit is deleted (never a revision a pod still runs);
//   5. status, from the pods as they are now.
import type { ControllerRevision, DaemonSet, DaemonSetStatus, Node, Pod, PodSpec, Taint, Toleration } from '../api/types.js'
import { LABEL_CONTROLLER_REVISION_HASH, LABEL_POD_TEMPLATE_GENERATION } from '../api/types.js'
import { claimPods, type ClaimAction } from './replicaset-core.js'
import { isPodTerminal, podIsAvailable, podIsReady, resolveIntOrPercent } from './apiutil.js'
import { creationMs, isDeleting, canonicalJSON } from './util.js'
import { hashControllerRevision, newControllerRevision, nextRevision, ownedRevisions, revisionsToTruncate } from './history.js'
import { tolerates } from '../scheduler/core.js'
import { podMatchesNodeAffinity } from '../api/node-affinity.js'

export const DS_KIND = { apiVersion: 'apps/v1', kind: 'DaemonSet' } as const
/** apps/v1 stores the internal spec.templateGeneration here (see the apiserver's strategy). */
export const ANNOTATION_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation'

export type DSAction =
  | ClaimAction
  | { kind: 'createRevision'; revision: ControllerRevision }
  | { kind: 'renumberRevision'; name: string; revision: number }
  | { kind: 'deleteRevisions'; names: string[] }
  | { kind: 'create'; nodes: string[] }
  | { kind: 'delete'; pods: string[] }
  /** A failed pod is about to be deleted: upstream's FailedDaemonPod warning. */
  | { kind: 'failedPod'; pod: string; node: string }
  | { kind: 'status'; status: DaemonSetStatus }

export interface DSInput {
  ds: DaemonSet
  nodes: Node[]
  /** Every pod of the DaemonSet's namespace. */
  pods: Pod[]
  /** Every ControllerRevision of the namespace. */
  revisions: ControllerRevision[]
  now: number
  /** False while earlier creates/deletes are unobserved: then no pod is created or deleted. */
  expectationsSatisfied?: boolean
}

export interface DSResult {
  actions: DSAction[]
  /** The current revision's hash (what new pods are labelled with). */
  hash: string
  /** Ask to be called again (pods turning available after minReadySeconds). */
  requeueAfterMs?: number
}

// ---------- pods for one node ----------

/** The tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations). */
export function daemonPodTolerations(spec: PodSpec): Toleration[] {
  const add: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
    ...(spec.hostNetwork ? [{ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' } as Toleration] : []),
  ]
  // AddOrUpdateTolerationInPodSpec: a toleration of the same key, operator and effect is replaced.
  const out = (spec.tolerations ?? []).filter((t) => !add.some((a) => a.key === t.key && a.effect === t.effect && (t.operator ?? 'Equal') === a.operator))
  return [...out, ...add]
}

/** The daemon pod for `node` (NewPod + CreatePodTemplate + ReplaceDaemonSetPodNodeNameNodeAffinity). */
export function newDaemonPod(ds: DaemonSet, node: string, hash: string): Pod {
  const t = ds.spec.template
  const spec = structuredClone(t.spec)
  spec.tolerations = daemonPodTolerations(spec)
  const affinity = (spec.affinity ?? {}) as Record<string, unknown>
  const nodeAffinity = { ...((affinity.nodeAffinity as Record<string, unknown> | undefined) ?? {}) }
  // The controller has checked the template's own terms; the pod keeps only the pin to its node.
  nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] }
  spec.affinity = { ...affinity, nodeAffinity }
  const generation = ds.metadata.annotations?.[ANNOTATION_TEMPLATE_GENERATION]
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace,
      labels: {
        ...(t.metadata?.labels ?? {}),
        ...(generation !== undefined ? { [LABEL_POD_TEMPLATE_GENERATION]: generation } : {}),
        [LABEL_CONTROLLER_REVISION_HASH]: hash,
      },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
    },
    spec,
  }
}

function untolerated(taints: Taint[], tols: Toleration[], effects: readonly string[]): boolean {
  return taints.some((t) => effects.includes(t.effect) && !tolerates(tols, t))
}

/** NodeShouldRunDaemonPod: may a daemon pod be placed here, and may one already here stay? */
export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec.template.spec
  if (spec.nodeName && spec.nodeName !== node.metadata.name) return { shouldRun: false, shouldContinueRunning: false }
  const probe: Pod = { metadata: { labels: ds.spec.template.metadata?.labels ?? {} }, spec }
  if (!podMatchesNodeAffinity(probe, node)) return { shouldRun: false, shouldContinueRunning: false }
  const tols = daemonPodTolerations(spec)
  const taints = node.spec?.taints ?? []
  if (untolerated(taints, tols, ['NoSchedule', 'NoExecute'])) return { shouldRun: false, shouldContinueRunning: !untolerated(taints, tols, ['NoExecute']) }
  return { shouldRun: true, shouldContinueRunning: true }
}

/** GetTargetNodeName: the bound node, or the node an unscheduled daemon pod is pinned to. */
export function targetNodeName(p: Pod): string | undefined {
  if (p.spec.nodeName) return p.spec.nodeName
  const terms = ((p.spec.affinity as { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: { matchFields?: { key: string; operator: string; values?: string[] }[] }[] } } } | undefined)?.nodeAffinity
    ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms) ?? []
  for (const t of terms) for (const f of t.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0]
  return undefined
}

/** podByCreationTimestampAndPhase: scheduled first, then oldest, then by name. */
function byAge(a: Pod, b: Pod): number {
  const sa = a.spec.nodeName ? 0 : 1
  const sb = b.spec.nodeName ? 0 : 1
  return sa - sb || creationMs(a) - creationMs(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
}

/** IsPodUpdated: the pod runs the current template (by hash, or by template generation). */
export function isPodUpdated(p: Pod, hash: string, generation: string | undefined): boolean {
  const l = p.metadata.labels ?? {}
  return (hash !== '' && l[LABEL_CONTROLLER_REVISION_HASH] === hash) || (generation !== undefined && l[LABEL_POD_TEMPLATE_GENERATION] === generation)
}

// ---------- history ----------

/** What a revision stores (upstream's getPatch): a strategic-merge patch replacing the template. */
export function revisionData(ds: DaemonSet): unknown {
  return { spec: { template: { ...structuredClone(ds.spec.template), $patch: 'replace' } } }
}

interface History {
  actions: DSAction[]
  hash: string
  curName: string
  old: ControllerRevision[]
}

function constructHistory(ds: DaemonSet, all: ControllerRevision[]): History {
  const mine = ownedRevisions(all, ds)
  const data = revisionData(ds)
  const want = canonicalJSON(data)
  const cur = mine.filter((r) => canonicalJSON(r.data) === want)
  const old = mine.filter((r) => !cur.includes(r))
  const next = nextRevision(old)
  const actions: DSAction[] = []
  if (cur.length === 0) {
    const rev = newControllerRevision(ds, DS_KIND, ds.spec.template.metadata?.labels, data, next, ds.status?.collisionCount)
    // The DaemonSet's own label key for the same hash (apps.DefaultDaemonSetUniqueLabelKey).
    const hash = currentHash(ds)
    rev.metadata.labels![LABEL_CONTROLLER_REVISION_HASH] = hash
    if (ds.metadata.annotations) rev.metadata.annotations = { ...ds.metadata.annotations }
    actions.push({ kind: 'createRevision', revision: rev })
    return { actions, hash, curName: rev.metadata.name!, old }
  }
  // Duplicates of the current one (dedupCurHistories): keep the highest revision.
  const keep = [...cur].sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0]!
  const dups = cur.filter((r) => r !== keep)
  if (dups.length) actions.push({ kind: 'deleteRevisions', names: dups.map((r) => r.metadata.name!) })
  if ((keep.revision ?? 0) < next) actions.push({ kind: 'renumberRevision', name: keep.metadata.name!, revision: next })
  const hash = keep.metadata.labels?.[LABEL_CONTROLLER_REVISION_HASH] ?? keep.metadata.name!
  return { actions, hash, curName: keep.metadata.name!, old }
}

/** The hash a fresh revision of `ds` gets: its name suffix and its pods' `controller-revision-hash`. */
export function currentHash(ds: DaemonSet): string {
  return hashControllerRevision(revisionData(ds), ds.status?.collisionCount)
}

// ---------- the pass ----------

export function reconcileDaemonSet(input: DSInput): DSResult {
  const { ds, nodes, now } = input
  const { owned, actions: claimed } = claimPods(ds, ds.spec.selector, input.pods)
  const actions: DSAction[] = [...claimed]
  const hist = constructHistory(ds, input.revisions)
  actions.push(...hist.actions)
  const { hash } = hist
  const generation = ds.metadata.annotations?.[ANNOTATION_TEMPLATE_GENERATION]
  const minReady = ds.spec.minReadySeconds ?? 0
  const available = (p: Pod) => podIsAvailable(p, minReady, now)

  // getNodesToDaemonPods: terminal pods already being deleted are gone for every purpose.
  const byNode = new Map<string, Pod[]>()
  const noNode: Pod[] = []
  for (const p of owned) {
    if (isPodTerminal(p) && isDeleting(p)) continue
    const n = targetNodeName(p)
    if (!n) continue
    if (!byNode.has(n)) byNode.set(n, [])
    byNode.get(n)!.push(p)
  }
  const nodeNames = new Set(nodes.map((n) => n.metadata.name!))
  for (const [n, ps] of byNode) if (!nodeNames.has(n)) noNode.push(...ps)
  const fit = new Map(nodes.map((n) => [n.metadata.name!, nodeShouldRunDaemonPod(n, ds)]))

  if (!isDeleting(ds) && input.expectationsSatisfied !== false) {
    const create: string[] = []
    const del: string[] = []
    for (const node of nodes) {
      const name = node.metadata.name!
      const { shouldRun, shouldContinueRunning } = fit.get(name)!
      const pods = byNode.get(name) ?? []
      if (shouldRun && pods.length === 0) create.push(name)
      else if (shouldContinueRunning) {
        const running: Pod[] = []
        for (const p of pods) {
          if (isDeleting(p)) continue
          if (p.status?.phase === 'Failed') {
            actions.push({ kind: 'failedPod', pod: p.metadata.name!, node: name })
            del.push(p.metadata.name!)
          } else if (p.status?.phase === 'Succeeded') del.push(p.metadata.name!)
          else running.push(p)
        }
        running.sort(byAge)
        if (!allowsSurge(ds)) {
          for (const p of running.slice(1)) del.push(p.metadata.name!)
        } else if (running.length === 0) {
          // Surging creates first: a terminating pod does not hold the new one back.
          if (shouldRun) create.push(name)
        } else if (running.length > 1) {
          // Surging: at most one old and one new; the old goes once the new is available.
          let oldestNew: Pod | undefined
          let oldestOld: Pod | undefined
          for (const p of running) {
            const upd = isPodUpdated(p, hash, generation)
            if (upd && !oldestNew) oldestNew = p
            else if (!upd && !oldestOld) oldestOld = p
            else del.push(p.metadata.name!)
          }
          if (oldestNew && oldestOld && (!podIsReady(oldestOld) || available(oldestNew))) del.push(oldestOld.metadata.name!)
        }
      } else for (const p of pods) if (!isDeleting(p)) del.push(p.metadata.name!)
    }
    // Pods pinned to nodes that no longer exist.
    for (const p of noNode) if (!isDeleting(p)) del.push(p.metadata.name!)
    if (create.length === 0 && del.length === 0 && ds.spec.updateStrategy?.type !== 'OnDelete') {
      const ru = rollingUpdate({ ds, nodes, fit, byNode, hash, generation }, available)
      create.push(...ru.create)
      del.push(...ru.del)
    }
    if (create.length) actions.push({ kind: 'create', nodes: create })
    if (del.length) actions.push({ kind: 'delete', pods: [...new Set(del)] })
  }

  // History beyond the limit; a revision some pod still runs is kept.
  const live = new Set([hist.curName])
  const liveHashes = new Set(owned.map((p) => p.metadata.labels?.[LABEL_CONTROLLER_REVISION_HASH]).filter((h): h is string => !!h))
  for (const r of hist.old) if (liveHashes.has(r.metadata.labels?.[LABEL_CONTROLLER_REVISION_HASH] ?? '')) live.add(r.metadata.name!)
  const truncate = revisionsToTruncate(hist.old, live, ds.spec.revisionHistoryLimit ?? 10)
  if (truncate.length) actions.push({ kind: 'deleteRevisions', names: truncate.map((r) => r.metadata.name!) })

  const { status, requeueAfterMs } = dsStatus({ ds, nodes, fit, byNode, hash, generation }, now)
  if (!sameStatus(ds.status, status)) actions.push({ kind: 'status', status })
  return requeueAfterMs === undefined ? { actions, hash } : { actions, hash, requeueAfterMs }
}

function allowsSurge(ds: DaemonSet): boolean {
  const ru = ds.spec.updateStrategy?.type === 'RollingUpdate' ? ds.spec.updateStrategy.rollingUpdate : undefined
  return !!ru && resolveIntOrPercent(ru.maxSurge, 1, true, 0) > 0
}

/** findUpdatedPodsOnNode: at most one new and one old live pod, else `ok` is false. */
function updatedPodsOnNode(pods: Pod[], hash: string, generation: string | undefined): { ok: boolean; newPod?: Pod; oldPod?: Pod } {
  let newPod: Pod | undefined
  let oldPod: Pod | undefined
  for (const p of pods) {
    if (isDeleting(p)) continue
    if (isPodUpdated(p, hash, generation)) {
      if (newPod) return { ok: false }
      newPod = p
    } else {
      if (oldPod) return { ok: false }
      oldPod = p
    }
  }
  return { ok: true, ...(newPod ? { newPod } : {}), ...(oldPod ? { oldPod } : {}) }
}

/** What one pass has worked out, shared by the rolling update and the status. */
interface Pass {
  ds: DaemonSet
  nodes: Node[]
  fit: Map<string, { shouldRun: boolean }>
  byNode: Map<string, Pod[]>
  hash: string
  generation: string | undefined
}

function rollingUpdate({ ds, nodes, fit, byNode, hash, generation }: Pass, available: (p: Pod) => boolean): { create: string[]; del: string[] } {
  const ru = ds.spec.updateStrategy?.rollingUpdate ?? {}
  const desired = nodes.filter((n) => fit.get(n.metadata.name!)?.shouldRun).length
  let maxSurge = resolveIntOrPercent(ru.maxSurge, desired, true, 0)
  let maxUnavailable = resolveIntOrPercent(ru.maxUnavailable, desired, true, 1)
  // updatedDesiredNodeCounts: an invalid 0/0 behaves as maxUnavailable 1.
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1
  const entries = [...byNode.entries()].sort(([a], [b]) => a.localeCompare(b))
  if (maxSurge === 0) {
    let unavailable = 0
    const replace: string[] = []
    const candidates: string[] = []
    for (const [, pods] of entries) {
      const { ok, newPod, oldPod } = updatedPodsOnNode(pods, hash, generation)
      if (!ok || (!oldPod && !newPod) || (oldPod && newPod)) unavailable++
      else if (newPod) {
        if (!available(newPod)) unavailable++
      } else if (oldPod) {
        if (!available(oldPod)) replace.push(oldPod.metadata.name!)
        else if (unavailable < maxUnavailable) candidates.push(oldPod.metadata.name!)
      }
    }
    const room = Math.min(Math.max(0, maxUnavailable - unavailable), candidates.length)
    return { create: [], del: [...replace, ...candidates.slice(0, room)] }
  }
  maxSurge = Math.max(maxSurge, 0)
  const del: string[] = []
  const shouldNotRun: string[] = []
  const candidates: string[] = []
  const allowed: string[] = []
  let surge = 0
  let numAvailable = 0
  for (const [node, pods] of entries) {
    const { ok, newPod, oldPod } = updatedPodsOnNode(pods, hash, generation)
    if (!ok) {
      surge++
      continue
    }
    if (oldPod ? available(oldPod) : newPod ? available(newPod) : false) numAvailable++
    if (!oldPod) continue
    const shouldRun = fit.get(node)?.shouldRun ?? false
    if (!newPod) {
      if (!available(oldPod)) {
        if (!shouldRun) del.push(oldPod.metadata.name!)
        else allowed.push(node)
      } else if (!shouldRun) shouldNotRun.push(oldPod.metadata.name!)
      else if (surge < maxSurge) candidates.push(node)
    } else if (!available(newPod)) surge++
    else del.push(oldPod.metadata.name!)
  }
  // 100% availability with surge: a pod on a node that no longer fits goes only when others make up for it.
  const deletable = Math.min(numAvailable - desired, shouldNotRun.length)
  if (deletable > 0) del.push(...shouldNotRun.slice(0, deletable))
  const room = Math.min(Math.max(0, maxSurge - surge), candidates.length)
  return { create: [...allowed, ...candidates.slice(0, room)], del }
}

function dsStatus({ ds, nodes, fit, byNode, hash, generation }: Pass, now: number): { status: DaemonSetStatus; requeueAfterMs?: number } {
  const minReady = ds.spec.minReadySeconds ?? 0
  let desired = 0
  let current = 0
  let ready = 0
  let avail = 0
  let updated = 0
  let mis = 0
  let requeue: number | undefined
  for (const n of nodes) {
    const pods = [...(byNode.get(n.metadata.name!) ?? [])].sort(byAge)
    const scheduled = pods.length > 0
    if (!fit.get(n.metadata.name!)?.shouldRun) {
      if (scheduled) mis++
      continue
    }
    desired++
    if (!scheduled) continue
    current++
    const p = pods[0]!
    if (podIsReady(p)) {
      ready++
      if (podIsAvailable(p, minReady, now)) avail++
      else {
        const c = p.status?.conditions?.find((x) => x.type === 'Ready')
        const since = c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : now
        const wait = Math.max(0, since + minReady * 1000 - now) + 50
        requeue = requeue === undefined ? wait : Math.min(requeue, wait)
      }
    }
    if (isPodUpdated(p, hash, generation)) updated++
  }
  const status: DaemonSetStatus = {
    currentNumberScheduled: current,
    numberMisscheduled: mis,
    desiredNumberScheduled: desired,
    numberReady: ready,
    observedGeneration: ds.metadata.generation ?? 0,
    updatedNumberScheduled: updated,
    numberAvailable: avail,
    numberUnavailable: desired - avail,
  }
  if (ds.status?.collisionCount !== undefined) status.collisionCount = ds.status.collisionCount
  if (ds.status?.conditions?.length) status.conditions = ds.status.conditions
  return requeue === undefined ? { status } : { status, requeueAfterMs: requeue }
}

function sameStatus(a: DaemonSetStatus | undefined, b: DaemonSetStatus): boolean {
  if (!a) return false
  const keys: (keyof DaemonSetStatus)[] = ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable']
  return keys.every((k) => (a[k] ?? 0) === (b[k] ?? 0))
}
