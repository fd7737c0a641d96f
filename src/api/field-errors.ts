// Field errors as k8s.io/apimachinery/pkg/util/validation/field renders them. The `type` is the
// StatusCause reason the apiserver returns; `message` is the error body (what a StatusCause carries
// in `message`), e.g. `Invalid value: 70000: must be between 1 and 65535, inclusive`.

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTypeInvalid'
  | 'FieldValueNotFound'

export interface FieldError {
  type: FieldErrorType
  field: string
  value?: unknown
  message: string
}

/** Go's %v/%q rendering, close enough: strings quoted, numbers and booleans bare, the rest as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (v === null || v === undefined) return 'null'
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

const withDetail = (s: string, detail?: string): string => (detail ? `${s}: ${detail}` : s)

export function required(field: string, detail?: string): FieldError {
  return { type: 'FieldValueRequired', field, message: withDetail('Required value', detail) }
}

export function invalid(field: string, value: unknown, detail?: string): FieldError {
  return { type: 'FieldValueInvalid', field, value, message: withDetail(`Invalid value: ${formatValue(value)}`, detail) }
}

export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
  let msg = `Unsupported value: ${formatValue(value)}`
  if (supported.length > 0) msg += `: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`
  return { type: 'FieldValueNotSupported', field, value, message: msg }
}

export function duplicate(field: string, value: unknown): FieldError {
  return { type: 'FieldValueDuplicate', field, value, message: `Duplicate value: ${formatValue(value)}` }
}

export function forbidden(field: string, detail: string): FieldError {
  return { type: 'FieldValueForbidden', field, message: withDetail('Forbidden', detail) }
}

export function tooLong(field: string, value: unknown, max: number, unit = 'bytes'): FieldError {
  return { type: 'FieldValueTooLong', field, value, message: `Too long: may not be more than ${max} ${unit}` }
}

export function typeInvalid(field: string, value: unknown, detail: string): FieldError {
  return { type: 'FieldValueTypeInvalid', field, value, message: withDetail(`Invalid value: ${formatValue(value)}`, detail) }
}

export function notFound(field: string, value: unknown): FieldError {
  return { type: 'FieldValueNotFound', field, value, message: `Not found: ${formatValue(value)}` }
}

/** `field: body`, as field.Error.Error() prints it. */
export function fieldErrorString(e: FieldError): string {
  return e.field ? `${e.field}: ${e.message}` : e.message
}

/**
 * The message of a 422 Invalid Status, as apierrors.NewInvalid builds it:
 * `Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: must be …`; several errors
 * (duplicates removed) are joined as `[a, b]`. `kind` is the qualified kind k8s prints
 * (`Service`, `Deployment.apps`).
 */
export function formatFieldErrors(kind: string, name: string, errs: readonly FieldError[]): string {
  const msgs: string[] = []
  for (const e of errs) {
    const s = fieldErrorString(e)
    if (!msgs.includes(s)) msgs.push(s)
  }
  const head = `${kind} ${JSON.stringify(name)} is invalid`
  if (msgs.length === 0) return head
  if (msgs.length === 1) return `${head}: ${msgs[0]}`
  return `${head}: [${msgs.join(', ')}]`
}

/** StatusCauses for a 422 Invalid Status (details.causes). */
export function toStatusCauses(errs: readonly FieldError[]): { reason: FieldErrorType; message: string; field: string }[] {
  return errs.map((e) => ({ reason: e.type, message: e.message, field: e.field }))
}
