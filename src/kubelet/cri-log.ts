// The CRI container log format — the one definition, used by the log shim that writes it and by
// the kubelet that serves it. One line per record, as containerd and CRI-O write them:
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>\n
// `F` ends a line of the container's output (the reader adds the newline back); `P` is a
// fragment of a longer line (a line over MAX_LINE bytes, or the unterminated tail at EOF), whose
// content is shown as is, so the bytes the container wrote come back exactly.
// The reading side follows the kubelet's ReadLogs: `tailLines` counts lines of the file, `since`
// drops older records, `limitBytes` cuts the output (timestamps included), `timestamps` prefixes
// each record with its time.

export type LogStream = 'stdout' | 'stderr'

/** containerd's limit: output without a newline is cut into `P` records of at most this many bytes. */
export const MAX_LINE = 16 * 1024

export interface LogRecord {
  /** As written in the file (RFC3339Nano: trailing zeros of the fraction trimmed). */
  timestamp: string
  /** The same instant in nanoseconds since the epoch, for comparisons. */
  nanos: bigint
  stream: LogStream
  partial: boolean
  content: Buffer
}

const NL = 0x0a

/** Go's time.RFC3339Nano in UTC: `2026-12-01T18:27:29.123456789Z`, trailing zeros trimmed. */
export function formatTimestamp(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n)
  const base = new Date(ms).toISOString().slice(0, 19)
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '')
  return `${base}${frac ? '.' + frac : ''}Z`
}

/** Nanoseconds since the epoch of an RFC 3339 time (any fraction length, Z or ±hh:mm); undefined if malformed. */
export function parseTimestamp(s: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s)
  if (!m) return undefined
  const secs = Date.parse(`${m[1]}${m[3]}`)
  if (Number.isNaN(secs)) return undefined
  return BigInt(secs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}

/** A wall clock with nanosecond digits: the epoch anchored once, then the monotonic clock. */
export function nanoClock(): () => bigint {
  const anchorWall = BigInt(Date.now()) * 1_000_000n
  const anchorMono = process.hrtime.bigint()
  return () => anchorWall + (process.hrtime.bigint() - anchorMono)
}

function record(ts: string, stream: LogStream, partial: boolean, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${ts} ${stream} ${partial ? 'P' : 'F'} `), content, Buffer.from('\n')])
}

/**
 * Turns one stream's raw output into records: complete lines as `F`, a line longer than MAX_LINE
 * in `P` pieces, and whatever is left at EOF as one `P` (the container wrote no newline).
 */
export class LogLineEncoder {
  private pending: Buffer = Buffer.alloc(0)

  constructor(
    readonly stream: LogStream,
    private readonly now: () => bigint,
  ) {}

  /** The records for this chunk (possibly none: an unterminated line waits for more). */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk
    const out: Buffer[] = []
    const ts = formatTimestamp(this.now())
    for (;;) {
      const nl = buf.indexOf(NL)
      if (nl >= 0 && nl <= MAX_LINE) {
        out.push(record(ts, this.stream, false, buf.subarray(0, nl)))
        buf = buf.subarray(nl + 1)
      } else if (buf.length > MAX_LINE) {
        out.push(record(ts, this.stream, true, buf.subarray(0, MAX_LINE)))
        buf = buf.subarray(MAX_LINE)
      } else break
    }
    this.pending = Buffer.from(buf)
    return out
  }

  /** At EOF: the unterminated rest, if any. */
  end(): Buffer[] {
    if (!this.pending.length) return []
    const out = [record(formatTimestamp(this.now()), this.stream, true, this.pending)]
    this.pending = Buffer.alloc(0)
    return out
  }
}

/** One line of a log file (without its newline); undefined when it is not a CRI record. */
export function parseLogRecord(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(0x20)
  if (s1 < 0) return undefined
  const s2 = line.indexOf(0x20, s1 + 1)
  if (s2 < 0) return undefined
  const timestamp = line.toString('latin1', 0, s1)
  const stream = line.toString('latin1', s1 + 1, s2)
  const nanos = parseTimestamp(timestamp)
  if (nanos === undefined || (stream !== 'stdout' && stream !== 'stderr')) return undefined
  // The tag field may carry more tags after a colon (`F:x`); only the first matters here.
  const s3 = line.indexOf(0x20, s2 + 1)
  const tagEnd = s3 < 0 ? line.length : s3
  const tag = line.toString('latin1', s2 + 1, tagEnd).split(':')[0]
  if (tag !== 'F' && tag !== 'P') return undefined
  return { timestamp, nanos, stream, partial: tag === 'P', content: line.subarray(s3 < 0 ? line.length : s3 + 1) }
}

export interface LogReadOptions {
  /** Drop records older than this (ns since the epoch). */
  sinceNanos?: bigint
  timestamps?: boolean
  /** Stop after this many bytes of output. */
  limitBytes?: number
}

/** How the kubelet shows one record: the timestamp prefix if asked, the content, and the newline of a full line. */
export function renderRecord(r: LogRecord, timestamps: boolean): Buffer {
  const parts = [r.content]
  if (timestamps) parts.unshift(Buffer.from(`${r.timestamp} `))
  if (!r.partial) parts.push(Buffer.from('\n'))
  return Buffer.concat(parts)
}

/**
 * The byte offset where the last `lines` lines of `data` start (upstream's FindTailLineStartIndex:
 * lines of the file, so a long line cut into P records counts once per record). A trailing
 * line without its newline yet counts as a line.
 */
export function tailStart(data: Buffer, lines: number): number {
  if (lines <= 0) return data.length
  let end = data.length
  if (end > 0 && data[end - 1] === NL) end--
  let seen = 0
  for (let i = end - 1; i >= 0; i--) {
    if (data[i] === NL && ++seen === lines) return i + 1
  }
  return 0
}

/**
 * A stateful renderer of file bytes to log output: whole lines are parsed, filtered and rendered;
 * an incomplete last line waits for the next chunk (the shim writes whole records, but a reader
 * may catch a write half done). `done` turns true when limitBytes is reached.
 */
export class LogRenderer {
  private rest: Buffer = Buffer.alloc(0)
  private written = 0
  done = false

  constructor(private readonly o: LogReadOptions) {}

  push(chunk: Buffer): Buffer {
    if (this.done) return Buffer.alloc(0)
    let buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk
    const out: Buffer[] = []
    for (;;) {
      const nl = buf.indexOf(NL)
      if (nl < 0) break
      const line = buf.subarray(0, nl)
      buf = buf.subarray(nl + 1)
      const r = parseLogRecord(line)
      if (!r) continue // not ours (a line from before the format): skipped, as the kubelet skips unparsable lines
      if (this.o.sinceNanos !== undefined && r.nanos < this.o.sinceNanos) continue
      let bytes = renderRecord(r, this.o.timestamps ?? false)
      if (this.o.limitBytes !== undefined && this.written + bytes.length >= this.o.limitBytes) {
        bytes = bytes.subarray(0, this.o.limitBytes - this.written)
        this.done = true
      }
      this.written += bytes.length
      out.push(bytes)
      if (this.done) break
    }
    this.rest = this.done ? Buffer.alloc(0) : Buffer.from(buf)
    return Buffer.concat(out)
  }
}
