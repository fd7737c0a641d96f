// Paths into plain JSON values, for the tests that replace one field at a time with junk
// (test/api/robustness.test.ts, the apiserver fuzz).

export type ObjectPath = (string | number)[]

/** Every path (as key lists) to a value inside obj. */
export function paths(obj: unknown, prefix: ObjectPath = []): ObjectPath[] {
  const out: ObjectPath[] = []
  if (Array.isArray(obj)) obj.forEach((v, i) => out.push([...prefix, i], ...paths(v, [...prefix, i])))
  else if (obj && typeof obj === 'object') for (const [k, v] of Object.entries(obj)) out.push([...prefix, k], ...paths(v, [...prefix, k]))
  return out
}

/** Set the value at path (every parent must exist). */
export function setAt(obj: unknown, path: ObjectPath, v: unknown): void {
  let cur = obj as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>
  cur[path[path.length - 1]!] = v
}
