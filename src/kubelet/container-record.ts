// The kubelet's own memory of each container of a pod, kept on disk so a restarted kubelet
// carries on where the last one stopped: the restart count, the last termination (shown as
// lastState), the crash-loop back-off (so a crash-looping container is not restarted at once
// after a kubelet restart), and which sandbox the current instance ran in (init containers
// run again in a new sandbox). The runtime's per-instance records say what ran; this says what
// the kubelet concluded from it. One file per container:
//   <stateDir>/pods/<podUid>/containers/<containerName>.json
// removed with the pod's directory when the pod is gone. This file is the one definition of
// the format; decode() refuses anything else rather than guess.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ContainerStateTerminated } from '../api/types.js'

export const CONTAINER_RECORD_VERSION = 1

export interface ContainerRecord {
  version: typeof CONTAINER_RECORD_VERSION
  name: string
  restartCount: number
  /** Runtime id of the instance the kubelet counts as current. */
  current?: string
  /** The last instance's end, as reported in `lastState.terminated`. */
  lastTerminated?: ContainerStateTerminated
  /** Runtime id of the exit already accounted for (back-off moves once per exit). */
  seenExit?: string
  /** The period the next crash waits (0: the next restart is immediate). */
  backoffMs: number
  /** No restart before this wall-clock time (ms since the epoch). */
  backoffUntil: number
  /** An instance the kubelet killed itself, and why (probe failure). */
  killed?: { id: string; message: string }
  /** Sandbox (its createdAt) the current instance was started in. */
  sandbox?: string
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown): v is string => typeof v === 'string'

/** Parse a record; undefined (never a half-trusted record) when it is not this format. */
export function decodeContainerRecord(text: string): ContainerRecord | undefined {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (!o || typeof o !== 'object' || o.version !== CONTAINER_RECORD_VERSION) return undefined
  if (!isStr(o.name) || !isNum(o.restartCount) || !isNum(o.backoffMs) || !isNum(o.backoffUntil)) return undefined
  for (const k of ['current', 'seenExit', 'sandbox'] as const) if (o[k] !== undefined && !isStr(o[k])) return undefined
  const lt = o.lastTerminated as ContainerStateTerminated | undefined
  if (lt !== undefined && (typeof lt !== 'object' || !isNum(lt.exitCode))) return undefined
  const killed = o.killed as ContainerRecord['killed']
  if (killed !== undefined && (typeof killed !== 'object' || !isStr(killed.id) || !isStr(killed.message))) return undefined
  return o as unknown as ContainerRecord
}

export function encodeContainerRecord(r: ContainerRecord): string {
  return JSON.stringify(r)
}

/** The store of one pod's container records (a directory). */
export class ContainerRecordStore {
  constructor(private readonly dir: string) {}

  /** Every readable record by container name; unreadable ones are reported, not used. */
  load(onBad: (file: string) => void = () => {}): Map<string, ContainerRecord> {
    const out = new Map<string, ContainerRecord>()
    let files: string[]
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith('.json'))
    } catch {
      return out
    }
    for (const f of files) {
      let rec: ContainerRecord | undefined
      try {
        rec = decodeContainerRecord(readFileSync(join(this.dir, f), 'utf8'))
      } catch {
        rec = undefined
      }
      if (rec && `${rec.name}.json` === f) out.set(rec.name, rec)
      else onBad(f)
    }
    return out
  }

  /** Replace one record atomically (a crash leaves the old or the new one, never half). */
  save(r: ContainerRecord): void {
    mkdirSync(this.dir, { recursive: true })
    const p = join(this.dir, `${r.name}.json`)
    writeFileSync(`${p}.tmp`, encodeContainerRecord(r))
    renameSync(`${p}.tmp`, p)
  }
}
