// scripts/tap-count.ts, the counter behind scripts/test.sh's closing line: leaf assertions of
// nested subtests, not per-file summaries; skips and todos listed by name; a subtest that fails
// with no failing assertion (exit code, plan) still counts as a failure. Checked on TAP as
// tap 21 writes it: hand-written streams for the edge cases, and one real tap run of a fixture.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { closingLines, countTap, type Tally } from '../../scripts/tap-count.js'
import { run } from '../../src/util/exec.js'
import { need } from '../helpers/prereq.js'
import { ROOT, runTap } from '../helpers/tap-run.js'

const CLOSING = /^tests: (\d+) passed, (\d+) failed, (\d+) skipped$/

const counts = (x: Tally) => ({ pass: x.pass, fail: x.fail, skip: x.skip, todo: x.todo })
const names = (x: Tally, o: string) => x.notPassed.filter((p) => p.outcome === o).map((p) => `${p.name}${p.reason ? ` # ${p.reason}` : ''}`)

/** One file's stream the way `tap --reporter=tap` wraps it: an indented subtest per file. */
function fileStream(file: string, body: string, closing: string): string {
  const indented = body
    .split('\n')
    .map((l) => (l ? `    ${l}` : l))
    .join('\n')
  return `TAP version 14\n1..1\n# Subtest: ${file}\n${indented}\n${closing}\n`
}

t.test('a file that exits non-zero after passing assertions is one failure', async (t) => {
  const s = fileStream('test/a.test.ts', 'ok 1 - fine\n1..1', 'not ok 1 - test/a.test.ts # time=10ms\n  ---\n  exitCode: 3\n  signal: null\n  ...')
  const x = countTap([s])
  t.same(counts(x), { pass: 1, fail: 1, skip: 0, todo: 0 })
  t.same(names(x, 'fail'), ['test/a.test.ts # subtest failed: exit code 3'])
})

t.test('a plan mismatch inside a subtest is a failure named after the subtest', async (t) => {
  const body = '# Subtest: planned\n    1..2\n    ok 1 - one\n    # test count(1) != plan(2)\nnot ok 1 - planned\n1..1'
  const x = countTap([fileStream('test/b.test.ts', body, 'not ok 1 - test/b.test.ts')])
  t.same(counts(x), { pass: 1, fail: 1, skip: 0, todo: 0 })
  t.same(names(x, 'fail'), ['test/b.test.ts > planned # subtest failed: incorrect number of tests'])
})

t.test('a failing assertion inside a failing subtest is counted once, not once per level', async (t) => {
  const body = '# Subtest: s\n    ok 1 - good\n    not ok 2 - bad\n    1..2\nnot ok 1 - s\n1..1'
  const x = countTap([fileStream('test/c.test.ts', body, 'not ok 1 - test/c.test.ts')])
  t.same(counts(x), { pass: 1, fail: 1, skip: 0, todo: 0 })
  t.same(names(x, 'fail'), ['test/c.test.ts > s > bad'])
})

t.test('a file with no tests is a listed skip, not an invisible pass', async (t) => {
  const x = countTap(['TAP version 14\n1..1\n# Subtest: test/d.test.ts\n    1..0 # no tests found\nok 1 - test/d.test.ts # SKIP no tests found\n'])
  t.same(counts(x), { pass: 0, fail: 0, skip: 1, todo: 0 })
  t.same(names(x, 'skip'), ['test/d.test.ts # no tests found'])
})

t.test('buffered subtests: the points inside the braces count, the one before them does not', async (t) => {
  const x = countTap(['TAP version 14\nok 1 - buf {\n    ok 1 - x\n    ok 2 - y # SKIP nope\n    1..2\n}\n1..1\n'])
  t.same(counts(x), { pass: 1, fail: 0, skip: 1, todo: 0 })
  t.same(names(x, 'skip'), ['buf > y # nope'])
})

t.test('a bail out and a truncated stream are failures', async (t) => {
  const bail = countTap(['TAP version 14\n1..2\nok 1 - a\nBail out! etcd did not start\n'])
  t.equal(bail.fail, 1)
  t.same(names(bail, 'fail'), ['Bail out! # etcd did not start'])
  const cut = countTap(['TAP version 14\n1..2\n# Subtest: test/e.test.ts\n    ok 1 - a\n'])
  t.equal(cut.fail, 1, 'a stream that stops before its plan is met')
  t.equal(cut.pass, 1)
})

t.test('streams of several tap runs add up; the closing line is last and CI-shaped', async (t) => {
  const one = fileStream('test/f.test.ts', 'ok 1 - a\nok 2 - b # SKIP no podman\n1..2', 'ok 1 - test/f.test.ts')
  const two = fileStream('test/e2e/g.test.ts', 'not ok 1 - c\nok 2 - d # TODO later\n1..2', 'not ok 1 - test/e2e/g.test.ts')
  const x = countTap([one, two])
  t.same(counts(x), { pass: 1, fail: 1, skip: 1, todo: 1 })
  const lines = closingLines(x)
  t.equal(lines.at(-1), 'tests: 1 passed, 1 failed, 1 skipped')
  t.match(lines.at(-1)!, CLOSING)
  t.same(lines.slice(0, -1), [
    'failed (1):',
    '  test/e2e/g.test.ts > c',
    'skipped (1):',
    '  test/f.test.ts > b # no podman',
    'todo (not counted as passed) (1):',
    '  test/e2e/g.test.ts > d # later',
  ])
})

// The real thing: tap 21 on a fixture with passes, a failure, skips, todos, nested subtests.
t.test('a real tap run of the fixture: assertions counted, not files or subtests', async (t) => {
  const r = await runTap('test/scripts/fixtures/mixed.fixture.ts')
  t.not(r.code, 0, 'tap exits non-zero: the fixture has a failing assertion')
  const x = countTap([r.stdout])
  t.same(counts(x), { pass: 5, fail: 1, skip: 2, todo: 2 }, 'top, a, b, deep, empty pass; c fails', { stdout: r.stdout })
  const file = 'test/scripts/fixtures/mixed.fixture.ts'
  t.same(names(x, 'fail'), [`${file} > outer > inner > c`])
  t.same(names(x, 'skip'), [`${file} > outer > inner > inner skip`, `${file} > skipped subtest # not here`])
  t.same(names(x, 'todo'), [`${file} > outer > a todo`, `${file} > todo subtest # later`])
})

t.test('dist/scripts/tap-summary.js prints the block and exits 1 on a failure, 0 without', { skip: need('build') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-tapcount-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const red = join(dir, 'red.tap')
  const green = join(dir, 'green.tap')
  writeFileSync(red, fileStream('test/h.test.ts', 'ok 1 - a\nnot ok 2 - b\n1..2', 'not ok 1 - test/h.test.ts'))
  writeFileSync(green, fileStream('test/i.test.ts', 'ok 1 - a\nok 2 - s # SKIP why\n1..2', 'ok 1 - test/i.test.ts'))
  const summary = join(ROOT, 'dist/scripts/tap-summary.js')
  const bad = await run(process.execPath, [summary, red, green], { allowFailure: true })
  t.equal(bad.code, 1)
  t.equal(bad.stdout.trim().split('\n').at(-1), 'tests: 2 passed, 1 failed, 1 skipped')
  const good = await run(process.execPath, [summary, green], { allowFailure: true })
  t.equal(good.code, 0)
  t.match(good.stdout, /skipped \(1\):\n {2}test\/i\.test\.ts > s # why\ntests: 1 passed, 0 failed, 1 skipped\n$/)
})
