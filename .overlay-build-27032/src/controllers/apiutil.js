import { podIsAvailable as podIsAvailableAt } from '../api/meta.js';
export { labelSelectorMatches, formatLabelSelector } from '../api/selectors.js';
export { getCondition, setCondition, controllerRef, podIsReady, isPodTerminal, isPodActive, objectKey } from '../api/meta.js';
export { resolveIntOrPercent } from '../api/intstr.js';
export { parseQuantity } from '../api/quantity.js';
/** Ready for at least minReadySeconds, with time in epoch ms (the cores' clock). */
export function podIsAvailable(pod, minReadySeconds, nowMs) {
    return podIsAvailableAt(pod, minReadySeconds, new Date(nowMs));
}
/** A Service-style selector (map): empty/absent selects nothing, as Kubernetes does for Services. */
export function mapSelectorMatches(sel, labels) {
    if (!sel || Object.keys(sel).length === 0)
        return false;
    const l = labels ?? {};
    for (const [k, v] of Object.entries(sel))
        if (l[k] !== v)
            return false;
    return true;
}
