// The malformed requests of the apiserver fuzz (fuzz.test.ts): a seeded generator per
// category, over every resource, verb and subresource the catalogue routes. A case is plain
// data so a failure prints (and replays) as one request.
import { RESOURCES, groupVersion, type ResourceInfo } from '../../src/api/resources.js'
import { MAX_JSON_DEPTH } from '../../src/apiserver/json-body.js'
import { base, fixtureKey } from '../api/fixtures/manifests.js'
import { paths, setAt } from '../helpers/object-paths.js'

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface FuzzCase {
  category: string
  method: Method
  url: string
  contentType?: string
  body?: string | Buffer
  /** A create of this object: if it is rejected, the object must not exist afterwards. */
  creates?: { r: ResourceInfo; name: string }
  /** Accept header (default application/json): Tables run the printers over what the fuzz stored. */
  accept?: string
  /** Deep nesting: whether the body is within the depth limit (decoded) or past it (400). */
  depth?: 'within' | 'past'
  /** Send without a token (or with a wrong one). */
  token?: 'none' | 'wrong'
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const FUZZ_NS = 'fuzz'
/** The pre-created object per resource that patches, updates and gets aim at. */
export const SEED_LABEL = 'fuzz-seed'
// Both Event views share one key space: their seeds need different names.
export const seedName = (r: ResourceInfo): string => `fz-seed-${r.singular}${r.group === 'events.k8s.io' ? '-v1' : ''}`

/** A valid object of r named name (in FUZZ_NS when namespaced). */
export function validObject(r: ResourceInfo, name: string): Record<string, unknown> {
  const o = base[fixtureKey(r)]!()
  const meta = o.metadata as Record<string, unknown>
  meta.name = name
  if (r.namespaced) meta.namespace = FUZZ_NS
  else delete meta.namespace
  // Nothing the fuzz writes may point the apiserver (pods/log) at a non-loopback address.
  // An event's object lives in the event's namespace.
  for (const ref of ['involvedObject', 'regarding']) if (o[ref]) (o[ref] as { namespace?: string }).namespace = FUZZ_NS
  if (r.plural === 'nodes') (o.status as { addresses: { address: string }[] }).addresses[0]!.address = '127.0.0.1'
  return o
}

export function collectionPath(r: ResourceInfo, ns: string | undefined = FUZZ_NS): string {
  const root = r.group === '' ? '/api/v1' : `/apis/${groupVersion(r)}`
  return r.namespaced && ns !== undefined ? `${root}/namespaces/${encodeURIComponent(ns)}/${r.plural}` : `${root}/${r.plural}`
}

const objectPath = (r: ResourceInfo, name: string, sub?: string): string => `${collectionPath(r)}/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`

const JUNK: unknown[] = [null, '', 'x', -1, 0, 1.5, true, false, [], {}, [1, 'a'], { a: 1 }, 'a'.repeat(5000), '\u0000', '🦄', 2 ** 53 + 1, -(2 ** 63)]
const ODD_NAMES = ['', ' ', 'a'.repeat(64), 'a'.repeat(254), 'a'.repeat(2000), 'UPPER', 'ünï', '🦄', 'a/b', '..', '.', 'a%2Fb', 'a b', '-a', 'a-', 'a\u0000b', 'a\nb', '%', '%zz', 'a?b', 'a#b', '\u202e', 'a'.repeat(63)]
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']
const CONTENT_TYPES = ['text/plain', 'application/yaml', 'application/apply-patch+yaml', 'application/vnd.kubernetes.protobuf', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', 'application/json;;;', '*/*', 'application/JSON', 'application/octet-stream']
const SELECTOR_BITS = ['a', '=', '==', '!=', ',', ' in ', ' notin ', '(', ')', '!', 'x.y/z', '\\', '%', 'metadata.name', 'spec.nodeName', 'status.phase', '🦄', '', '=(', 'a in (b,c', 'a.b.c/d/e', '-', '_']
const ACCEPTS = ['application/json;as=Table;v=v1;g=meta.k8s.io', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json', 'application/vnd.kubernetes.protobuf', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1', 'text/html', ';;', 'application/json;as=Table;g=x', '*/*']
const QUERY_PARAMS = ['limit', 'continue', 'resourceVersion', 'resourceVersionMatch', 'dryRun', 'gracePeriodSeconds', 'propagationPolicy', 'timeoutSeconds', 'includeObject', 'watch', 'allowWatchBookmarks', 'fieldManager', 'pretty']

/** A JSON value nested depth levels deep, as text (building the string never recurses). */
export function nestedJson(depth: number, array: boolean): string {
  return array ? '['.repeat(depth) + '1' + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

export function generateCases(seed: number, count: number): FuzzCase[] {
  const rnd = prng(seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  const resource = (): ResourceInfo => pick(RESOURCES)
  let serial = 0
  const fresh = (): string => `fz-${seed.toString(36)}-${(serial++).toString(36)}`
  const create = (category: string, r: ResourceInfo, body: string | Buffer, name: string, contentType = 'application/json'): FuzzCase => ({
    category,
    method: 'POST',
    url: collectionPath(r),
    contentType,
    body,
    creates: { r, name },
  })
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)))
  const jsonPointer = (): string => pick(['', '/', '/metadata', '/metadata/labels/x', '/spec/-', '/spec/containers/99', '/spec/containers/-1', '/a~2b', '/~', 'spec', '/metadata/name', '/spec/containers/0/name', '/status', '/' + 'x/'.repeat(200), '/spec/ports/1e9'])

  const generators: Record<string, () => FuzzCase> = {
    'random-bytes': () => {
      const r = resource()
      const method = pick<Method>(['POST', 'PUT', 'PATCH', 'DELETE'])
      const url = method === 'POST' ? collectionPath(r) : objectPath(r, seedName(r))
      return { category: 'random-bytes', method, url, contentType: method === 'PATCH' ? pick(PATCH_TYPES) : 'application/json', body: randomBytes(1 + int(300)) }
    },
    'truncated-json': () => {
      const r = resource()
      const name = fresh()
      const text = JSON.stringify(validObject(r, name))
      return create('truncated-json', r, text.slice(0, int(text.length)), name)
    },
    'wrong-types': () => {
      const r = resource()
      const name = fresh()
      const obj = validObject(r, name)
      // Paths are taken afresh each round: an earlier round may have replaced a parent.
      for (let i = 0; i <= int(3); i++) setAt(obj, pick(paths(obj).filter((p) => p.join('.') !== 'metadata.name')), structuredClone(pick(JUNK)))
      return create('wrong-types', r, JSON.stringify(obj), name)
    },
    'odd-names': () => {
      const r = resource()
      const name = pick(ODD_NAMES)
      if (rnd() < 0.5) return create('odd-names', r, JSON.stringify(validObject(r, name)), name)
      let method = pick<Method>(['GET', 'PUT', 'PATCH', 'DELETE'])
      // '', '.' and '..' resolve to the collection URL: a DELETE there is a deletecollection of everything.
      if (method === 'DELETE' && ['', '.', '..', ' '].includes(name.trim())) method = 'GET'
      const body = method === 'GET' ? undefined : JSON.stringify(method === 'DELETE' ? {} : validObject(r, name))
      const ns = rnd() < 0.3 ? pick(ODD_NAMES) : FUZZ_NS
      const url = `${collectionPath(r, ns)}/${rnd() < 0.8 ? encodeURIComponent(name) : name}`
      return { category: 'odd-names', method, url, ...(body !== undefined ? { body, contentType: method === 'PATCH' ? pick(PATCH_TYPES) : 'application/json' } : {}) }
    },
    'deep-nesting': () => {
      const r = resource()
      // Total nesting of the whole body: exactly the limit (must be accepted or a 4xx from
      // validation, never a stack overflow), one past it, and far past it.
      const total = pick([MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 3000, 20000, 200000])
      const array = rnd() < 0.5
      const deep = (wrap: number): string => nestedJson(total - wrap, array)
      const depth = total > MAX_JSON_DEPTH ? 'past' : 'within'
      const c = ((): FuzzCase => {
        const name = fresh()
        const text = JSON.stringify(validObject(r, name))
        const where = int(5)
        if (where === 0) return create('deep-nesting', r, text.replace('{', `{"deep":${deep(1)},`), name)
        if (where === 1) return create('deep-nesting', r, text.replace('"metadata":{', `"metadata":{"deep":${deep(2)},`), name)
        if (where === 2) return create('deep-nesting', r, deep(0), name)
        if (where === 3) {
          const ct = pick(PATCH_TYPES)
          const body = ct === PATCH_TYPES[0] ? `[{"op":"add","path":"/metadata/annotations","value":${deep(2)}}]` : `{"metadata":{"annotations":${deep(2)}}}`
          return { category: 'deep-nesting', method: 'PATCH', url: objectPath(r, seedName(r), rnd() < 0.3 && r.subresources.includes('status') ? 'status' : undefined), contentType: ct, body }
        }
        // DeleteOptions are decoded before the object is looked up: a fresh name keeps the seed.
        const method = pick<Method>(['PUT', 'DELETE'])
        return { category: 'deep-nesting', method, url: objectPath(r, method === 'PUT' ? seedName(r) : name), contentType: 'application/json', body: `{"spec":${deep(1)}}` }
      })()
      return { ...c, depth }
    },
    'patch-garbage': () => {
      const r = resource()
      const ct = pick(PATCH_TYPES)
      const subs = r.subresources.filter((s) => s === 'status' || s === 'scale')
      const sub = rnd() < 0.3 && subs.length ? pick(subs) : undefined
      let body: unknown
      if (ct === PATCH_TYPES[0]) {
        const op = (): unknown => ({ op: pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus', '', 5]), path: rnd() < 0.9 ? jsonPointer() : pick(JUNK), from: jsonPointer(), value: pick(JUNK) })
        body = rnd() < 0.8 ? Array.from({ length: 1 + int(4) }, op) : pick(JUNK)
      } else {
        const directive = pick([{ $patch: pick(['replace', 'delete', 'merge', 'x', 1]) }, { '$setElementOrder/containers': pick(JUNK) }, { $retainKeys: pick(JUNK) }, { '$deleteFromPrimitiveList/finalizers': pick(JUNK) }, { [pick(['spec', 'metadata', 'status', 'x'])]: pick(JUNK) }])
        const target = pick(['spec', 'metadata', 'status', 'containers', ''])
        body = rnd() < 0.2 ? pick(JUNK) : target ? { [target]: target === 'containers' ? [directive, pick(JUNK)] : directive } : directive
        if (rnd() < 0.3) body = { spec: { containers: [{ name: pick(JUNK), ...directive }], template: { spec: { containers: pick(JUNK) } } } }
      }
      return { category: 'patch-garbage', method: 'PATCH', url: objectPath(r, seedName(r), sub), contentType: ct, body: JSON.stringify(body) }
    },
    'huge-numbers': () => {
      const r = resource()
      const name = fresh()
      const text = JSON.stringify(validObject(r, name))
      const huge = pick(['1e309', '-1e400', '123456789012345678901234567890', '1e-400', '9007199254740993', '-0', '0.0000000000000000000001', '1' + '0'.repeat(400)])
      const digits = text.match(/\d+/g) ?? []
      const body = digits.length && rnd() < 0.7 ? text.replace(pick(digits), huge) : text.replace('{', `{"spec":{"replicas":${huge}},`)
      return create('huge-numbers', r, body, name)
    },
    'duplicate-keys': () => {
      const r = resource()
      const name = fresh()
      const text = JSON.stringify(validObject(r, name))
      const dup = pick([`"metadata":{"name":"other-${name}"},`, `"kind":"Nope",`, `"apiVersion":7,`, `"metadata":null,`])
      // JSON.parse keeps the last duplicate, as Go does: the duplicate goes after the original.
      return create('duplicate-keys', r, text.replace(/}$/, `,${dup.slice(0, -1)}}`), name)
    },
    'content-types': () => {
      const r = resource()
      const name = fresh()
      const method = pick<Method>(['POST', 'PUT', 'PATCH'])
      const ct = pick(CONTENT_TYPES)
      const body = rnd() < 0.5 ? JSON.stringify(validObject(r, name)) : Buffer.concat([Buffer.from('k8s\0'), randomBytes(int(64))])
      if (method === 'POST') return create('content-types', r, body, name, ct)
      return { category: 'content-types', method, url: objectPath(r, seedName(r)), contentType: ct, body }
    },
    'queries': () => {
      const r = resource()
      const params = new URLSearchParams()
      const sel = (): string => Array.from({ length: int(6) }, () => pick(SELECTOR_BITS)).join('')
      if (rnd() < 0.6) params.set('labelSelector', sel())
      if (rnd() < 0.6) params.set('fieldSelector', sel())
      for (let i = 0; i < int(3); i++) params.set(pick(QUERY_PARAMS), String(pick(JUNK)))
      // A watch that passes every check streams; keep it short so the suite does not wait.
      if (params.get('watch') === 'true' || rnd() < 0.05) {
        params.set('watch', 'true')
        params.set('timeoutSeconds', '1')
      }
      if (params.get('timeoutSeconds') !== null && params.get('timeoutSeconds') !== '1') params.delete('timeoutSeconds')
      const method = pick<Method>(['GET', 'GET', 'DELETE'])
      // deletecollection only where it cannot remove what the server itself needs.
      let url = collectionPath(r, rnd() < 0.2 && method === 'GET' ? undefined : FUZZ_NS)
      if (method === 'DELETE') {
        // The seeds carry SEED_LABEL; `!` keeps them (and, cluster-wide, the server's own objects).
        params.set('labelSelector', [params.get('labelSelector'), r.namespaced ? `!${SEED_LABEL}` : 'fuzz-matches=nothing'].filter(Boolean).join(','))
        url = collectionPath(r, FUZZ_NS)
      }
      return { category: 'queries', method, url: `${url}?${params}` }
    },
    'routes': () => {
      const r = resource()
      const method = pick<Method>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
      const sub = rnd() < 0.6 ? pick([...r.subresources.filter((s) => s !== 'log'), 'bogus', 'status/x']) : undefined
      // DELETE aims at fresh names only: the seeds must stay for the other categories.
      const name = rnd() < 0.7 && method !== 'DELETE' ? seedName(r) : fresh()
      // `/..` resolves to the collection: on a DELETE that would be a deletecollection of everything.
      const suffix = pick(['', '/', '//', '/%zz', '/%25zz', '/%', ...(method === 'DELETE' ? [] : ['/..']), '?', '?%zz=1'])
      const url = rnd() < 0.1 ? pick(['/api/v2/pods', '/apis/apps', '/apis/apps/v9', '/apis//v1/x', '/api/v1/namespaces/fuzz/pods/x/y/z/w', '/api/v1/%zz', '/%', '/apis/%zz/v1/x']) : objectPath(r, name, sub) + suffix
      const body = method === 'GET' || method === 'DELETE' ? undefined : pick([JSON.stringify(validObject(r, name)), '{"target":{"name":"n"}}', '{"spec":{"replicas":2}}', '{}', 'null', '[]', '"s"', '7'])
      const c: FuzzCase = { category: 'routes', method, url, ...(body !== undefined ? { body, contentType: method === 'PATCH' ? pick(PATCH_TYPES) : 'application/json' } : {}) }
      if (rnd() < 0.03) c.token = pick(['none', 'wrong'] as const)
      return c
    },
  }
  const names = Object.keys(generators)
  return Array.from({ length: count }, (_, i) => {
    const c = generators[names[i % names.length]!]!()
    return rnd() < 0.3 ? { ...c, accept: pick(ACCEPTS) } : c
  })
}
