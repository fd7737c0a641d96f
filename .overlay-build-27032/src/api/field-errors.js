// Field errors as k8s.io/apimachinery/pkg/util/validation/field renders them. The `type` is the
// StatusCause reason the apiserver returns; `message` is the error body (what a StatusCause carries
// in `message`), e.g. `Invalid value: 70000: must be between 1 and 65535, inclusive`.
/** Go's %v/%q rendering, close enough: strings quoted, numbers and booleans bare, the rest as JSON. */
export function formatValue(v) {
    if (typeof v === 'string')
        return JSON.stringify(v);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
        return String(v);
    if (v === null || v === undefined)
        return 'null';
    try {
        return JSON.stringify(v);
    }
    catch {
        return String(v);
    }
}
const withDetail = (s, detail) => (detail ? `${s}: ${detail}` : s);
export function required(field, detail) {
    return { type: 'FieldValueRequired', field, message: withDetail('Required value', detail) };
}
export function invalid(field, value, detail) {
    return { type: 'FieldValueInvalid', field, value, message: withDetail(`Invalid value: ${formatValue(value)}`, detail) };
}
export function notSupported(field, value, supported) {
    let msg = `Unsupported value: ${formatValue(value)}`;
    if (supported.length > 0)
        msg += `: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`;
    return { type: 'FieldValueNotSupported', field, value, message: msg };
}
export function duplicate(field, value) {
    return { type: 'FieldValueDuplicate', field, value, message: `Duplicate value: ${formatValue(value)}` };
}
export function forbidden(field, detail) {
    return { type: 'FieldValueForbidden', field, message: withDetail('Forbidden', detail) };
}
export function tooLong(field, value, max, unit = 'bytes') {
    return { type: 'FieldValueTooLong', field, value, message: `Too long: may not be more than ${max} ${unit}` };
}
export function typeInvalid(field, value, detail) {
    return { type: 'FieldValueTypeInvalid', field, value, message: withDetail(`Invalid value: ${formatValue(value)}`, detail) };
}
export function notFound(field, value) {
    return { type: 'FieldValueNotFound', field, value, message: `Not found: ${formatValue(value)}` };
}
/** `field: body`, as field.Error.Error() prints it. */
export function fieldErrorString(e) {
    return e.field ? `${e.field}: ${e.message}` : e.message;
}
/**
 * The message of a 422 Invalid Status, as apierrors.NewInvalid builds it:
 * `Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: must be …`; several errors
 * (duplicates removed) are joined as `[a, b]`. `kind` is the qualified kind k8s prints
 * (`Service`, `Deployment.apps`).
 */
export function formatFieldErrors(kind, name, errs) {
    const msgs = [];
    for (const e of errs) {
        const s = fieldErrorString(e);
        if (!msgs.includes(s))
            msgs.push(s);
    }
    const head = `${kind} ${JSON.stringify(name)} is invalid`;
    if (msgs.length === 0)
        return head;
    if (msgs.length === 1)
        return `${head}: ${msgs[0]}`;
    return `${head}: [${msgs.join(', ')}]`;
}
/** StatusCauses for a 422 Invalid Status (details.causes). */
export function toStatusCauses(errs) {
    return errs.map((e) => ({ reason: e.type, message: e.message, field: e.field }));
}
