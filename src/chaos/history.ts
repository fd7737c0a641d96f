// Pure: the writers' log and the payload they write. Each write carries a counter unique per
// key and a checksum over (key, counter), so the checker can tell which attempt an object
// holds and whether its data survived intact.
import { createHash } from 'node:crypto'

export type WriteOp = 'create' | 'update' | 'delete'

/**
 * `ok`: the server acknowledged it (2xx). `fail`: the server definitely refused it (a 4xx
 * that means "not done"). `unknown`: no answer, or one that does not say (timeout, reset,
 * 5xx, and a 409/404 that a client-side retry of a request that did land would also get):
 * upstream's rule is that such a write may or may not have happened.
 */
export type Outcome = 'ok' | 'fail' | 'unknown'

export interface WriteRecord {
  /** namespace/name */
  key: string
  op: WriteOp
  /** The counter written (create, update). */
  value?: number
  outcome: Outcome
  /** resourceVersion of the acknowledged object (create, update). */
  rv?: string
  /** Date.now() when sent and when answered (or given up). */
  start: number
  end: number
  error?: string
}

/** An object as read back at the end: `data` is what the API returned. */
export interface FinalObject {
  key: string
  rv: string
  data: Record<string, string> | undefined
}

export function checksum(key: string, value: number): string {
  return createHash('sha256').update(`${key}\0${value}`).digest('hex').slice(0, 16)
}

/** The ConfigMap data a writer puts for `value`. */
export function payload(key: string, value: number, writer: string): Record<string, string> {
  return { counter: String(value), writer, check: checksum(key, value) }
}

/** The counter an object holds, or a reason it is corrupt. */
export function decodePayload(key: string, data: Record<string, string> | undefined): { value: number } | { corrupt: string } {
  if (!data) return { corrupt: 'no data' }
  const { counter, check } = data
  if (counter === undefined || !/^\d+$/.test(counter)) return { corrupt: `counter ${JSON.stringify(counter)}` }
  const value = Number(counter)
  if (check !== checksum(key, value)) return { corrupt: `checksum ${JSON.stringify(check)} does not match counter ${value}` }
  return { value }
}
