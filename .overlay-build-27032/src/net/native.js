// Loader for the tiny N-API addon in ./native (setns + non-blocking flock). Optional: every
// caller has a fallback. NETKUBE_NO_SETNS=1 pretends it is absent (to test/measure fallbacks).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
let addon;
export function loadNative() {
    if (addon !== undefined)
        return addon;
    addon = null;
    if (process.env.NETKUBE_NO_SETNS === '1')
        return addon;
    const req = createRequire(import.meta.url);
    const rel = 'native/build/Release/netkube_setns.node';
    const candidates = [
        process.env.NETKUBE_SETNS_ADDON,
        fileURLToPath(new URL(`./${rel}`, import.meta.url)), // running from src/ (tap)
        fileURLToPath(new URL(`../../../src/net/${rel}`, import.meta.url)), // running from dist/src/net
    ];
    for (const c of candidates) {
        if (!c || !existsSync(c))
            continue;
        try {
            addon = req(c);
            break;
        }
        catch {
            // built for another Node ABI: keep looking, else fall back
        }
    }
    return addon;
}
