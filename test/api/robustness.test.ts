// Bodies come straight from clients: every api function must turn any JSON shape into field errors
// or a clean result, never an exception (which the apiserver would turn into a 500).
import t from 'tap'
import { applyDefaults, preserveOnUpdate } from '../../src/api/defaults.js'
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../../src/api/patch.js'
import { RESOURCES } from '../../src/api/resources.js'
import { selectableFields } from '../../src/api/selectors.js'
import { toTable } from '../../src/api/table.js'
import type { KubeObject } from '../../src/api/types.js'
import { validateCreate, validateStatusUpdate, validateUpdate } from '../../src/api/validation.js'
import { MAX_JSON_DEPTH } from '../../src/apiserver/json-body.js'
import { deepEqual as strategyDeepEqual, prepareForUpdate } from '../../src/apiserver/strategy.js'
import { paths, setAt } from '../helpers/object-paths.js'
import { base, fixtureKey } from './fixtures/manifests.js'

const JUNK: unknown[] = [null, 'x', -1, 1.5, true, [], {}, [1, 'a'], { a: 1 }]

t.test('no api function throws on malformed objects', async (t) => {
  let runs = 0
  const failures: string[] = []
  for (const [plural, mk] of Object.entries(base)) {
    const r = RESOURCES.find((x) => fixtureKey(x) === plural)!
    const good = mk() as KubeObject
    applyDefaults(r, good)
    for (const p of paths(good)) {
      if (p[0] === 'apiVersion' || p[0] === 'kind') continue
      for (const junk of JUNK) {
        const bad = structuredClone(good)
        setAt(bad, p, structuredClone(junk))
        const where = `${plural} ${p.join('.')} = ${JSON.stringify(junk)}`
        try {
          applyDefaults(r, bad)
          preserveOnUpdate(r, bad, good)
          const errs = [...validateCreate(r, bad), ...validateUpdate(r, bad, good), ...validateStatusUpdate(r, bad, good)]
          for (const e of errs) if (typeof e.field !== 'string' || typeof e.message !== 'string') throw new Error(`bad error ${JSON.stringify(e)}`)
          toTable(r, [bad], { includeObject: 'Object' })
          if (bad.metadata && typeof bad.metadata === 'object') selectableFields(r, bad)
          try {
            applyStrategicMergePatch(r, good, bad)
          } catch (e) {
            if ((e as Error).name !== 'PatchError') throw e
          }
        } catch (e) {
          failures.push(`${where}: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}`)
          continue
        }
        runs++
      }
    }
  }
  t.same(failures.slice(0, 30), [], `${failures.length} failures`)
  t.ok(runs > 1000, `${runs} malformed objects handled`)
})

/** A value that makes the whole object nest `total` levels when placed `at` levels down. */
function deepValue(total: number, at: number, array: boolean): unknown {
  let v: unknown = 1
  for (let i = 0; i < total - at; i++) v = array ? [v] : { a: v }
  return v
}

// The apiserver refuses bodies nested past MAX_JSON_DEPTH before parsing; the walkers that
// still recurse on user data (merge patch, strategic merge and its
// directive stripping) must then get through a body right at the limit, from a stack already as deep
// as a request's (fastify + registry frames, simulated by PREFIX frames of recursion).
t.test('every recursive walker handles a body nested right at the depth limit', async (t) => {
  const PREFIX = 200
  const underStack = <T>(n: number, f: () => T): T => (n === 0 ? f() : underStack(n - 1, f))
  const failures: string[] = []
  let runs = 0
  for (const [plural, mk] of Object.entries(base)) {
    const r = RESOURCES.find((x) => fixtureKey(x) === plural)!
    for (const array of [false, true]) {
      for (const place of ['top', 'metadata', 'spec', 'status'] as const) {
        const good = mk() as KubeObject
        const bad = structuredClone(good) as unknown as Record<string, Record<string, unknown>>
        if (place === 'top') (bad as Record<string, unknown>).deep = deepValue(MAX_JSON_DEPTH, 1, array)
        else (bad[place] ??= {}).deep = deepValue(MAX_JSON_DEPTH, 2, array)
        const obj = bad as unknown as KubeObject
        try {
          underStack(PREFIX, () => {
            applyDefaults(r, obj)
            const old = structuredClone(obj)
            preserveOnUpdate(r, obj, old)
            validateCreate(r, obj)
            validateUpdate(r, obj, old)
            validateStatusUpdate(r, obj, old)
            toTable(r, [obj], { includeObject: 'Object' })
            selectableFields(r, obj)
            applyMergePatch(good, obj)
            applyStrategicMergePatch(r, good, obj)
            applyStrategicMergePatch(r, obj, old)
            applyJsonPatch(obj, [{ op: 'test', path: '', value: old }])
            if (!strategyDeepEqual(obj, old)) throw new Error('strategy deepEqual: a clone differs')
            prepareForUpdate(r, structuredClone(obj), old)
            JSON.stringify(obj)
          })
          runs++
        } catch (e) {
          failures.push(`${plural} ${place} ${array ? 'array' : 'object'}: ${(e as Error).name}: ${(e as Error).message.slice(0, 100)}`)
        }
      }
    }
  }
  t.same(failures, [], `${runs} objects nested ${MAX_JSON_DEPTH} deep walked`)
  t.equal(runs, Object.keys(base).length * 8)
})
