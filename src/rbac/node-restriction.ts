// NodeRestriction admission (upstream's plugin/pkg/admission/noderestriction), the write half
// of node isolation: the node authorizer lets a kubelet write nodes, pods and pod status at
// all; this plugin narrows that to its own Node (no `node-restriction.kubernetes.io/` labels
// set or changed), mirror pods bound to itself, and the status of its own pods.
import type { KubeObject, Pod } from '../api/types.js'
import type { AdmissionRequest } from '../apiserver/admission.js'
import { MIRROR_POD_ANNOTATION } from '../apiserver/admission.js'
import * as E from '../apiserver/errors.js'
import { nodeNameOf } from './node.js'

const RESTRICTED_DOMAIN = 'node-restriction.kubernetes.io'

function isRestrictedLabel(key: string): boolean {
  const slash = key.indexOf('/')
  if (slash < 0) return false
  const domain = key.slice(0, slash)
  return domain === RESTRICTED_DOMAIN || domain.endsWith(`.${RESTRICTED_DOMAIN}`)
}

/** Label keys added, removed or changed between old and new (getModifiedLabels). */
export function modifiedLabels(next: Record<string, string> | undefined, old: Record<string, string> | undefined): string[] {
  const a = next ?? {}
  const b = old ?? {}
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].filter((k) => a[k] !== b[k]).sort()
}

const refuse = (a: AdmissionRequest, why: string): E.ApiError => E.forbidden({ group: a.r.group, resource: a.r.plural }, a.name, why)

export function nodeRestriction(a: AdmissionRequest): void {
  const node = nodeNameOf(a.user)
  if (!node || a.r.group !== '') return
  if (a.r.plural === 'nodes') return admitNode(a, node)
  if (a.r.plural === 'pods') return admitPod(a, node)
}

function admitNode(a: AdmissionRequest, node: string): void {
  if (a.name !== node) throw refuse(a, `node ${JSON.stringify(node)} is not allowed to modify node ${JSON.stringify(a.name)}`)
  if (a.op === 'create') {
    const forbiddenLabels = modifiedLabels(labelsOf(a.obj), undefined).filter(isRestrictedLabel)
    if (forbiddenLabels.length) throw refuse(a, `node ${JSON.stringify(node)} is not allowed to set the following labels: ${forbiddenLabels.join(', ')}`)
  } else if (a.op === 'update') {
    const forbiddenLabels = modifiedLabels(labelsOf(a.obj), labelsOf(a.old)).filter(isRestrictedLabel)
    if (forbiddenLabels.length) throw refuse(a, `node ${JSON.stringify(node)} is not allowed to modify labels: ${forbiddenLabels.join(', ')}`)
  }
}

function admitPod(a: AdmissionRequest, node: string): void {
  switch (a.op) {
    case 'create': {
      const pod = a.obj as Pod
      if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] === undefined)
        throw refuse(a, `pod does not have "${MIRROR_POD_ANNOTATION}" annotation, node ${JSON.stringify(node)} can only create mirror pods`)
      if (pod.spec?.nodeName !== node) throw refuse(a, `node ${JSON.stringify(node)} can only create pods with spec.nodeName set to itself`)
      return
    }
    case 'update':
      if (a.sub === 'status') {
        if ((a.old as Pod | undefined)?.spec?.nodeName !== node) throw refuse(a, `node ${JSON.stringify(node)} can only update pod status for pods with spec.nodeName set to itself`)
        return
      }
      // The node rules grant no pod update; RBAC may, and then it is not ours to narrow.
      return
    case 'delete':
      if ((a.old as Pod | undefined)?.spec?.nodeName !== node) throw refuse(a, `node ${JSON.stringify(node)} can only delete pods with spec.nodeName set to itself`)
      return
  }
}

function labelsOf(o: KubeObject | undefined): Record<string, string> | undefined {
  const l = o?.metadata?.labels
  return l && typeof l === 'object' ? l : undefined
}
