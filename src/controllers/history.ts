// ControllerRevision history for StatefulSets and DaemonSets (upstream's pkg/controller/history),
// pure: the controllers keep one revision per distinct template, name it `<owner>-<hash>`, number
// revisions 1, 2, … and re-number an old one when a rollback makes it current again.
import type { ControllerRevision, KubeObject, OwnerReference } from '../api/types.js'
import { canonicalJSON, creationMs, fnv32a, safeEncode } from './util.js'

/** Label put on every revision (and, by the owners, on their pods): the revision's hash. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller.kubernetes.io/hash'

/** The name upstream keeps short enough for the pod label it also becomes. */
const MAX_PREFIX = 223

/**
 * The hash naming a revision of `data`. `collisionCount` (the owner's status.collisionCount) is
 * mixed in so that, when two different snapshots hash alike, the owner bumps it and moves on.
 */
export function hashControllerRevision(data: unknown, collisionCount?: number): string {
  const probe = collisionCount === undefined ? '' : String(collisionCount)
  return safeEncode(fnv32a(canonicalJSON(data) + probe))
}

export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.slice(0, MAX_PREFIX)}-${hash}`
}

export interface OwnerKind {
  apiVersion: string
  kind: string
}

/** A new revision of `parent` holding `data`, labelled like the parent's pod template. */
export function newControllerRevision(
  parent: KubeObject,
  parentKind: OwnerKind,
  templateLabels: Record<string, string> | undefined,
  data: unknown,
  revision: number,
  collisionCount?: number,
): ControllerRevision {
  const hash = hashControllerRevision(data, collisionCount)
  const owner: OwnerReference = {
    apiVersion: parentKind.apiVersion,
    kind: parentKind.kind,
    name: parent.metadata.name!,
    uid: parent.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(parent.metadata.name!, hash),
      namespace: parent.metadata.namespace,
      labels: { ...(templateLabels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
      ownerReferences: [owner],
    },
    data,
    revision,
  }
}

/** Same snapshot: the data is equal (the hash label is only a fast pre-check, as upstream). */
export function equalRevision(a: ControllerRevision, b: ControllerRevision): boolean {
  const ha = a.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL]
  const hb = b.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL]
  if (ha !== undefined && hb !== undefined && ha !== hb) return false
  return canonicalJSON(a.data) === canonicalJSON(b.data)
}

export function findEqualRevisions(revs: readonly ControllerRevision[], needle: ControllerRevision): ControllerRevision[] {
  return revs.filter((r) => equalRevision(r, needle))
}

/** Oldest first: by revision, then creation time, then name (upstream's byRevision). */
export function sortControllerRevisions(revs: readonly ControllerRevision[]): ControllerRevision[] {
  return [...revs].sort(
    (a, b) =>
      (a.revision ?? 0) - (b.revision ?? 0) ||
      creationMs(a) - creationMs(b) ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  )
}

/** The number the next new revision gets: one past the highest. */
export function nextRevision(revs: readonly ControllerRevision[]): number {
  let max = 0
  for (const r of revs) if ((r.revision ?? 0) > max) max = r.revision ?? 0
  return max + 1
}

/** The revisions `owner` controls (by controller ownerReference uid). */
export function ownedRevisions(revs: readonly ControllerRevision[], owner: KubeObject): ControllerRevision[] {
  return revs.filter((r) => r.metadata.ownerReferences?.some((o) => o.controller && o.uid === owner.metadata.uid))
}

/**
 * Revisions beyond `limit` to delete, oldest first, never one named in `live` (the current
 * and update revisions, and any revision a pod still runs).
 */
export function revisionsToTruncate(revs: readonly ControllerRevision[], live: ReadonlySet<string>, limit: number): ControllerRevision[] {
  const history = sortControllerRevisions(revs).filter((r) => !live.has(r.metadata.name ?? ''))
  const excess = history.length - Math.max(0, limit)
  return excess > 0 ? history.slice(0, excess) : []
}
