const reasonByCode = {
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
};
export class ApiStatusErrorImpl extends Error {
    code;
    reason;
    status;
    constructor(status) {
        super(status.message || `${status.reason ?? 'Unknown'} (HTTP ${status.code})`);
        this.name = 'ApiStatusError';
        this.code = status.code;
        this.reason = status.reason || reasonByCode[status.code] || 'Unknown';
        this.status = status;
    }
    /** Build from an HTTP answer: the body is a Status when the server is Kubernetes-like. */
    static fromResponse(httpCode, body, what) {
        let parsed;
        try {
            parsed = JSON.parse(body);
        }
        catch {
            parsed = undefined;
        }
        if (isStatusShape(parsed)) {
            return new ApiStatusErrorImpl({ ...parsed, code: parsed.code || httpCode });
        }
        const reason = reasonByCode[httpCode] ?? 'Unknown';
        const text = body.trim().slice(0, 300);
        return new ApiStatusErrorImpl({
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            code: httpCode,
            reason,
            message: `${what}: HTTP ${httpCode}${text ? `: ${text}` : ''}`,
        });
    }
}
export function isStatusShape(v) {
    return (typeof v === 'object' && v !== null && v.kind === 'Status' &&
        typeof v.code === 'number');
}
export function isApiStatusError(e) {
    return (e instanceof Error &&
        typeof e.code === 'number' &&
        typeof e.reason === 'string' &&
        typeof e.status === 'object');
}
function hasReason(e, reason, code) {
    return isApiStatusError(e) && (e.reason === reason || (e.reason === 'Unknown' && e.code === code));
}
export const isNotFound = (e) => hasReason(e, 'NotFound', 404);
export const isConflict = (e) => hasReason(e, 'Conflict', 409);
export const isAlreadyExists = (e) => hasReason(e, 'AlreadyExists', 409);
/** 410: the requested resourceVersion is compacted ('Gone' or the older 'Expired'). */
export const isGone = (e) => isApiStatusError(e) && (e.code === 410 || e.reason === 'Gone' || e.reason === 'Expired');
export const isInvalid = (e) => hasReason(e, 'Invalid', 422);
export const isUnauthorized = (e) => hasReason(e, 'Unauthorized', 401);
export const isForbidden = (e) => hasReason(e, 'Forbidden', 403);
