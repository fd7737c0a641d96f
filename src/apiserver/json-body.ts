// JSON request bodies, decoded with a nesting-depth limit. Go's encoding/json (and so
// kube-apiserver) refuses nesting past 10000 with "exceeded max depth"; netkube's limit is far
// lower because the walkers that recurse on user data (strategy.ts's deepEqual, merge and
// strategic merge patches) take one or more frames per level on Node's ~1 MB stack: with a request-sized
// stack below them (test/api/robustness.test.ts) they get through 1500 levels and overflow at
// 2000. No real Kubernetes object comes near 100 levels, so 512 leaves headroom on both sides.
// The scan runs over the raw bytes before JSON.parse builds anything, and is itself a loop.
// Protobuf bodies need no such limit: decodeMessage recurses only along its fixed schemas.
import * as E from './errors.js'

export const MAX_JSON_DEPTH = 512

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN = new Set([0x5b, 0x7b]) // [ {
const CLOSE = new Set([0x5d, 0x7d]) // ] }

/** Where nesting first passes `limit` (byte offset and the opening character), or undefined. */
export function findDepthOverflow(buf: Uint8Array, limit: number): { offset: number; char: string } | undefined {
  let depth = 0
  let inString = false
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!
    if (inString) {
      // UTF-8 continuation bytes are ≥ 0x80, so a quote or backslash byte is always itself.
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (OPEN.has(c)) {
      if (++depth > limit) return { offset: i, char: String.fromCharCode(c) }
    } else if (CLOSE.has(c)) depth--
  }
  return undefined
}

/** Parse a JSON body or throw the 400 BadRequest Status a client gets for it. */
export function decodeJsonBody(raw: Buffer, limit = MAX_JSON_DEPTH): unknown {
  const deep = findDepthOverflow(raw, limit)
  if (deep) throw E.badRequest(`the body of the request was not valid JSON: invalid character '${deep.char}' at offset ${deep.offset}: exceeded max depth of ${limit}`)
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch (err) {
    throw E.badRequest(`the body of the request was not valid JSON: ${(err as Error).message}`)
  }
}
