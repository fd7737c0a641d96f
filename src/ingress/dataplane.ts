// Applying a routing model to the running HAProxy: the decision (reload or runtime commands or
// nothing) is planApply, pure; HaproxyDataPlane carries it out and remembers the last good state.
import { join } from 'node:path'
import { assignSlots, backendName, canonicalNames, CERT_DIR, DEFAULT_MIN_SLOTS, DEFAULT_SPARE_BACKENDS, drainCommands, presentAfter, renderHaproxy, renderShape, runtimeOps, SPARE_PREFIX, type Assignment, type HaproxyOptions, type Names, type RenderedHaproxy, type RuntimeOp } from './haproxy.js'
import { HaproxyProcess, writeAtomic } from './haproxy-process.js'
import type { RoutingModel } from './model.js'
import { logger } from '../util/log.js'

const log = logger('ingress-dataplane')

export interface Applied {
  shape: string
  assignment: Assignment
  maps: RenderedHaproxy['maps']
  certs: RenderedHaproxy['certs']
  /** Slots per backend in the loaded config (the shape is rendered with these). */
  configured: Record<string, number>
  /** Servers per backend in the running worker: the configured ones plus those added at run time. */
  present: Record<string, number>
  /** Backend name per backend key: its own since the last reload, or the spare it took since. */
  names: Names
}

export type Plan =
  | { kind: 'none'; next: Applied }
  /** `rendered.files`: what to write so a later reload or restart starts from the same state. */
  | { kind: 'runtime'; ops: RuntimeOp[]; rendered: RenderedHaproxy; next: Applied }
  /** `drain`: runtime commands for the running worker first (slots whose endpoint is gone). */
  | { kind: 'reload'; rendered: RenderedHaproxy; next: Applied; drain: string[] }

const spareIndex = (n: string): number => Number(n.slice(SPARE_PREFIX.length))

/**
 * The model's backends on the running config's backends: a key keeps its name; a new key takes
 * its own name back if that backend is unused, else a free spare (lowest first). A name used in
 * `prev` is not free, so a backend freed by this change is not refilled while the old maps may
 * still route to it. Undefined when the spares do not suffice (a reload).
 */
export function bindNames(prev: Applied, model: RoutingModel): Names | undefined {
  const used = new Set(Object.values(prev.names))
  const free = Object.keys(prev.assignment)
    .filter((n) => n.startsWith(SPARE_PREFIX) && !used.has(n))
    .sort((a, b) => spareIndex(a) - spareIndex(b))
  const names: Names = {}
  for (const key of Object.keys(model.backends).sort()) {
    const own = backendName(key)
    const name = prev.names[key] ?? (prev.assignment[own] && !used.has(own) ? own : free.shift())
    if (name === undefined) return undefined
    names[key] = name
  }
  return names
}

export function planApply(prev: Applied | undefined, model: RoutingModel, o: HaproxyOptions): Plan {
  const names = prev && bindNames(prev, model)
  if (prev && names) {
    const key = Object.fromEntries(Object.entries(names).map(([k, n]) => [n, k]))
    // Every backend of the running config stays (a shape change otherwise); unbound ones empty.
    const assignment: Assignment = Object.fromEntries(Object.entries(prev.assignment).map(([n, slots]) => [n, key[n] ? assignSlots(slots, model.backends[key[n]]!.endpoints, o.minSlots) : slots.map(() => null)]))
    // A backend keeps the slot count of the loaded config in the shape: more or fewer slots are
    // dynamic servers / maintenance at run time, not a reload.
    const kept = Object.fromEntries(Object.entries(assignment).map(([n, s]) => [n, Array.from({ length: prev.configured[n] ?? s.length }, () => null)]))
    const shape = renderShape(model, kept, o, names)
    if (shape === prev.shape) {
      const rendered = renderHaproxy(model, assignment, o, names)
      const next = { shape, assignment, maps: rendered.maps, certs: rendered.certs, configured: prev.configured, present: presentAfter(prev.present, assignment), names }
      const ops = runtimeOps(prev, { ...rendered, assignment }, o.dir)
      return ops.length ? { kind: 'runtime', ops, rendered, next } : { kind: 'none', next }
    }
  }
  // A reload: every backend under its own name again, the slots it had, and fresh spares.
  const own = canonicalNames(model)
  const assignment: Assignment = {}
  for (const [k, b] of Object.entries(model.backends)) assignment[own[k]!] = assignSlots(prev?.assignment[prev.names[k] ?? ''], b.endpoints, o.minSlots)
  for (let i = 1; i <= (o.spareBackends ?? DEFAULT_SPARE_BACKENDS); i++) assignment[`${SPARE_PREFIX}${i}`] = Array.from({ length: o.minSlots ?? DEFAULT_MIN_SLOTS }, () => null)
  const rendered = renderHaproxy(model, assignment, o, own)
  const counts = Object.fromEntries(Object.entries(assignment).map(([be, s]) => [be, s.length]))
  // The running worker's names for the next slots, to drain what is gone before the new worker starts.
  const drain = prev ? drainCommands(prev.assignment, Object.fromEntries(Object.entries(prev.names).filter(([k]) => own[k]).map(([k, n]) => [n, assignment[own[k]!]!]))) : []
  return { kind: 'reload', rendered, drain, next: { shape: renderShape(model, assignment, o, own), assignment, maps: rendered.maps, certs: rendered.certs, configured: counts, present: counts, names: own } }
}

