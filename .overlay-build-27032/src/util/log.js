// Structured logs (pino, JSON lines on stderr) so stdout stays free for command output
// (the CNI plugin's result, `lab status`). NETKUBE_LOG_LEVEL overrides the level.
import { pino, destination } from 'pino';
const root = pino({ level: process.env.NETKUBE_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, destination({ fd: 2, sync: true }));
export function logger(component) {
    return root.child({ component });
}
