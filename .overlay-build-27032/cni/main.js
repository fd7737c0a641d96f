// The standalone plugin process: read env + stdin, handle, print, exit. The one place that
// prints a CNI result or error and sets the exit code.
import { readFileSync } from 'node:fs';
import { handleCni } from './skel.js';
export async function runStandalone(stdinText) {
    let stdin = stdinText ?? '';
    if (stdinText === undefined) {
        try {
            stdin = readFileSync(0, 'utf8');
        }
        catch {
            stdin = '';
        }
    }
    const out = await handleCni({ env: process.env, stdin });
    process.stdout.write(out.stdout, () => process.exit(out.exit));
    return new Promise(() => { });
}
// Run when executed directly (node dist/cni/main.js).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href)
    void runStandalone();
