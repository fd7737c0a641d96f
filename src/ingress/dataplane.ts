// Applying a routing model to the running HAProxy: the decision (reload or runtime commands or
// nothing) is planApply, pure; HaproxyDataPlane carries it out and remembers the last good state.
import { join } from 'node:path'
import { assignAll, CRT_LIST, renderHaproxy, renderShape, runtimeCommands, type Assignment, type HaproxyOptions, type RenderedHaproxy } from './haproxy.js'
import { HaproxyProcess, writeAtomic } from './haproxy-process.js'
import type { RoutingModel } from './model.js'
import { logger } from '../util/log.js'

const log = logger('ingress-dataplane')

export interface Applied {
  shape: string
  assignment: Assignment
}

export type Plan =
  | { kind: 'none'; next: Applied }
  | { kind: 'runtime'; cmds: string[]; next: Applied }
  | { kind: 'reload'; rendered: RenderedHaproxy; next: Applied }

export function planApply(prev: Applied | undefined, model: RoutingModel, o: HaproxyOptions): Plan {
  const assignment = assignAll(model, prev?.assignment)
  const shape = renderShape(model, assignment, o)
  const next = { shape, assignment }
  if (!prev || prev.shape !== shape) return { kind: 'reload', rendered: renderHaproxy(model, assignment, o), next }
  const cmds = runtimeCommands(prev.assignment, assignment)
  return cmds.length ? { kind: 'runtime', cmds, next } : { kind: 'none', next }
}

export interface ApplyResult {
  kind: Plan['kind']
  /** Set when the new config was refused (`haproxy -c`) or could not be applied: the old one serves on. */
  error?: string
}

export class HaproxyDataPlane {
  private applied: Applied | undefined
  private good: { config: string; crtList: string } | undefined
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
      const errors = await this.proc.runtime(plan.cmds)
      if (errors.length) {
        // A slot the worker does not know means our view drifted: force a full reload next time.
        log.warn({ errors }, 'runtime API refused commands; reloading')
        this.applied = undefined
        return this.apply(model)
      }
      this.applied = plan.next
      return { kind: 'runtime' }
    }
    // Files first (named by content, so the running worker's are untouched), then the config.
    for (const [rel, content] of Object.entries(plan.rendered.files)) if (rel !== CRT_LIST) writeAtomic(join(this.o.dir, rel), content)
    const crtList = plan.rendered.files[CRT_LIST] ?? ''
    const t0 = Date.now()
    writeAtomic(join(this.o.dir, CRT_LIST), crtList)
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
        writeAtomic(join(this.o.dir, CRT_LIST), this.good.crtList)
        writeAtomic(this.configPath, this.good.config)
      }
      return { kind: 'reload', error: problem }
    }
    this.good = { config: plan.rendered.config, crtList }
    this.applied = plan.next
    log.info({ ms: Date.now() - t0, reloads: this.proc.reloads }, 'haproxy config applied')
    return { kind: 'reload' }
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
