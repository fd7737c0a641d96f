const PERCENT = /^(-?[0-9]+)%$/;
/**
 * Resolve an int or a percentage ("25%") of `total`. Percentages round up or down as asked
 * (Deployments round maxSurge up and maxUnavailable down). `v` undefined → `dflt`.
 * Throws on a string that is neither a percentage nor an integer.
 */
export function resolveIntOrPercent(v, total, roundUp, dflt) {
    const val = v === undefined || v === null ? dflt : v;
    if (typeof val === 'number')
        return val;
    const m = PERCENT.exec(val);
    if (m) {
        const scaled = (Number(m[1]) * total) / 100;
        return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
    }
    if (/^-?[0-9]+$/.test(val))
        return Number(val);
    throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage: ${JSON.stringify(val)}`);
}
/** True when the value is a valid percentage string like "25%". */
export function isPercent(v) {
    return typeof v === 'string' && PERCENT.test(v);
}