/** The rendered files that are not certificates: the crt-list and the maps. */
function listFiles(r: RenderedHaproxy): Record<string, string> {
  return Object.fromEntries(Object.entries(r.files).filter(([rel]) => !rel.startsWith(`${CERT_DIR}/`)))
}

export interface ApplyResult {
  kind: Plan['kind']
  /** Set when the new config was refused (`haproxy -c`) or could not be applied: the old one serves on. */
  error?: string
}

export class HaproxyDataPlane {
  private applied: Applied | undefined
  /** The last config the worker loaded and the list files (crt-list, maps) it serves now. */
  private good: { config: string; files: Record<string, string> } | undefined
  readonly proc: HaproxyProcess
  readonly configPath: string

  constructor(
    readonly o: HaproxyOptions & { netns?: string; bin?: string },
    onExit?: () => void,
  ) {
    this.configPath = join(o.dir, 'haproxy.cfg')
    this.proc = new HaproxyProcess({ configPath: this.configPath, adminSocket: o.adminSocket, logPath: join(o.dir, 'haproxy.log'), ...(o.netns ? { netns: o.netns } : {}), ...(o.bin ? { bin: o.bin } : {}), ...(onExit ? { onExit } : {}) })
  }

  get state(): Applied | undefined {
    return this.applied
  }

  async apply(model: RoutingModel): Promise<ApplyResult> {
    const plan = planApply(this.applied, model, this.o)
    if (plan.kind === 'none') return { kind: 'none' }
    if (plan.kind === 'runtime') {
      // Files first: a reload or restart in between reads what the worker is about to have.
      // The config too (which Service each backend serves, the addresses): the same shape, so the
      // master loads the same thing on a reload for another reason.
      this.writeFiles(plan.rendered)
      writeAtomic(this.configPath, plan.rendered.config)
      const errors = await this.proc.runtimeOps(plan.ops)
      if (errors.length) {
        // A slot the worker does not know means our view drifted: force a full reload next time.
        log.warn({ errors }, 'runtime API refused commands; reloading')
        this.applied = undefined
        return this.apply(model)
      }
      this.applied = plan.next
      this.good = { config: plan.rendered.config, files: listFiles(plan.rendered) }
      return { kind: 'runtime' }
    }
    const t0 = Date.now()
    if (this.applied && this.proc.running() && plan.drain.length) {
      // Best effort: the reload that follows applies the removal in any case.
      await this.proc.runtimeOps(plan.drain.map((cmd) => ({ kind: 'server', cmd }))).catch((e: unknown) => log.warn({ e }, 'drain before reload failed'))
    }
    this.writeFiles(plan.rendered)
    writeAtomic(this.configPath, plan.rendered.config)
    let problem: string | undefined
    try {
      problem = this.proc.running() ? await this.proc.reload() : (await this.proc.start(), undefined)
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e)
    }
    if (problem) {
      log.error({ problem }, 'haproxy refused the new config; the last good config keeps serving')
      // Put the last good files back: a restart after a crash must not start from the bad one.
      if (this.good) {
        for (const [rel, content] of Object.entries(this.good.files)) writeAtomic(join(this.o.dir, rel), content)
        writeAtomic(this.configPath, this.good.config)
      }
      return { kind: 'reload', error: problem }
    }
    this.good = { config: plan.rendered.config, files: listFiles(plan.rendered) }
    this.applied = plan.next
    log.info({ ms: Date.now() - t0, reloads: this.proc.reloads }, 'haproxy config applied')
    return { kind: 'reload' }
  }

  /** Certificate files are named by content, so the running worker's are never overwritten; lists last. */
  private writeFiles(r: RenderedHaproxy): void {
    for (const [rel, content] of Object.entries(r.files)) if (rel.startsWith(`${CERT_DIR}/`)) writeAtomic(join(this.o.dir, rel), content)
    for (const [rel, content] of Object.entries(listFiles(r))) writeAtomic(join(this.o.dir, rel), content)
  }

  /** After an unexpected exit: the next apply renders everything again and starts the process. */
  forget(): void {
    this.applied = undefined
    this.proc.restarts++
  }

  stop(): Promise<void> {
    return this.proc.stop()
  }
}
