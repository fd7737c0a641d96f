// The IPAM lock: one allocation at a time per network data directory, across processes (a
// standalone plugin per pod) and within one (the agent serving many requests).
// - Within a process: a promise chain per lock path (no polling).
// - Across processes: flock(2) through the native addon, non-blocking + short polls. The
//   kernel drops the lock when its holder dies, so a plugin SIGKILLed mid-ADD leaves no
//   stale lock. Without the addon: an exclusive-create lock file holding the owner's pid,
//   taken over when that pid is gone.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadNative } from '../../src/net/native.js'
import { CniCode, CniError } from '../errors.js'

const chains = new Map<string, Promise<unknown>>()

export async function withLock<T>(path: string, fn: () => Promise<T> | T, timeoutMs = 60_000): Promise<T> {
  const prev = chains.get(path) ?? Promise.resolve()
  let release!: () => void
  const mine = new Promise<void>((r) => (release = r))
  const tail = prev.then(() => mine)
  chains.set(path, tail)
  await prev
  try {
    return await withProcessLock(path, fn, timeoutMs)
  } finally {
    release()
    if (chains.get(path) === tail) chains.delete(path)
  }
}

async function withProcessLock<T>(path: string, fn: () => Promise<T> | T, timeoutMs: number): Promise<T> {
  const native = loadNative()
  const deadline = Date.now() + timeoutMs
  if (native) {
    const fd = openSync(path, 'a')
    try {
      let delay = 1
      while (!native.flock(fd, 1)) {
        if (Date.now() > deadline) throw new CniError(CniCode.TRY_AGAIN, `IPAM lock ${path} is busy`, 'timed out waiting for the lock')
        await sleep(delay + Math.random() * delay)
        delay = Math.min(delay * 2, 20)
      }
      try {
        return await fn()
      } finally {
        native.flock(fd, -1)
      }
    } finally {
      closeSync(fd)
    }
  }
  const pidPath = `${path}.pid`
  let delay = 1
  for (;;) {
    try {
      const fd = openSync(pidPath, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (holderIsGone(pidPath)) {
        try {
          unlinkSync(pidPath)
        } catch {
          // someone else took it over first
        }
        continue
      }
      if (Date.now() > deadline) throw new CniError(CniCode.TRY_AGAIN, `IPAM lock ${pidPath} is busy`, 'timed out waiting for the lock')
      await sleep(delay + Math.random() * delay)
      delay = Math.min(delay * 2, 20)
    }
  }
  try {
    return await fn()
  } finally {
    try {
      unlinkSync(pidPath)
    } catch {
      // already gone
    }
  }
}

function holderIsGone(pidPath: string): boolean {
  let pid: number
  try {
    pid = Number(readFileSync(pidPath, 'utf8'))
  } catch {
    return false
  }
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
