// Shape guards and shared field checks. Objects arrive straight from JSON bodies, so every read
// tolerates any shape: a wrong type is a field error, never an exception.
import { typeInvalid, invalid, notSupported, type FieldError } from '../field-errors.js'
import { isQualifiedName, isValidLabelValue, isValidPortNum, isValidPortName } from '../names.js'
import { deepEqual } from '../equal.js'

export { deepEqual }

export type Obj = Record<string, unknown>
export type Errs = FieldError[]

export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
export const absent = (v: unknown): v is undefined | null => v === undefined || v === null

export function asObj(v: unknown, path: string, errs: Errs): Obj | undefined {
  if (absent(v)) return undefined
  if (!isObj(v)) {
    errs.push(typeInvalid(path, v, 'must be of type object'))
    return undefined
  }
  return v
}

export function asArray(v: unknown, path: string, errs: Errs): unknown[] {
  if (absent(v)) return []
  if (!Array.isArray(v)) {
    errs.push(typeInvalid(path, v, 'must be of type array'))
    return []
  }
  return v
}

export function asString(v: unknown, path: string, errs: Errs): string | undefined {
  if (absent(v)) return undefined
  if (typeof v !== 'string') {
    errs.push(typeInvalid(path, v, 'must be of type string'))
    return undefined
  }
  return v
}

export function asInt(v: unknown, path: string, errs: Errs): number | undefined {
  if (absent(v)) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    errs.push(typeInvalid(path, v, 'must be of type integer'))
    return undefined
  }
  return v
}

export function asBool(v: unknown, path: string, errs: Errs): boolean | undefined {
  if (absent(v)) return undefined
  if (typeof v !== 'boolean') {
    errs.push(typeInvalid(path, v, 'must be of type boolean'))
    return undefined
  }
  return v
}

/** A map of string → string (labels, selectors, data). */
export function asStringMap(v: unknown, path: string, errs: Errs): Record<string, string> {
  const o = asObj(v, path, errs)
  if (!o) return {}
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== 'string') errs.push(typeInvalid(`${path}[${k}]`, x, 'must be of type string'))
    else out[k] = x
  }
  return out
}

export function nonNegative(v: number | undefined, path: string, errs: Errs): void {
  if (v !== undefined && v < 0) errs.push(invalid(path, v, 'must be greater than or equal to 0'))
}

export function oneOf(v: string | undefined, path: string, allowed: readonly string[], errs: Errs): void {
  if (v !== undefined && !allowed.includes(v)) errs.push(notSupported(path, v, allowed))
}

export function validateLabels(v: unknown, path: string, errs: Errs): void {
  const labels = asStringMap(v, path, errs)
  for (const [k, val] of Object.entries(labels)) {
    for (const m of isQualifiedName(k)) errs.push(invalid(path, k, m))
    for (const m of isValidLabelValue(val)) errs.push(invalid(path, val, m))
  }
}

export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const

/** A port number (1–65535) or an IANA service name, as in targetPort and probe ports. */
export function validatePortNumOrName(v: unknown, path: string, errs: Errs): void {
  if (typeof v === 'number') {
    for (const m of isValidPortNum(v)) errs.push(invalid(path, v, m))
  } else if (typeof v === 'string') {
    // A numeric string is still an IntOrString string: k8s treats it as a (bad) name.
    for (const m of isValidPortName(v)) errs.push(invalid(path, v, m))
  } else if (absent(v)) {
    errs.push({ type: 'FieldValueRequired', field: path, message: 'Required value' })
  } else {
    errs.push(typeInvalid(path, v, 'must be an integer or a string'))
  }
}

/** IntOrString that must be a non-negative int or a percentage ("25%"). */
export function validatePositiveIntOrPercent(v: unknown, path: string, errs: Errs): void {
  if (absent(v)) return
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) errs.push(typeInvalid(path, v, 'must be an integer or a percentage'))
    else nonNegative(v, path, errs)
  } else if (typeof v === 'string') {
    if (!/^[0-9]+%$/.test(v))
      errs.push(
        invalid(path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
      )
  } else errs.push(typeInvalid(path, v, 'must be an integer or a percentage'))
}

export function immutable(newV: unknown, oldV: unknown, path: string, errs: Errs): void {
  if (!deepEqual(newV, oldV)) errs.push(invalid(path, newV ?? null, 'field is immutable'))
}
