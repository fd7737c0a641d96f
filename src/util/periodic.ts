// A loop that runs an async job every interval, one run at a time (the next waits for the
// previous to finish: a slow etcd never piles runs up), logs a failed run and goes on, and
// whose stop() waits for the run in flight — what upstream's `wait.Until` gives controllers.
import type { Logger } from './log.js'

export interface Periodic {
  /** Run now (coalesced with a run in flight) and resolve when that run ends. */
  kick(): Promise<void>
  stop(): Promise<void>
}

export function runEvery(what: string, intervalMs: number, job: () => Promise<void>, log: Logger): Periodic {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false
  const once = (): Promise<void> =>
    (running ??= job()
      .catch((err: Error) => log.warn({ err: err.message, job: what }, `${what} failed; retrying in ${intervalMs} ms`))
      .finally(() => {
        running = undefined
        if (!stopped) timer = setTimeout(() => void once(), intervalMs)
      }))
  timer = setTimeout(() => void once(), intervalMs)
  return {
    kick: () => {
      if (timer) clearTimeout(timer)
      return once()
    },
    stop: async () => {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
