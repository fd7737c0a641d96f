// Structured logs (pino, JSON lines on stderr) so stdout stays free for command output
// (the CNI plugin's result, `lab status`). NETKUBE_LOG_LEVEL overrides the level.
import { pino, destination, type Logger } from 'pino'

const root: Logger = pino(
  { level: process.env.NETKUBE_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
  destination({ fd: 2, sync: true }),
)

export type { Logger }

export function logger(component: string): Logger {
  return root.child({ component })
}
