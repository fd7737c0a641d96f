// pods/log on the apiserver side: PodLogOptions validated as upstream's ValidatePodLogOptions
// (422, `PodLogOptions "<pod>" is invalid: …`), the kubelet's query built from them, and the
// kubelet's refusals turned into Status as the apiserver's response checker does (its 400 text
// becomes a BadRequest message: `previous terminated container "c" in pod "p" not found`).
import { forbidden, invalid, type FieldError } from '../api/field-errors.js'
import * as E from './errors.js'

type Query = Record<string, string | undefined>

/** The query parameters passed on to the kubelet, as kube-apiserver's LogLocation sends them. */
export const LOG_PARAMS = ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes'] as const

export function validateLogOptions(pod: string, q: Query): void {
  const errs: FieldError[] = []
  const num = (name: string): number | undefined => {
    const v = q[name]
    if (v === undefined || v === '') return undefined
    if (!/^-?\d+$/.test(v)) throw E.badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`)
    return Number(v)
  }
  const tail = num('tailLines')
  const limit = num('limitBytes')
  const since = num('sinceSeconds')
  if (tail !== undefined && tail < 0) errs.push(invalid('tailLines', tail, 'must be greater than or equal to 0'))
  if (limit !== undefined && limit < 1) errs.push(invalid('limitBytes', limit, 'must be greater than 0'))
  if (since !== undefined && q.sinceTime) errs.push(forbidden('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'))
  else if (since !== undefined && since < 1) errs.push(invalid('sinceSeconds', since, 'must be greater than 0'))
  if (q.sinceTime && Number.isNaN(Date.parse(q.sinceTime))) throw E.badRequest(`invalid value for sinceTime: ${JSON.stringify(q.sinceTime)}`)
  if (errs.length) throw E.invalid('PodLogOptions', '', pod, errs)
}

/** The kubelet's non-2xx answer as the Status the apiserver returns. */
export function kubeletLogError(status: number, body: string, pod: string): E.ApiError {
  const text = body.trim()
  if (status === 400) return E.badRequest(text)
  if (status === 404) return E.notFound({ group: '', resource: 'pods/log' }, pod)
  return E.internal(text || `kubelet answered ${status}`)
}
