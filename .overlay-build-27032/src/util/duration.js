/** Go-style durations as Kubernetes flags take them ("40s", "5m", "1h30m", "250ms"); a bare number is seconds. */
export function parseDuration(s) {
    if (/^\d+(\.\d+)?$/.test(s))
        return Number(s) * 1000;
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let total = 0;
    let rest = s;
    while (rest.length > 0) {
        const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
        if (!m)
            throw new Error(`invalid duration "${s}" (want e.g. 40s, 5m, 1h30m)`);
        total += Number(m[1]) * unit[m[2]];
        rest = rest.slice(m[0].length);
    }
    return total;
}
