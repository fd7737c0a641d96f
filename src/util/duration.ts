// Durations as Kubernetes components take them on their flags: Go's time.ParseDuration
// grammar ("300ms", "1.5h", "2h45m", "1m30.5s"; units ns, us/µs, ms, s, m, h), so a flag
// that works for kube-controller-manager works here. Flags are periods and timeouts, so a
// negative value is refused rather than read as "never".

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

const TERM = /^(\d*)(?:\.(\d*))?([a-zµμ]*)/

/** Milliseconds for a Go duration string; throws with Go's own wording on bad input. */
export function parseDuration(input: string): number {
  const s = input.trim()
  const quoted = JSON.stringify(input)
  if (s.startsWith('-')) throw new Error(`invalid duration ${quoted}: must not be negative`)
  let rest = s.startsWith('+') ? s.slice(1) : s
  if (rest === '0') return 0
  if (rest === '') throw new Error(`time: invalid duration ${quoted}`)
  let total = 0
  while (rest.length > 0) {
    const m = TERM.exec(rest)!
    const [whole, int = '', frac, unit = ''] = m
    if (int === '' && (frac === undefined || frac === '')) throw new Error(`time: invalid duration ${quoted}`)
    if (unit === '') throw new Error(`time: missing unit in duration ${quoted}`)
    const ms = UNIT_MS[unit]
    if (ms === undefined) throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`)
    total += Number(`${int || '0'}.${frac ?? ''}0`) * ms
    rest = rest.slice(whole.length)
  }
  return total
}
