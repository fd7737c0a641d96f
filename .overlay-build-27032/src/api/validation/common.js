// Shape guards and shared field checks. Objects arrive straight from JSON bodies, so every read
// tolerates any shape: a wrong type is a field error, never an exception.
import { typeInvalid, invalid, notSupported } from '../field-errors.js';
import { isQualifiedName, isValidLabelValue, isValidPortNum, isValidPortName } from '../names.js';
export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const absent = (v) => v === undefined || v === null;
export function asObj(v, path, errs) {
    if (absent(v))
        return undefined;
    if (!isObj(v)) {
        errs.push(typeInvalid(path, v, 'must be of type object'));
        return undefined;
    }
    return v;
}
export function asArray(v, path, errs) {
    if (absent(v))
        return [];
    if (!Array.isArray(v)) {
        errs.push(typeInvalid(path, v, 'must be of type array'));
        return [];
    }
    return v;
}
export function asString(v, path, errs) {
    if (absent(v))
        return undefined;
    if (typeof v !== 'string') {
        errs.push(typeInvalid(path, v, 'must be of type string'));
        return undefined;
    }
    return v;
}
export function asInt(v, path, errs) {
    if (absent(v))
        return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
        errs.push(typeInvalid(path, v, 'must be of type integer'));
        return undefined;
    }
    return v;
}
export function asBool(v, path, errs) {
    if (absent(v))
        return undefined;
    if (typeof v !== 'boolean') {
        errs.push(typeInvalid(path, v, 'must be of type boolean'));
        return undefined;
    }
    return v;
}
/** A map of string → string (labels, selectors, data). */
export function asStringMap(v, path, errs) {
    const o = asObj(v, path, errs);
    if (!o)
        return {};
    const out = {};
    for (const [k, x] of Object.entries(o)) {
        if (typeof x !== 'string')
            errs.push(typeInvalid(`${path}[${k}]`, x, 'must be of type string'));
        else
            out[k] = x;
    }
    return out;
}
export function nonNegative(v, path, errs) {
    if (v !== undefined && v < 0)
        errs.push(invalid(path, v, 'must be greater than or equal to 0'));
}
export function oneOf(v, path, allowed, errs) {
    if (v !== undefined && !allowed.includes(v))
        errs.push(notSupported(path, v, allowed));
}
export function validateLabels(v, path, errs) {
    const labels = asStringMap(v, path, errs);
    for (const [k, val] of Object.entries(labels)) {
        for (const m of isQualifiedName(k))
            errs.push(invalid(path, k, m));
        for (const m of isValidLabelValue(val))
            errs.push(invalid(path, val, m));
    }
}
export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
/** A port number (1–65535) or an IANA service name, as in targetPort and probe ports. */
export function validatePortNumOrName(v, path, errs) {
    if (typeof v === 'number') {
        for (const m of isValidPortNum(v))
            errs.push(invalid(path, v, m));
    }
    else if (typeof v === 'string') {
        // A numeric string is still an IntOrString string: k8s treats it as a (bad) name.
        for (const m of isValidPortName(v))
            errs.push(invalid(path, v, m));
    }
    else if (absent(v)) {
        errs.push({ type: 'FieldValueRequired', field: path, message: 'Required value' });
    }
    else {
        errs.push(typeInvalid(path, v, 'must be an integer or a string'));
    }
}
/** IntOrString that must be a non-negative int or a percentage ("25%"). */
export function validatePositiveIntOrPercent(v, path, errs) {
    if (absent(v))
        return;
    if (typeof v === 'number') {
        if (!Number.isInteger(v))
            errs.push(typeInvalid(path, v, 'must be an integer or a percentage'));
        else
            nonNegative(v, path, errs);
    }
    else if (typeof v === 'string') {
        if (!/^[0-9]+%$/.test(v))
            errs.push(invalid(path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    }
    else
        errs.push(typeInvalid(path, v, 'must be an integer or a percentage'));
}
export function deepEqual(a, b) {
    if (a === b)
        return true;
    if (Array.isArray(a))
        return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
    if (isObj(a) && isObj(b)) {
        const ka = Object.keys(a).filter((k) => a[k] !== undefined);
        const kb = Object.keys(b).filter((k) => b[k] !== undefined);
        return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
    }
    return false;
}
export function immutable(newV, oldV, path, errs) {
    if (!deepEqual(newV, oldV))
        errs.push(invalid(path, newV ?? null, 'field is immutable'));
}
