// CronJob schedules. The times are computed by croner (a maintained cron library, pinned in
// package.json); this module only adds what upstream's robfig/cron `ParseStandard` decides on
// top: which spellings are accepted (exactly 5 fields, the `@hourly`… descriptors, `@every
// <duration>`, an optional `CRON_TZ=`/`TZ=` prefix) and the exact error texts that
// kube-apiserver puts into its 422 (`expected exactly 5 fields, found 1: [bad]`).
import { Cron } from 'croner'
import { parseDuration } from '../util/duration.js'

const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
/** robfig's bounds per field: minute, hour, day of month, month, day of week. */
const BOUNDS: readonly { min: number; max: number; names?: string[]; base?: number }[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, base: 1 },
  { min: 0, max: 6, names: DAYS, base: 0 },
]

export interface Schedule {
  /** The first activation strictly after `after`, or undefined if there is none (e.g. `0 0 31 2 *`). */
  next(after: Date): Date | undefined
}

export class ScheduleError extends Error {
  override name = 'ScheduleError'
}

function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new ScheduleError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`)
  const n = Number(s)
  if (n < 0) throw new ScheduleError(`negative number (${n}) not allowed: ${s}`)
  return n
}

function intOrName(s: string, b: (typeof BOUNDS)[number]): number {
  const i = b.names?.indexOf(s.toLowerCase()) ?? -1
  return i >= 0 ? i + (b.base ?? 0) : atoi(s)
}

/** The checks robfig's getRange makes, with its messages; the bits themselves are croner's job. */
function checkField(field: string, b: (typeof BOUNDS)[number]): void {
  for (const expr of field.split(',')) {
    const rangeAndStep = expr.split('/')
    const lowAndHigh = rangeAndStep[0]!.split('-')
    const single = lowAndHigh.length === 1
    let start: number
    let end: number
    if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
      start = b.min
      end = b.max
    } else {
      start = intOrName(lowAndHigh[0]!, b)
      if (lowAndHigh.length === 1) end = start
      else if (lowAndHigh.length === 2) end = intOrName(lowAndHigh[1]!, b)
      else throw new ScheduleError(`too many hyphens: ${expr}`)
    }
    let step = 1
    if (rangeAndStep.length === 2) {
      step = atoi(rangeAndStep[1]!)
      // "N/step" means "N-max/step".
      if (single && lowAndHigh[0] !== '*' && lowAndHigh[0] !== '?') end = b.max
    } else if (rangeAndStep.length > 2) throw new ScheduleError(`too many slashes: ${expr}`)
    if (start < b.min) throw new ScheduleError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`)
    if (end > b.max) throw new ScheduleError(`end of range (${end}) above maximum (${b.max}): ${expr}`)
    if (start > end) throw new ScheduleError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`)
    if (step === 0) throw new ScheduleError(`step of range should be a positive number: ${expr}`)
  }
}

/** Splits a `CRON_TZ=Zone ` / `TZ=Zone ` prefix off, as robfig does. */
export function splitScheduleTimeZone(spec: string): { tz?: string; rest: string } {
  const m = /^(?:CRON_TZ|TZ)=(\S*)\s*(.*)$/.exec(spec)
  return m ? { tz: m[1]!, rest: m[2]! } : { rest: spec }
}

/** Whether the IANA zone exists; `Local` and '' are not explicit zones (upstream refuses them separately). */
export function isKnownTimeZone(tz: string): boolean {
  if (tz === 'UTC') return true
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/**
 * Parse a schedule as robfig/cron's ParseStandard accepts it; `timeZone` is the CronJob's
 * `spec.timeZone` (UTC when absent, as kube-controller-manager runs in UTC here).
 * Throws ScheduleError with robfig's wording.
 */
export function parseSchedule(spec: string, timeZone?: string): Schedule {
  if (spec.length === 0) throw new ScheduleError('empty spec string')
  let { tz, rest } = splitScheduleTimeZone(spec)
  if (tz !== undefined && !isKnownTimeZone(tz)) throw new ScheduleError(`provided bad location ${tz}: unknown time zone ${tz}`)
  tz ??= timeZone ?? 'UTC'
  rest = rest.trim()
  if (rest.startsWith('@every ')) {
    let ms: number
    try {
      ms = parseDuration(rest.slice('@every '.length))
    } catch (err) {
      throw new ScheduleError(`failed to parse duration ${rest}: ${(err as Error).message}`)
    }
    // robfig rounds below one second up to one second and drops sub-second parts.
    const every = Math.max(1000, Math.floor(ms / 1000) * 1000)
    return { next: (after) => new Date(Math.floor(after.getTime() / 1000) * 1000 + every) }
  }
  if (rest.startsWith('@')) {
    const p = DESCRIPTORS[rest]
    if (!p) throw new ScheduleError(`unrecognized descriptor: ${rest}`)
    rest = p
  }
  const fields = rest.split(/\s+/).filter((f) => f !== '')
  if (fields.length !== 5) throw new ScheduleError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`)
  fields.forEach((f, i) => checkField(f, BOUNDS[i]!))
  let cron: Cron
  try {
    // legacyMode: day-of-month and day-of-week are OR-ed when both are restricted (Vixie cron, robfig).
    cron = new Cron(fields.join(' '), { paused: true, timezone: tz, legacyMode: true })
  } catch (err) {
    throw new ScheduleError((err as Error).message.replace(/^CronPattern: /, ''))
  }
  return { next: (after) => cron.nextRun(after) ?? undefined }
}

/** The robfig error text for an invalid schedule, or undefined if it parses. */
export function scheduleError(spec: string, timeZone?: string): string | undefined {
  try {
    parseSchedule(spec, timeZone)
    return undefined
  } catch (err) {
    if (err instanceof ScheduleError) return err.message
    throw err
  }
}
