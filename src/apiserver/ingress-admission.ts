// kube-apiserver's DefaultIngressClass admission plugin (mutating, create only): an Ingress
// that names no class — neither `spec.ingressClassName` nor the legacy
// `kubernetes.io/ingress.class` annotation — gets the name of the IngressClass marked
// `ingressclass.kubernetes.io/is-default-class: "true"`. With several marked, upstream (since it
// stopped refusing that case) takes the newest by creationTimestamp, the smaller name on a tie.
// No class marked → the Ingress is left without one. Pure over the object and a class lister.
import type { ResourceInfo } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { ANNOTATION_DEFAULT_INGRESS_CLASS, ANNOTATION_INGRESS_CLASS, type Ingress, type IngressClass } from '../api/ingress.js'

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** The class a class-less Ingress gets: the newest marked default, or undefined. */
export function defaultIngressClass(classes: readonly IngressClass[]): IngressClass | undefined {
  const marked = classes.filter((c) => c.metadata.annotations?.[ANNOTATION_DEFAULT_INGRESS_CLASS] === 'true')
  const at = (c: IngressClass): number => Date.parse(c.metadata.creationTimestamp ?? '') || 0
  marked.sort((a, b) => at(b) - at(a) || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1))
  return marked[0]
}

export async function admitIngressCreate(r: ResourceInfo, obj: KubeObject, listClasses: () => Promise<IngressClass[]>): Promise<void> {
  if (r.group !== 'networking.k8s.io' || r.kind !== 'Ingress') return
  const ing = obj as Ingress
  // A malformed object is validation's to report.
  if (!isObj(ing.spec) || !isObj(ing.metadata)) return
  if (ing.spec.ingressClassName !== undefined && ing.spec.ingressClassName !== null) return
  if (isObj(ing.metadata.annotations) && ANNOTATION_INGRESS_CLASS in ing.metadata.annotations) return
  const def = defaultIngressClass(await listClasses())
  if (def?.metadata.name) ing.spec.ingressClassName = def.metadata.name
}
