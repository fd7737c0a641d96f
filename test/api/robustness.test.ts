// Bodies come straight from clients: every api function must turn any JSON shape into field errors
// or a clean result, never an exception (which the apiserver would turn into a 500).
import t from 'tap'
import { applyDefaults, preserveOnUpdate } from '../../src/api/defaults.js'
import { applyStrategicMergePatch } from '../../src/api/patch.js'
import { RESOURCES } from '../../src/api/resources.js'
import { selectableFields } from '../../src/api/selectors.js'
import { toTable } from '../../src/api/table.js'
import type { KubeObject } from '../../src/api/types.js'
import { validateCreate, validateStatusUpdate, validateUpdate } from '../../src/api/validation.js'
import { base } from './fixtures/manifests.js'

const JUNK: unknown[] = [null, 'x', -1, 1.5, true, [], {}, [1, 'a'], { a: 1 }]

/** Every path (as key lists) to a value inside obj. */
function paths(obj: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = []
  if (Array.isArray(obj)) obj.forEach((v, i) => out.push([...prefix, i], ...paths(v, [...prefix, i])))
  else if (obj && typeof obj === 'object') for (const [k, v] of Object.entries(obj)) out.push([...prefix, k], ...paths(v, [...prefix, k]))
  return out
}

function setAt(obj: unknown, path: (string | number)[], v: unknown): void {
  let cur = obj as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>
  cur[path[path.length - 1]!] = v
}

t.test('no api function throws on malformed objects', async (t) => {
  let runs = 0
  const failures: string[] = []
  for (const [plural, mk] of Object.entries(base)) {
    const r = RESOURCES.find((x) => x.plural === plural)!
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
