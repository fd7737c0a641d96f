import t from 'tap'
import { parseDuration } from '../../src/util/duration.js'

t.test('Go duration grammar, as Kubernetes flags take it', async (t) => {
  const ok: [string, number][] = [
    ['0', 0],
    ['40s', 40_000],
    ['5m', 300_000],
    ['250ms', 250],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000], // accepted by one of the two old parsers only
    ['2h45m10s', 9_910_000],
    ['1.5h', 5_400_000],
    ['1m30.5s', 90_500],
    ['.5s', 500],
    ['1.s', 1000],
    ['+3s', 3000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
    [' 8s ', 8000],
  ]
  for (const [s, ms] of ok) t.equal(parseDuration(s), ms, JSON.stringify(s))
})

t.test('bad durations: Go wording, negatives refused', async (t) => {
  const bad: [string, RegExp][] = [
    ['', /^time: invalid duration ""/],
    ['5', /^time: missing unit in duration "5"/], // the old parsers read a bare number as seconds
    ['1h30', /missing unit/],
    ['3d', /^time: unknown unit "d" in duration "3d"/],
    ['s', /^time: invalid duration "s"/],
    ['.s', /invalid duration/],
    ['1 s', /invalid duration|unknown unit|missing unit/],
    ['-1s', /must not be negative/],
    ['abc', /invalid duration/],
  ]
  for (const [s, re] of bad) t.throws(() => parseDuration(s), re, JSON.stringify(s))
})
