// Reading a container's CRI log file for the log API (the kubelet's ReadLogs): tail, since,
// timestamps and limitBytes through cri-log.ts's renderer; with follow, the file is read as it
// grows until its writer is done (the container exited and the shim has written the last line).
import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs'
import { LogRenderer, tailStart, type LogReadOptions } from './cri-log.js'

export interface ReadLogOptions extends LogReadOptions {
  follow?: boolean
  tailLines?: number
}

const CHUNK = 64 * 1024

function readAll(fd: number, from: number): { data: Buffer; end: number } {
  const size = fstatSync(fd).size
  if (size <= from) return { data: Buffer.alloc(0), end: from }
  const data = Buffer.alloc(size - from)
  let off = 0
  while (off < data.length) {
    const n = readSync(fd, data, off, Math.min(CHUNK * 16, data.length - off), from + off)
    if (n === 0) break
    off += n
  }
  return { data: data.subarray(0, off), end: from + off }
}

/**
 * The log output of one file, in chunks. `writerAlive` says whether more may still be appended
 * (checked only at EOF, so the last line written before the exit is always read). Stops early
 * when `signal` aborts (the client went away).
 */
export async function* readContainerLog(path: string, o: ReadLogOptions, writerAlive: () => boolean, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return // no output yet
  }
  let watcher: FSWatcher | undefined
  try {
    const render = new LogRenderer(o)
    let { data, end } = readAll(fd, 0)
    if (o.tailLines !== undefined) data = data.subarray(tailStart(data, o.tailLines))
    const first = render.push(data)
    if (first.length) yield first
    if (!o.follow || render.done) return
    // Woken by the file's change events; a timer too, since the writer's exit makes no event.
    let wake: (() => void) | undefined
    watcher = watch(path, () => wake?.())
    watcher.on('error', () => {})
    signal?.addEventListener('abort', () => wake?.(), { once: true })
    for (;;) {
      if (signal?.aborted) return
      const next = readAll(fd, end)
      end = next.end
      if (next.data.length) {
        const out = render.push(next.data)
        if (out.length) yield out
        if (render.done) return
        continue
      }
      if (!writerAlive()) {
        // One last look: the writer may have appended between the read and the check.
        const last = readAll(fd, end)
        if (last.data.length) {
          const out = render.push(last.data)
          if (out.length) yield out
        }
        return
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), 250)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
  } finally {
    watcher?.close()
    closeSync(fd)
  }
}
