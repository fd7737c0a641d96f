// The error every non-2xx answer becomes: it carries the server's metav1.Status so callers
// branch on `reason`/`code` (NotFound, Conflict, …) exactly like client-go's apierrors.
import type { Status } from '../api/types.js'
import type { ApiStatusError } from './interfaces.js'

const reasonByCode: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
}

export class ApiStatusErrorImpl extends Error implements ApiStatusError {
  readonly code: number
  readonly reason: string
  readonly status: Status

  constructor(status: Status) {
    super(status.message || `${status.reason ?? 'Unknown'} (HTTP ${status.code})`)
    this.name = 'ApiStatusError'
    this.code = status.code
    this.reason = status.reason || reasonByCode[status.code] || 'Unknown'
    this.status = status
  }

  /** Build from an HTTP answer: the body is a Status when the server is Kubernetes-like. */
  static fromResponse(httpCode: number, body: string, what: string): ApiStatusErrorImpl {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = undefined
    }
    if (isStatusShape(parsed)) {
      return new ApiStatusErrorImpl({ ...parsed, code: parsed.code || httpCode })
    }
    const reason = reasonByCode[httpCode] ?? 'Unknown'
    const text = body.trim().slice(0, 300)
    return new ApiStatusErrorImpl({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      code: httpCode,
      reason,
      message: `${what}: HTTP ${httpCode}${text ? `: ${text}` : ''}`,
    })
  }
}

export function isStatusShape(v: unknown): v is Status {
  return (
    typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Status' &&
    typeof (v as { code?: unknown }).code === 'number'
  )
}

export function isApiStatusError(e: unknown): e is ApiStatusError {
  return (
    e instanceof Error &&
    typeof (e as Partial<ApiStatusError>).code === 'number' &&
    typeof (e as Partial<ApiStatusError>).reason === 'string' &&
    typeof (e as Partial<ApiStatusError>).status === 'object'
  )
}

function hasReason(e: unknown, reason: string, code: number): boolean {
  return isApiStatusError(e) && (e.reason === reason || (e.reason === 'Unknown' && e.code === code))
}

export const isNotFound = (e: unknown): boolean => hasReason(e, 'NotFound', 404)
export const isConflict = (e: unknown): boolean => hasReason(e, 'Conflict', 409)
export const isAlreadyExists = (e: unknown): boolean => hasReason(e, 'AlreadyExists', 409)
/** 410: the requested resourceVersion is compacted ('Gone' or the older 'Expired'). */
export const isGone = (e: unknown): boolean =>
  isApiStatusError(e) && (e.code === 410 || e.reason === 'Gone' || e.reason === 'Expired')
export const isInvalid = (e: unknown): boolean => hasReason(e, 'Invalid', 422)
export const isUnauthorized = (e: unknown): boolean => hasReason(e, 'Unauthorized', 401)
export const isForbidden = (e: unknown): boolean => hasReason(e, 'Forbidden', 403)
