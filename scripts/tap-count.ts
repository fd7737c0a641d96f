// Counting a tap run: reads the TAP streams `tap --reporter=tap` wrote (with tap's own parser,
// so nesting, YAML diagnostics and directives are read the way tap writes them) and counts the
// leaf test points — assertions, including those of nested subtests — not the per-file summaries.
//
// A subtest's closing point (`ok 3 - name` after its indented block) is not an assertion: its
// children are. Two exceptions keep a run honest: a subtest with no points inside (a skipped
// or todo subtest, a file with no tests) counts as one point with its own outcome, and a subtest
// that failed although none of its points did (exit code, timeout, plan mismatch) counts as one
// failure, so the total never reads green while tap says red.
import { Parser, type Result } from 'tap-parser'

export type Outcome = 'pass' | 'fail' | 'skip' | 'todo'

export interface Point {
  outcome: Outcome
  /** `file > subtest > assertion` */
  name: string
  /** the SKIP/TODO reason, or why a subtest failed without a failing point */
  reason: string
}

export interface Tally {
  pass: number
  fail: number
  skip: number
  todo: number
  /** every point that is not a pass, in stream order */
  notPassed: Point[]
}

/** One parser (the run, a file, a subtest) and what it saw, in stream order. */
interface Node {
  parser: Parser
  entries: (Point | Node)[]
}

function outcomeOf(r: Result): Outcome {
  if (r.todo !== false) return 'todo'
  if (r.skip !== false) return 'skip'
  return r.ok ? 'pass' : 'fail'
}

function directive(r: Result): string {
  const d = r.todo !== false ? r.todo : r.skip
  return typeof d === 'string' ? d : ''
}

function pointOf(r: Result): Point {
  return { outcome: outcomeOf(r), name: r.fullname || r.name, reason: directive(r) }
}

/** Why a subtest is `not ok` when none of its points is: the process's diagnostics or the parser's. */
function subtestFailure(closing: Result, child: Parser): string {
  const diag = (closing.diag ?? {}) as { exitCode?: number | null; signal?: string | null }
  if (diag.signal) return `subtest failed: killed by ${diag.signal}`
  if (typeof diag.exitCode === 'number' && diag.exitCode !== 0) return `subtest failed: exit code ${diag.exitCode}`
  const tapErrors = (child.results?.failures ?? []).flatMap((f) => (f.tapError ? [f.tapError] : []))
  return `subtest failed: ${tapErrors.join('; ') || 'no failing assertion inside'}`
}

function attach(parser: Parser): Node {
  const node: Node = { parser, entries: [] }
  parser.on('child', (child: Parser) => node.entries.push(attach(child)))
  parser.on('assert', (r: Result) => {
    if (!r.closingTestPoint) node.entries.push(pointOf(r))
  })
  return node
}

function flatten(node: Node): Point[] {
  const out: Point[] = []
  for (const e of node.entries) {
    if (!('parser' in e)) {
      out.push(e)
      continue
    }
    const inner = flatten(e)
    // Resolved after parsing: a buffered subtest's closing point precedes its block.
    const closing = e.parser.closingTestPoint
    if (!closing) {
      out.push(...inner)
      continue
    }
    // The subtest's own name (`# Subtest: x`): tap sometimes repeats a sibling's name on the closing point.
    const name = e.parser.fullname || closing.fullname
    if (inner.length === 0) {
      out.push({ ...pointOf(closing), name })
      continue
    }
    out.push(...inner)
    if (outcomeOf(closing) === 'fail' && !inner.some((p) => p.outcome === 'fail')) {
      out.push({ outcome: 'fail', name, reason: subtestFailure(closing, e.parser) })
    }
  }
  return out
}

function countStream(tap: string): Point[] {
  const parser = new Parser()
  const root = attach(parser)
  let bailout: string | undefined
  parser.on('bailout', (reason: string) => (bailout ??= reason))
  parser.end(tap)
  const points = flatten(root)
  if (bailout !== undefined) points.push({ outcome: 'fail', name: 'Bail out!', reason: bailout })
  // Belt and braces: tap's own verdict on the stream is red but nothing above counted a failure
  // (a truncated stream, a broken plan at the top level).
  if (!parser.ok && !points.some((p) => p.outcome === 'fail')) {
    points.push({ outcome: 'fail', name: 'TAP stream', reason: parser.results?.plan.comment || 'tap reported the run as failed' })
  }
  return points
}

/** Count the leaf points of one or more TAP streams (one per tap invocation). */
export function countTap(streams: readonly string[]): Tally {
  const tally: Tally = { pass: 0, fail: 0, skip: 0, todo: 0, notPassed: [] }
  for (const s of streams) {
    for (const p of countStream(s)) {
      tally[p.outcome]++
      if (p.outcome !== 'pass') tally.notPassed.push(p)
    }
  }
  return tally
}

function listed(title: string, points: Point[]): string[] {
  if (points.length === 0) return []
  return [`${title} (${points.length}):`, ...points.map((p) => `  ${p.name}${p.reason ? ` # ${p.reason}` : ''}`)]
}

/** The run's closing block; its last line is the one CI reads: `tests: N passed, N failed, N skipped`. */
export function closingLines(t: Tally): string[] {
  const by = (o: Outcome): Point[] => t.notPassed.filter((p) => p.outcome === o)
  return [
    ...listed('failed', by('fail')),
    ...listed('skipped', by('skip')),
    ...listed('todo (not counted as passed)', by('todo')),
    `tests: ${t.pass} passed, ${t.fail} failed, ${t.skip} skipped`,
  ]
}
