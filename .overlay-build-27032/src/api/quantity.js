// resource.Quantity parsing: "100m" CPU → 0.1 cores, "128Mi" → 134217728 bytes, "1e3" → 1000.
// Numbers are JS doubles: exact for what netkube schedules (millicores, bytes up to 2^53).
const BINARY = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;
export class QuantityError extends Error {
    name = 'QuantityError';
}
/** Parse a Kubernetes quantity into a plain number (cores, bytes, counts). Throws QuantityError. */
export function parseQuantity(q) {
    if (typeof q === 'number')
        return q;
    const s = q.trim();
    const m = QUANTITY.exec(s);
    if (!m)
        throw new QuantityError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(q)}`);
    const base = Number(m[1]);
    if (m[2])
        return base * 10 ** Number(m[2].slice(1));
    const suffix = m[3] ?? '';
    const mult = BINARY[suffix] ?? DECIMAL[suffix];
    if (mult === undefined)
        throw new QuantityError(`unknown quantity suffix in ${JSON.stringify(q)}`);
    // Multiply by the reciprocal for sub-unit suffixes to keep "100m" exactly 0.1.
    if (mult < 1)
        return base / Math.round(1 / mult);
    return base * mult;
}
/** True when `q` parses. */
export function isValidQuantity(q) {
    try {
        parseQuantity(q);
        return true;
    }
    catch {
        return false;
    }
}
/**
 * Render a number in canonical quantity form. BinarySI picks the largest exact power-of-two
 * suffix (134217728 → "128Mi"); DecimalSI the largest exact power of ten, and millis for
 * fractions: 0.1 → "100m", 2000 → "2k", 1500 → "1500".
 */
export function formatQuantity(value, format = 'DecimalSI') {
    if (!Number.isFinite(value))
        throw new QuantityError(`cannot format ${value}`);
    if (value === 0)
        return '0';
    if (!Number.isInteger(value)) {
        const milli = Math.round(value * 1000);
        if (Math.abs(milli - value * 1000) < 1e-6)
            return `${milli}m`;
        const micro = Math.round(value * 1e6);
        if (Math.abs(micro - value * 1e6) < 1e-3)
            return `${micro}u`;
        return `${Math.round(value * 1e9)}n`;
    }
    if (format === 'BinarySI') {
        for (const suf of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
            const m = BINARY[suf];
            if (Math.abs(value) >= m && value % m === 0)
                return `${value / m}${suf}`;
        }
        return String(value);
    }
    for (const suf of ['E', 'P', 'T', 'G', 'M', 'k']) {
        const m = DECIMAL[suf];
        if (Math.abs(value) >= m && value % m === 0)
            return `${value / m}${suf}`;
    }
    return String(value);
}
