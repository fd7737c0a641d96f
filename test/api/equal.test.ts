// deepEqual (src/api/equal.ts): the one structural equality of src/api, a loop, so a body's
// depth cannot overflow it.
import t from 'tap'
import { deepEqual } from '../../src/api/equal.js'

t.test('deepEqual: JSON values, undefined keys as absent', async (t) => {
  const cases: [unknown, unknown, boolean][] = [
    [1, 1, true],
    ['a', 'a', true],
    [null, null, true],
    [1, '1', false],
    [null, {}, false],
    [[], {}, false],
    [{}, [], false],
    [[1, [2, { a: 3 }]], [1, [2, { a: 3 }]], true],
    [[1, 2], [2, 1], false],
    [[1], [1, undefined], false],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, true],
    [{ a: 1, b: undefined }, { a: 1, c: undefined }, true],
    [{ a: undefined }, { b: 1 }, false],
    [{ a: 1 }, { b: 1 }, false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: { b: [1] } }, { a: { b: [2] } }, false],
    [NaN, NaN, false],
  ]
  for (const [a, b, want] of cases) {
    t.equal(deepEqual(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
    t.equal(deepEqual(b, a), want, 'symmetric')
  }
})

t.test('deepEqual walks 200,000 levels without recursing', async (t) => {
  const deep = (n: number, leaf: unknown): unknown => {
    let v = leaf
    for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v }
    return v
  }
  t.equal(deepEqual(deep(200_000, 1), deep(200_000, 1)), true)
  t.equal(deepEqual(deep(200_000, 1), deep(200_000, 2)), false)
})
