// Pure: recovery after each kill, from timestamps. A probe sample is "sent at `at`, answered
// (or given up) `ms` later". After a kill at K, a probe has recovered at the end of the first
// successful sample sent after its last failure before the next kill (with no failure: the first
// success after K, just one probe's latency when the component was not on that path). A probe
// whose last sample before the next kill failed did not recover.

export interface ProbeSample {
  kind: 'svc' | 'dns'
  ok: boolean
  at: number
  ms: number
  err?: string
}

export interface KillEvent {
  target: string
  at: number
  /** Control-plane answer time: kill → first successful GET (undefined = none before the cap). */
  controlPlaneMs?: number
  /** kill → the component running again (new PID, or a replacement DNS pod Ready). */
  backMs?: number
}

export interface KillRecovery {
  target: string
  at: number
  controlPlaneMs?: number
  backMs?: number
  serviceMs?: number
  dnsMs?: number
  serviceFailures: number
  dnsFailures: number
  /** The longest stretch without an acknowledged write after the kill (undefined: no writes). */
  writeBlipMs?: number
}

function probeRecovery(samples: readonly ProbeSample[], kind: ProbeSample['kind'], from: number, until: number): { ms?: number; failures: number } {
  let failures = 0
  let ms: number | undefined
  for (const s of samples) {
    if (s.kind !== kind || s.at < from || s.at >= until) continue
    if (!s.ok) {
      // A half-working path (one of two DNS replicas gone) alternates: recovery counts from
      // the success after the last failure, not from the first lucky answer.
      failures++
      ms = undefined
    } else if (ms === undefined) ms = s.at + s.ms - from
  }
  return ms === undefined ? { failures } : { ms, failures }
}

/** Longest gap in [from, until): from the kill to the first ack, and between consecutive acks. */
function writeBlip(ackTimes: readonly number[], from: number, until: number): number | undefined {
  const inside = ackTimes.filter((t) => t >= from && t < until)
  if (inside.length === 0) return undefined
  let prev = from
  let worst = 0
  for (const t of inside) {
    worst = Math.max(worst, t - prev)
    prev = t
  }
  return worst
}

/** One row per kill: each window runs to the next kill (the last one to `end`). */
export function recoveries(kills: readonly KillEvent[], samples: readonly ProbeSample[], ackTimes: readonly number[], end: number): KillRecovery[] {
  const sorted = [...samples].sort((a, b) => a.at - b.at)
  const acks = [...ackTimes].sort((a, b) => a - b)
  return kills.map((k, i) => {
    const until = kills[i + 1]?.at ?? end
    const svc = probeRecovery(sorted, 'svc', k.at, until)
    const dns = probeRecovery(sorted, 'dns', k.at, until)
    const blip = writeBlip(acks, k.at, until)
    return {
      target: k.target,
      at: k.at,
      ...(k.controlPlaneMs !== undefined ? { controlPlaneMs: k.controlPlaneMs } : {}),
      ...(k.backMs !== undefined ? { backMs: k.backMs } : {}),
      ...(svc.ms !== undefined ? { serviceMs: svc.ms } : {}),
      ...(dns.ms !== undefined ? { dnsMs: dns.ms } : {}),
      serviceFailures: svc.failures,
      dnsFailures: dns.failures,
      ...(blip !== undefined ? { writeBlipMs: blip } : {}),
    }
  })
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export interface Summary {
  n: number
  /** kills after which it never came back within the window */
  missing: number
  p50?: number
  p99?: number
  max?: number
}

export function summarize(values: readonly (number | undefined)[]): Summary {
  const got = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b)
  const s: Summary = { n: values.length, missing: values.length - got.length }
  const p50 = percentile(got, 50)
  const p99 = percentile(got, 99)
  if (p50 !== undefined) s.p50 = p50
  if (p99 !== undefined) s.p99 = p99
  if (got.length) s.max = got[got.length - 1]!
  return s
}

const ms = (v: number | undefined): string => (v === undefined ? '—' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`)

/** The recovery table, Markdown: one row per measure, then one per target. */
export function recoveryTable(rows: readonly KillRecovery[]): string {
  const measures: [string, (r: KillRecovery) => number | undefined][] = [
    ['control plane answers (first GET)', (r) => r.controlPlaneMs],
    ['component running again', (r) => r.backMs],
    ['Service traffic (ClusterIP HTTP)', (r) => r.serviceMs],
    ['DNS (A via 10.96.0.10)', (r) => r.dnsMs],
    ['write blip (longest gap without an ack)', (r) => r.writeBlipMs],
  ]
  const out = [`recovery after ${rows.length} kills (ms from the kill; "missing" = not back before the next kill)`, '| measure | n | p50 | p99 | max | missing |', '|---|---|---|---|---|---|']
  for (const [name, f] of measures) {
    const s = summarize(rows.map(f))
    out.push(`| ${name} | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} | ${s.missing} |`)
  }
  out.push('', '| target | kills | control plane max | back max | Service max | DNS max | failed probes svc/dns | write blip max |', '|---|---|---|---|---|---|---|---|')
  const targets = [...new Set(rows.map((r) => r.target))].sort()
  for (const t of targets) {
    const mine = rows.filter((r) => r.target === t)
    const max = (f: (r: KillRecovery) => number | undefined): string => {
      const s = summarize(mine.map(f))
      return `${ms(s.max)}${s.missing ? ` (${s.missing} missing)` : ''}`
    }
    const fails = `${mine.reduce((a, r) => a + r.serviceFailures, 0)}/${mine.reduce((a, r) => a + r.dnsFailures, 0)}`
    out.push(`| ${t} | ${mine.length} | ${max((r) => r.controlPlaneMs)} | ${max((r) => r.backMs)} | ${max((r) => r.serviceMs)} | ${max((r) => r.dnsMs)} | ${fails} | ${max((r) => r.writeBlipMs)} |`)
  }
  return out.join('\n')
}
