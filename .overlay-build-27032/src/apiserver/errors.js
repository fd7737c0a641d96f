import { formatFieldErrors, toStatusCauses } from '../api/field-errors.js';
function qualified(gr) {
    return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}
export class ApiError extends Error {
    status;
    constructor(status) {
        super(status.message ?? status.reason ?? 'error');
        this.status = status;
    }
    get code() {
        return this.status.code;
    }
    get reason() {
        return this.status.reason ?? '';
    }
}
function make(code, reason, message, details) {
    const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
    if (details)
        status.details = details;
    return new ApiError(status);
}
export function notFound(gr, name) {
    return make(404, 'NotFound', `${qualified(gr)} "${name}" not found`, { name, group: gr.group, kind: gr.resource });
}
export function alreadyExists(gr, name) {
    return make(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, { name, group: gr.group, kind: gr.resource });
}
export function conflict(gr, name, why) {
    return make(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, {
        name,
        group: gr.group,
        kind: gr.resource,
    });
}
export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again';
/** 422 with one cause per field error; `kind` is the qualified Kind (`Service`, `Deployment.apps`). */
export function invalid(kind, group, name, errs) {
    const qualifiedKind = group ? `${kind}.${group}` : kind;
    return make(422, 'Invalid', formatFieldErrors(qualifiedKind, name, errs), { name, group, kind, causes: toStatusCauses(errs) });
}
export function badRequest(message) {
    return make(400, 'BadRequest', message);
}
export function gone(message) {
    return make(410, 'Gone', message);
}
/** What a watch or list from a compacted revision gets (reason Expired, code 410). */
export function expired(message) {
    return make(410, 'Expired', message);
}
export function methodNotAllowed(message = 'the server does not allow this method on the requested resource') {
    return make(405, 'MethodNotAllowed', message);
}
export function tooLarge(message = 'Request entity too large: limit is 3145728') {
    return make(413, 'RequestEntityTooLarge', message);
}
export function unsupportedMediaType(contentType) {
    return make(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`);
}
export function notAcceptable() {
    return make(406, 'NotAcceptable', 'only the following media types are accepted: application/json');
}
export function unauthorized() {
    return make(401, 'Unauthorized', 'Unauthorized');
}
export function forbidden(gr, name, why) {
    const subject = name ? `${qualified(gr)} "${name}"` : qualified(gr);
    return make(403, 'Forbidden', `${subject} is forbidden: ${why}`, { name, group: gr.group, kind: gr.resource });
}
export function internal(message) {
    return make(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}
export function timeout(message) {
    return make(504, 'Timeout', message);
}
export function serviceUnavailable(message) {
    return make(503, 'ServiceUnavailable', message);
}
/** The "resource not found" answer for a path no resource serves (kube-apiserver's 404 page). */
export function pathNotFound() {
    return make(404, 'NotFound', 'the server could not find the requested resource', {});
}
export function successStatus(details) {
    const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
    if (details)
        s.details = details;
    return s;
}
/** A patch that does not apply (kube answers 422 with the patch library's message). */
export function invalidPatch(message) {
    return make(422, 'Invalid', message);
}
