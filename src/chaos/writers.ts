// The writers: each owns a few ConfigMaps and, one request at a time, creates, updates (PUT
// with the resourceVersion it last saw) and deletes them through the API, logging every
// attempt with its outcome. After an `unknown` outcome it re-reads the object before the next
// write, as a careful client must: it cannot know whether the write landed.
import type { ConfigMap } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { isApiStatusError } from '../client/errors.js'
import { payload, type Outcome, type WriteOp, type WriteRecord } from './history.js'

export interface WritersOptions {
  namespaces: readonly string[]
  /** writers per namespace */
  writersPerNamespace?: number
  keysPerWriter?: number
  /** share of writes to a present object that delete it */
  deleteRatio?: number
  /** pause between a writer's requests */
  pauseMs?: number
  random?: () => number
}

export interface Writers {
  records: WriteRecord[]
  /** Stop after the requests in flight; resolves with the full log. */
  stop(): Promise<WriteRecord[]>
}

/**
 * How an error answers "did it happen?". 409 and 404 count as unknown: the REST client
 * retries a PUT/DELETE once on a reset keep-alive socket, and a retry of a write that did
 * land gets exactly those. A 4xx that rejects the request itself (400, 403, 422, 429) is a
 * definite no; 5xx (500 after commit, 503, 504 Timeout) may or may not have happened.
 */
export function classifyError(err: unknown): Outcome {
  if (!isApiStatusError(err)) return 'unknown'
  if (err.code === 409 || err.code === 404 || err.code >= 500) return 'unknown'
  return err.code >= 400 ? 'fail' : 'unknown'
}

const CM = resourceFor('configmaps')

interface KeyState {
  name: string
  /** undefined: not known since an unknown outcome; re-read first */
  present?: boolean
  rv?: string
}

export function startWriters(client: Client, o: WritersOptions): Writers {
  const records: WriteRecord[] = []
  const rnd = o.random ?? Math.random
  let stopping = false
  const loops: Promise<void>[] = []
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
  for (const ns of o.namespaces) {
    const cms = client.resource<ConfigMap>(CM, ns)
    for (let w = 0; w < (o.writersPerNamespace ?? 1); w++) {
      const writer = `w${w}`
      const keys: KeyState[] = Array.from({ length: o.keysPerWriter ?? 4 }, (_, i) => ({ name: `${writer}-k${i}`, present: false }))
      let counter = 0
      const attempt = async (k: KeyState, op: WriteOp, send: () => Promise<ConfigMap | void>, value?: number): Promise<void> => {
        const rec: WriteRecord = { key: `${ns}/${k.name}`, op, outcome: 'unknown', start: Date.now(), end: 0, ...(value !== undefined ? { value } : {}) }
        records.push(rec)
        try {
          const got = await send()
          rec.outcome = 'ok'
          if (got && got.metadata.resourceVersion) rec.rv = got.metadata.resourceVersion
          k.present = op !== 'delete'
          k.rv = rec.rv
        } catch (err) {
          rec.outcome = classifyError(err)
          rec.error = isApiStatusError(err) ? `${err.code} ${err.reason}: ${err.message}` : (err as Error).message
          if (rec.outcome === 'unknown') k.present = undefined
        }
        rec.end = Date.now()
      }
      const step = async (k: KeyState): Promise<void> => {
        if (k.present === undefined) {
          try {
            const cur = await cms.get(k.name)
            k.present = true
            k.rv = cur.metadata.resourceVersion
          } catch (err) {
            if (isApiStatusError(err) && err.code === 404) k.present = false
            else await sleep(200) // still down: try again later
          }
          return
        }
        const value = ++counter
        const body = (): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: k.name, namespace: ns, ...(k.rv ? { resourceVersion: k.rv } : {}) }, data: payload(`${ns}/${k.name}`, value, writer) })
        if (!k.present) {
          k.rv = undefined
          return attempt(k, 'create', () => cms.create(body()), value)
        }
        if (rnd() < (o.deleteRatio ?? 0.15)) return attempt(k, 'delete', () => cms.delete(k.name))
        return attempt(k, 'update', () => cms.update(body()), value)
      }
      loops.push(
        (async () => {
          for (let i = 0; !stopping; i++) {
            await step(keys[i % keys.length]!)
            if (o.pauseMs) await sleep(o.pauseMs)
          }
        })(),
      )
    }
  }
  return {
    records,
    async stop() {
      stopping = true
      await Promise.all(loops)
      return records
    },
  }
}
