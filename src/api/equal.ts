// Structural equality of JSON values, as Go's apiequality.Semantic.DeepEqual sees decoded
// objects: a key whose value is undefined is the same as an absent key. A loop over an explicit
// stack, not recursion: the values come from request bodies, so their depth is the client's.

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const definedKeys = (o: Obj): string[] => Object.keys(o).filter((k) => o[k] !== undefined)

export function deepEqual(a: unknown, b: unknown): boolean {
  const pending: [unknown, unknown][] = [[a, b]]
  while (pending.length > 0) {
    const [x, y] = pending.pop()!
    if (x === y) continue
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false
      for (let i = 0; i < x.length; i++) pending.push([x[i], y[i]])
    } else if (isObj(x) && isObj(y)) {
      const kx = definedKeys(x)
      if (kx.length !== definedKeys(y).length) return false
      for (const k of kx) pending.push([x[k], y[k]])
    } else return false
  }
  return true
}
