// What kube-apiserver's decoder refuses before any strategy runs. Fields Go declares as
// []byte (Secret.data, ConfigMap.binaryData) are base64 in JSON; a value that is not fails the
// decoding of the request body itself, so upstream answers 400 BadRequest ("Secret in version
// "v1" cannot be handled as a Secret: illegal base64 data at input byte N", its
// transformDecodeError), not a 422 with a field path, and no other rule is looked at.
// Patches are decoded after being applied, where upstream reports a 422 instead; those keep
// validation's 422 at `data[key]` here (see src/api/validation/coreapi.ts).
import type { ResourceInfo } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { base64ErrorOffset } from '../api/validation/coreapi.js'

const BYTE_MAPS: Record<string, string> = { '/Secret': 'data', '/ConfigMap': 'binaryData' }

/** The decode error upstream's handler would answer for this body, if any. */
export function decodeError(r: ResourceInfo, obj: KubeObject): string | undefined {
  const field = BYTE_MAPS[`${r.group}/${r.kind}`]
  if (!field) return undefined
  const m = (obj as Record<string, unknown>)[field]
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return undefined // validation's business
  for (const v of Object.values(m)) {
    if (typeof v !== 'string') continue
    const at = base64ErrorOffset(v)
    // Go's decoder keeps the first error in document order.
    if (at >= 0) return `${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: illegal base64 data at input byte ${at}`
  }
  return undefined
}
