// One worker per pod: drives the sandbox and containers towards the pod spec — the init
// containers one by one to success first, then the app containers — runs probes, restarts with
// back-off, terminates gracefully, and produces the pod's status view. What it concluded about
// each container (restart count, last termination, back-off) is kept in container records, so
// a restarted kubelet continues rather than starts over. sync() is level-triggered and never
// runs twice at once for the same pod.
import { isNotFound } from '../client/errors.js'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Container, ContainerStateTerminated, ContainerStatus, KeyToPath, Pod, Probe, Volume } from '../api/types.js'
import { ContainerRecordStore, CONTAINER_RECORD_VERSION, type ContainerRecord } from './container-record.js'
import { admitPod, initShouldRestart, nextInitAction, type AdmitResult, type InitProgress } from './init-containers.js'
import { BACKOFF_RESET_MS, nextBackoff, shouldRestart, terminatedState } from './restart.js'
import { projectData, VolumeError, writeAtomic, type VolumeSource } from './volumes.js'
import { claimSource, type ClaimLookup } from './claims.js'
import { containerGetsMount, serviceAccountFiles, SA_MOUNT_PATH, SA_VOLUME_NAME, tokenNeedsRefresh, wantsServiceAccountMount, type IssuedToken, type ServiceAccountSource } from './serviceaccount.js'
import type { ContainerRuntime, ContainerRuntimeState } from './runtime.js'
import { sandboxDeathReason, type SandboxManager, type SandboxRecord } from './sandbox.js'
import { resolveArgv, ImageNotFoundError } from './images.js'
import { ProbeState, runProbeDetailed } from './probes.js'
import type { EventRecorder, EventType } from '../events/recorder.js'
import type { ContainerView, PodView } from './pod-status.js'
import { logger } from '../util/log.js'
import { logTarget } from './log-target.js'

const log = logger('pod-worker')

export { BACKOFF_INITIAL_MS, BACKOFF_MAX_MS } from './restart.js'

export interface PodWorkerDeps {
  runtime: ContainerRuntime
  sandboxes: SandboxManager
  stateDir: string
  nodeName: string
  hostIP: string
  /**
   * A ConfigMap's (data + binaryData) or a Secret's data as bytes, for env and volumes;
   * undefined when it does not exist. Other API errors throw (a volume is then left as it is).
   */
  getSource(kind: 'configmap' | 'secret', namespace: string, name: string): Promise<Record<string, Buffer> | undefined>
  /** How often configMap/secret volumes of running pods are refreshed (default 2 s). */
  volumeRefreshMs?: number
  backoffInitialMs?: number
  /** The kubelet's events (Pulled, Created, Started, Killing, BackOff, Unhealthy, …). */
  recorder?: EventRecorder
  /** Claims and volumes, for persistentVolumeClaim volumes (see claims.ts). */
  claims?: ClaimLookup
  /** The pod's projected API credentials (serviceaccount.ts); none without it. */
  serviceAccounts?: ServiceAccountSource
}

interface Slot {
  spec: Container
  /** An entry of spec.initContainers. */
  init: boolean
  restartCount: number
  current?: string
  lastTerminated?: ContainerStateTerminated
  /** The runtime id of the exit already accounted for (lastTerminated, back-off). */
  seenExit?: string
  /** createdAt of the sandbox the current instance was started in. */
  sandbox?: string
  backoffMs: number
  backoffUntil: number
  readiness?: ProbeState
  liveness?: ProbeState
  startup?: ProbeState
  waitingReason?: string
  waitingMessage?: string
  /** The instance the kubelet killed itself, and why: shown on its terminated state. */
  killed?: { id: string; message: string }
  /** When the last BackOff event went out (one per back-off check period, not per sync). */
  backoffEventAt?: number
}

/** IsEnvVarName: what envFrom keys must look like to become variables. */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/

function pick(v: { items?: KeyToPath[]; defaultMode?: number; optional?: boolean }): Omit<VolumeSource, 'kind' | 'name'> {
  return { ...(v.items ? { items: v.items } : {}), ...(v.defaultMode !== undefined ? { defaultMode: v.defaultMode } : {}), ...(v.optional !== undefined ? { optional: v.optional } : {}) }
}

/** How often a container waiting in back-off repeats its BackOff event. */
const BACKOFF_EVENT_EVERY_MS = 10_000

/**
 * Kubernetes' `$(VAR)` expansion in env values, command and args: a defined variable is
 * substituted, an undefined one is left as written, and `$$` escapes a literal `$`.
 */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string | undefined) => (n === undefined ? '$' : (env[n] ?? m)))
}

export class PodWorker {
  private readonly slots = new Map<string, Slot>()
  private sandbox: SandboxRecord | undefined
  private busy = false
  private sandboxError: string | undefined
  /** Why the recorded sandbox is dead and must be made anew (see sandboxDeathReason). */
  private sandboxDead: string | undefined
  readonly startTime = new Date().toISOString()
  terminated = false
  /** Every init container has succeeded in the current sandbox. */
  private initDone = false
  /** An init container failed under restartPolicy Never: the pod has failed. */
  private initFailed = false
  /** Set when the kubelet refused the pod (it is failed, nothing runs). */
  private rejected: AdmitResult | undefined
  private readonly records: ContainerRecordStore

  constructor(
    public pod: Pod,
    private readonly deps: PodWorkerDeps,
  ) {
    this.sandbox = deps.sandboxes.get(pod.metadata.uid!)
    this.records = new ContainerRecordStore(join(this.podDir(), 'containers'))
    const instances = deps.runtime.list().filter((s) => s.podUid === pod.metadata.uid)
    // What the last kubelet concluded about each container, as it left it on disk.
    const saved = this.records.load((f) => log.warn({ pod: pod.metadata.name, file: f }, 'unreadable container record ignored'))
    for (const c of this.allContainers()) {
      const rec = saved.get(c.name)
      if (!rec) continue
      const slot = this.slot(c)
      slot.restartCount = rec.restartCount
      slot.backoffMs = rec.backoffMs
      slot.backoffUntil = rec.backoffUntil
      if (rec.current && instances.some((i) => i.id === rec.current)) slot.current = rec.current
      if (rec.lastTerminated) slot.lastTerminated = rec.lastTerminated
      if (rec.seenExit) slot.seenExit = rec.seenExit
      if (rec.killed) slot.killed = rec.killed
      if (rec.sandbox) slot.sandbox = rec.sandbox
    }
    // Instances newer than their record (a crash between start and save), or with no record
    // (state from before records): the highest restart count is current.
    for (const st of instances) {
      const count = Number(st.id.split('_').pop())
      const c = this.allContainers().find((x) => x.name === st.name)
      if (!c) continue
      const slot = this.slot(c)
      if (slot.current === undefined || count > slot.restartCount || (count === slot.restartCount && slot.current !== st.id)) {
        slot.restartCount = count
        slot.current = st.id
        slot.sandbox ??= this.sandbox?.createdAt
      }
    }
    if (this.sandbox) this.sandboxDead = sandboxDeathReason(deps.sandboxes.present(this.sandbox), instances)
  }

  private allContainers(): Container[] {
    return [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]
  }

  /** Write what the kubelet now knows about a container (see container-record.ts). */
  private persist(slot: Slot): void {
    const rec: ContainerRecord = {
      version: CONTAINER_RECORD_VERSION,
      name: slot.spec.name,
      restartCount: slot.restartCount,
      backoffMs: slot.backoffMs,
      backoffUntil: slot.backoffUntil,
      ...(slot.current ? { current: slot.current } : {}),
      ...(slot.lastTerminated ? { lastTerminated: slot.lastTerminated } : {}),
      ...(slot.seenExit ? { seenExit: slot.seenExit } : {}),
      ...(slot.killed ? { killed: slot.killed } : {}),
      ...(slot.sandbox ? { sandbox: slot.sandbox } : {}),
    }
    try {
      this.records.save(rec)
    } catch (err) {
      log.warn({ pod: this.pod.metadata.name, container: slot.spec.name, err: (err as Error).message }, 'container record not written')
    }
  }

  get uid(): string {
    return this.pod.metadata.uid!
  }

  /** An event on this pod, or on one of its containers (`spec.containers{name}` / `spec.initContainers{name}`, as upstream). */
  private emit(type: EventType, reason: string, message: string, container?: string): void {
    const m = this.pod.metadata
    if (!this.deps.recorder || !m.name || !m.namespace) return
    const ref = { kind: 'Pod', apiVersion: 'v1', name: m.name, namespace: m.namespace, ...(m.uid ? { uid: m.uid } : {}) }
    const field = this.pod.spec.initContainers?.some((c) => c.name === container) ? 'initContainers' : 'containers'
    this.deps.recorder.event(ref, type, reason, message, container ? { fieldPath: `spec.${field}{${container}}` } : {})
  }

  private slot(c: Container): Slot {
    let s = this.slots.get(c.name)
    if (!s) {
      s = { spec: c, init: !this.pod.spec.containers.some((x) => x.name === c.name), restartCount: 0, backoffMs: 0, backoffUntil: 0 }
      if (c.readinessProbe) s.readiness = new ProbeState(c.readinessProbe, undefined)
      if (c.livenessProbe) s.liveness = new ProbeState(c.livenessProbe, 'success')
      if (c.startupProbe) s.startup = new ProbeState(c.startupProbe, undefined)
      this.slots.set(c.name, s)
    }
    return s
  }

  private podDir(): string {
    return join(this.deps.stateDir, 'pods', this.uid)
  }

  logPath(container: string, restartCount: number): string {
    return join(this.podDir(), 'logs', container, `${restartCount}.log`)
  }

  /** The id of the container's current instance (exec/attach target), if it has one. */
  currentContainerId(container: string): string | undefined {
    return this.slots.get(container)?.current
  }

  /**
   * The log file `kubectl logs` reads for a container (logTarget decides the instance), and
   * whether its writer may still append; or upstream's message when there is none.
   */
  logSource(container: string, previous: boolean): { path: string; writerAlive(): boolean; flushed(): Promise<void> } | { message: string; notFound?: boolean } {
    const c = this.allContainers().find((x) => x.name === container)
    if (!c) return { message: `container "${container}" not found in pod "${this.pod.metadata.name}"`, notFound: true }
    const target = logTarget(this.containerView(c).status, container, this.pod.metadata.name!, previous)
    if ('message' in target) return target
    const count = Number(target.id.split('_').pop())
    return { path: this.logPath(container, count), writerAlive: () => this.deps.runtime.logWriterAlive(target.id), flushed: () => this.deps.runtime.logFlushed(target.id) }
  }

  currentRestartCount(container: string): number | undefined {
    return this.slots.get(container)?.restartCount
  }

  /** The configMap/secret behind a volume, or undefined for other volume types. */
  private static sourceOf(vol: Volume): VolumeSource | undefined {
    if (vol.configMap) return { kind: 'configmap', name: vol.configMap.name, ...pick(vol.configMap) }
    if (vol.secret) return { kind: 'secret', name: vol.secret.secretName ?? '', ...pick(vol.secret) }
    return undefined
  }

  /** (Re)write one configMap/secret volume; throws (volume left as is) when the source cannot be read. */
  private async syncVolume(vol: Volume, dir: string): Promise<void> {
    const src = PodWorker.sourceOf(vol)
    if (!src) return
    const data = await this.deps.getSource(src.kind, this.pod.metadata.namespace!, src.name)
    writeAtomic(dir, projectData(src, data))
  }

  private volumeDir(vol: Volume): string {
    return join(this.podDir(), 'volumes', vol.name)
  }

  private async volumeBinds(c: Container): Promise<{ source: string; target: string; readOnly?: boolean }[]> {
    const binds: { source: string; target: string; readOnly?: boolean }[] = []
    for (const m of c.volumeMounts ?? []) {
      const vol = this.pod.spec.volumes?.find((v) => v.name === m.name)
      if (!vol) throw new Error(`volume "${m.name}" not found`)
      let source: string
      let readOnly = m.readOnly
      if (vol.hostPath) source = vol.hostPath.path
      else if (vol.persistentVolumeClaim) {
        if (!this.deps.claims) throw new VolumeError(`volume "${vol.name}": persistentVolumeClaim volumes are not supported by this kubelet`)
        const node = { metadata: { name: this.deps.nodeName, labels: { 'kubernetes.io/hostname': this.deps.nodeName } } }
        source = await claimSource(this.deps.claims, vol.name, this.pod.metadata.namespace!, vol.persistentVolumeClaim.claimName, node)
        readOnly = readOnly || vol.persistentVolumeClaim.readOnly === true
      } else {
        source = this.volumeDir(vol)
        mkdirSync(source, { recursive: true })
        try {
          await this.syncVolume(vol, source)
        } catch (err) {
          throw new VolumeError(`MountVolume.SetUp failed for volume "${vol.name}" : ${(err as Error).message}`)
        }
      }
      binds.push({ source: m.subPath ? join(source, m.subPath) : source, target: m.mountPath, readOnly })
    }
    const sa = await this.serviceAccountDir()
    if (sa && containerGetsMount(c)) binds.push({ source: sa, target: SA_MOUNT_PATH, readOnly: true })
    return binds
  }

  /** undefined until decided; false: this pod gets no projected credentials. */
  private saMount: boolean | undefined
  private saToken: IssuedToken | undefined

  /** The projected token/ca.crt/namespace directory, written (and its token fresh), or undefined. */
  private async serviceAccountDir(): Promise<string | undefined> {
    const src = this.deps.serviceAccounts
    if (!src) return undefined
    const ns = this.pod.metadata.namespace!
    const saName = this.pod.spec.serviceAccountName || 'default'
    try {
      if (this.saMount === undefined) this.saMount = wantsServiceAccountMount(this.pod)
      if (!this.saMount) return undefined
      const dir = join(this.podDir(), 'volumes', SA_VOLUME_NAME)
      try {
        await this.refreshServiceAccountToken(dir, Date.now())
      } catch (err) {
        // A pod whose ServiceAccount does not exist (only `default` gets past admission, in a
        // namespace no controller filled) starts without credentials, logged, rather than never.
        if (!isNotFound(err) || this.saToken) throw err
        log.warn({ pod: this.pod.metadata.name, namespace: ns, serviceAccount: saName }, 'service account not found: no API credentials mounted')
        this.saMount = false
        return undefined
      }
      return dir
    } catch (err) {
      throw new VolumeError(`MountVolume.SetUp failed for volume "${SA_VOLUME_NAME}" : ${(err as Error).message}`)
    }
  }

  private async refreshServiceAccountToken(dir: string, now: number): Promise<void> {
    const src = this.deps.serviceAccounts
    if (!src || !tokenNeedsRefresh(this.saToken, now)) return
    const t = await src.token(this.pod)
    writeAtomic(dir, serviceAccountFiles(t, src.caPem, this.pod.metadata.namespace!))
    this.saToken = t
  }

  private lastVolumeRefresh = 0

  /**
   * Running pods see changed ConfigMaps and Secrets: their volumes are rewritten in place (an
   * atomic swap). A read error leaves the volume as it was; a source deleted meanwhile empties
   * an optional volume and leaves a required one unchanged, as the kubelet does.
   */
  private async refreshVolumes(now: number): Promise<void> {
    if (now - this.lastVolumeRefresh < (this.deps.volumeRefreshMs ?? 2000)) return
    this.lastVolumeRefresh = now
    if (this.saMount && this.saToken) {
      await this.refreshServiceAccountToken(join(this.podDir(), 'volumes', SA_VOLUME_NAME), now).catch((err: Error) =>
        log.warn({ pod: this.pod.metadata.name, err: err.message }, 'service account token not refreshed'))
    }
    for (const vol of this.pod.spec.volumes ?? []) {
      const dir = this.volumeDir(vol)
      if (!PodWorker.sourceOf(vol) || !existsSync(dir)) continue
      try {
        await this.syncVolume(vol, dir)
      } catch (err) {
        log.debug({ pod: this.pod.metadata.name, volume: vol.name, err: (err as Error).message }, 'volume not refreshed')
      }
    }
  }

  private async env(c: Container, sb: SandboxRecord): Promise<Record<string, string>> {
    const ip = sb.ip!
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      // The runtime's HOSTNAME is the kernel hostname it set (the FQDN with setHostnameAsFQDN).
      HOSTNAME: sb.hostname ?? (this.pod.spec.hostname || this.pod.metadata.name!),
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
    }
    const fields: Record<string, string | undefined> = {
      'metadata.name': this.pod.metadata.name,
      'metadata.namespace': this.pod.metadata.namespace,
      'metadata.uid': this.pod.metadata.uid,
      'spec.nodeName': this.deps.nodeName,
      'spec.serviceAccountName': this.pod.spec.serviceAccountName,
      'status.podIP': ip,
      'status.hostIP': this.deps.hostIP,
    }
    const ns = this.pod.metadata.namespace!
    // envFrom first, then env (which wins on the same name), as the kubelet builds them.
    for (const from of c.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef
      if (!ref) continue
      const kind = from.configMapRef ? 'configmap' : 'secret'
      const data = await this.deps.getSource(kind, ns, ref.name)
      if (!data) {
        if (ref.optional) continue
        throw new Error(`${kind} "${ref.name}" not found`)
      }
      const invalid: string[] = []
      for (const [k, v] of Object.entries(data)) {
        const name = (from.prefix ?? '') + k
        if (!ENV_NAME.test(name)) invalid.push(name)
        else env[name] = v.toString('utf8')
      }
      if (invalid.length)
        this.emit('Warning', 'InvalidEnvironmentVariableNames', `Keys [${invalid.sort().join(', ')}] from the EnvFrom ${kind} ${ns}/${ref.name} were skipped since they are considered invalid environment variable names.`)
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = expandVars(e.value, env)
      else if (e.valueFrom?.fieldRef) env[e.name] = fieldRefValue(this.pod, e.valueFrom.fieldRef.fieldPath, fields)
      else if (e.valueFrom?.configMapKeyRef || e.valueFrom?.secretKeyRef) {
        const isCm = !!e.valueFrom.configMapKeyRef
        const ref = (e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef)!
        const data = await this.deps.getSource(isCm ? 'configmap' : 'secret', ns, ref.name)
        if (!data) {
          if (ref.optional) continue
          throw new Error(`${isCm ? 'configmap' : 'secret'} "${ref.name}" not found`)
        }
        const v = data[ref.key]
        if (v === undefined && !ref.optional) throw new Error(`couldn't find key ${ref.key} in ${isCm ? 'ConfigMap' : 'Secret'} ${ns}/${ref.name}`)
        if (v !== undefined) env[e.name] = v.toString('utf8')
      }
    }
    return env
  }

  /** Start the container's next instance; false (with the waiting reason set) if it could not. */
  private async startContainer(slot: Slot, sb: SandboxRecord, restartCount: number): Promise<boolean> {
    const c = slot.spec
    let env: Record<string, string>
    let argv: string[]
    try {
      env = await this.env(c, sb)
    } catch (err) {
      slot.waitingReason = 'CreateContainerConfigError'
      slot.waitingMessage = (err as Error).message
      this.emit('Warning', 'Failed', `Error: ${slot.waitingMessage}`, c.name)
      return false
    }
    try {
      const expand = (xs: string[] | undefined): string[] | undefined => xs?.map((x) => expandVars(x, env))
      argv = resolveArgv(c.image ?? '', expand(c.command), expand(c.args))
    } catch (err) {
      slot.waitingReason = err instanceof ImageNotFoundError ? 'ErrImageNeverPull' : 'CreateContainerError'
      slot.waitingMessage = (err as Error).message
      if (err instanceof ImageNotFoundError) this.emit('Warning', 'ErrImageNeverPull', `Container image "${c.image ?? ''}" is not present with pull policy of Never`, c.name)
      else this.emit('Warning', 'Failed', `Error: ${slot.waitingMessage}`, c.name)
      return false
    }
    this.emit('Normal', 'Pulled', `Container image "${c.image ?? ''}" already present on machine`, c.name)
    const id = `${this.uid}_${c.name}_${restartCount}`
    const logPath = this.logPath(c.name, restartCount)
    mkdirSync(join(logPath, '..'), { recursive: true })
    try {
      const cfg = {
        id,
        podUid: this.uid,
        name: c.name,
        netns: sb.netns,
        argv,
        env,
        logPath,
        binds: await this.volumeBinds(c),
        ...(c.workingDir ? { workingDir: c.workingDir } : {}),
        ...(sb.hostname ? { hostname: sb.hostname } : {}),
        ...(c.stdin ? { stdin: true, ...(c.stdinOnce ? { stdinOnce: true } : {}) } : {}),
        ...(c.tty ? { tty: true } : {}),
      }
      await this.deps.runtime.start(cfg)
      this.emit('Normal', 'Created', `Created container: ${c.name}`, c.name)
      this.emit('Normal', 'Started', `Started container ${c.name}`, c.name)
      slot.current = id
      slot.restartCount = restartCount
      slot.sandbox = sb.createdAt
      slot.waitingReason = undefined
      slot.waitingMessage = undefined
      this.persist(slot)
      // Probes restart from scratch with each container instance.
      if (c.readinessProbe) slot.readiness = new ProbeState(c.readinessProbe, undefined)
      if (c.livenessProbe) slot.liveness = new ProbeState(c.livenessProbe, 'success')
      if (c.startupProbe) slot.startup = new ProbeState(c.startupProbe, undefined)
      log.info({ pod: `${this.pod.metadata.namespace}/${this.pod.metadata.name}`, container: c.name, restartCount }, 'container started')
      return true
    } catch (err) {
      if (err instanceof VolumeError) {
        // As the kubelet: the pod waits in ContainerCreating and says why in a FailedMount event.
        slot.waitingReason = 'ContainerCreating'
        slot.waitingMessage = undefined
        this.emit('Warning', 'FailedMount', err.message)
        return false
      }
      slot.waitingReason = 'CreateContainerConfigError'
      slot.waitingMessage = (err as Error).message
      this.emit('Warning', 'Failed', `Error: ${slot.waitingMessage}`, c.name)
      return false
    }
  }

  /** Whether an exit of this container is followed by a new instance. */
  private restarts(slot: Slot, exitCode: number): boolean {
    return slot.init ? initShouldRestart(this.pod.spec.restartPolicy, exitCode) : shouldRestart(this.pod.spec.restartPolicy, exitCode)
  }

  /** One pass towards the desired state. */
  async sync(): Promise<void> {
    if (this.busy || this.terminated) return
    this.busy = true
    try {
      await this.syncOnce()
    } finally {
      this.busy = false
    }
  }

  private async syncOnce(): Promise<void> {
    const phase = this.pod.status?.phase
    if (phase === 'Succeeded' || phase === 'Failed' || this.initFailed) return
    if (!this.rejected) {
      this.rejected = admitPod(this.pod)
      if (!this.rejected.admit) {
        log.info({ pod: this.pod.metadata.name, reason: this.rejected.reason }, 'pod rejected')
        this.emit('Warning', this.rejected.reason!, this.rejected.message!)
      }
    }
    if (!this.rejected.admit) return
    if (this.sandbox && !this.sandboxDead && !this.deps.sandboxes.present(this.sandbox)) this.sandboxDead = sandboxDeathReason(false, [])
    if (this.sandbox && this.sandboxDead) await this.killSandbox(this.sandboxDead)
    if (!this.sandbox?.ip) {
      try {
        this.sandbox = await this.deps.sandboxes.ensure(this.pod)
        this.sandboxError = undefined
      } catch (err) {
        this.sandboxError = `failed to create pod sandbox: ${(err as Error).message}`
        log.warn({ pod: this.pod.metadata.name, err: this.sandboxError }, 'sandbox failed')
        return
      }
    }
    const sb = this.sandbox
    const now = Date.now()
    await this.refreshVolumes(now)
    if (!(await this.syncInitContainers(sb, now))) return
    for (const c of this.pod.spec.containers) {
      const slot = this.slot(c)
      const st = slot.current ? this.deps.runtime.state(slot.current) : undefined
      if (!st) {
        if (slot.current === undefined) await this.startContainer(slot, sb, slot.restartCount)
        continue
      }
      if (st.running) {
        await this.runProbes(slot, st, sb, now)
        // A container that ran long enough earns a fresh back-off.
        if (slot.backoffMs !== 0 && now - Date.parse(st.startedAt) > BACKOFF_RESET_MS) {
          slot.backoffMs = 0
          this.persist(slot)
        }
        continue
      }
      this.noteExit(slot, st, now)
      if (this.restarts(slot, st.exitCode ?? 0)) await this.restartAfterBackoff(slot, sb, now)
    }
  }

  /**
   * Init containers, one at a time in order, each to success (nextInitAction). True once all
   * have succeeded in this sandbox; a new sandbox runs them all again, as upstream.
   */
  private async syncInitContainers(sb: SandboxRecord, now: number): Promise<boolean> {
    const inits = this.pod.spec.initContainers ?? []
    const progress: InitProgress[] = inits.map((c) => {
      const slot = this.slot(c)
      const st = slot.current && slot.sandbox === sb.createdAt ? this.deps.runtime.state(slot.current) : undefined
      if (!st) return { phase: 'none' }
      if (st.running) return { phase: 'running' }
      this.noteExit(slot, st, now)
      return st.exitCode === 0 ? { phase: 'succeeded' } : { phase: 'failed', exitCode: st.exitCode ?? 1 }
    })
    const next = nextInitAction(progress, this.pod.spec.restartPolicy)
    this.initDone = next.action === 'done'
    switch (next.action) {
      case 'done':
        return true
      case 'wait':
        return false
      case 'fail':
        this.initFailed = true
        log.info({ pod: this.pod.metadata.name, container: inits[next.index]!.name }, 'init container failed; restartPolicy Never fails the pod')
        return false
      case 'start': {
        // First run in this sandbox; after a sandbox change it is one more instance of it.
        const slot = this.slot(inits[next.index]!)
        await this.startContainer(slot, sb, slot.current ? slot.restartCount + 1 : slot.restartCount)
        return false
      }
      case 'restart':
        await this.restartAfterBackoff(this.slot(inits[next.index]!), sb, now)
        return false
    }
  }

  /** Account for an exit once: its terminated state becomes lastState, and a restart waits out the back-off. */
  private noteExit(slot: Slot, st: ContainerRuntimeState, now: number): void {
    if (slot.seenExit === st.id) return
    slot.seenExit = st.id
    slot.lastTerminated = terminatedOf(st, slot)
    if (this.restarts(slot, st.exitCode ?? 0)) {
      // As the kubelet: the first restart is immediate, then 10 s, 20 s, … up to 5 min.
      slot.backoffUntil = now + slot.backoffMs
      slot.backoffMs = nextBackoff(slot.backoffMs, this.deps.backoffInitialMs)
    }
    this.persist(slot)
  }

  /** Start the next instance unless the back-off still runs (then a BackOff event, one per period). */
  private async restartAfterBackoff(slot: Slot, sb: SandboxRecord, now: number): Promise<void> {
    const c = slot.spec
    if (now < slot.backoffUntil) {
      if (slot.backoffEventAt === undefined || now - slot.backoffEventAt >= BACKOFF_EVENT_EVERY_MS) {
        slot.backoffEventAt = now
        const m = this.pod.metadata
        this.emit('Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${m.name}_${m.namespace}(${m.uid})`, c.name)
      }
      return
    }
    // The count moves only when a new instance really starts; a failed start (missing
    // configMap, unknown image) waits a back-off period and shows its own reason.
    if (!(await this.startContainer(slot, sb, slot.restartCount + 1))) {
      slot.backoffUntil = now + Math.max(slot.backoffMs, 1000)
      this.persist(slot)
    }
  }

  /** Run one probe; failures are Unhealthy events and redirects ProbeWarning ones, as the kubelet's prober. */
  private async probe(kind: 'Liveness' | 'Readiness' | 'Startup', p: Probe, c: Container, sb: SandboxRecord): Promise<'success' | 'failure'> {
    const out = await runProbeDetailed(p, c, sb.ip!, sb.netns, sb.hostname)
    if (out.result === 'failure') this.emit('Warning', 'Unhealthy', `${kind} probe failed: ${out.output}`, c.name)
    else if (out.warning) this.emit('Warning', 'ProbeWarning', `${kind} probe warning: ${out.warning}`, c.name)
    return out.result
  }

  /**
   * Upstream's "Pod sandbox changed, it will be killed and re-created": stop what still runs
   * of the pod, CNI DEL (veth, IP released), delete the namespace; the next steps of this sync
   * make a new sandbox and start the containers again, each with its restartCount + 1.
   */
  private async killSandbox(reason: string): Promise<void> {
    log.info({ pod: `${this.pod.metadata.namespace}/${this.pod.metadata.name}`, netns: this.sandbox?.netns, ip: this.sandbox?.ip, reason }, 'Pod sandbox changed, it will be killed and re-created')
    this.emit('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.')
    const running = this.deps.runtime.list().filter((s) => s.podUid === this.uid && s.running)
    await Promise.all(running.map((s) => this.deps.runtime.stop(s.id, 2000)))
    await this.deps.sandboxes.teardown(this.uid)
    this.sandbox = undefined
    this.sandboxDead = undefined
  }

  private async runProbes(slot: Slot, st: ContainerRuntimeState, sb: SandboxRecord, now: number): Promise<void> {
    const started = Date.parse(st.startedAt)
    const c = slot.spec
    if (slot.startup && slot.startup.result !== 'success') {
      if (slot.startup.due(now, started)) {
        slot.startup.lastRun = now
        slot.startup.record(await this.probe('Startup', c.startupProbe!, c, sb))
        if (slot.startup.result === 'failure') await this.killForRestart(slot, 'startup')
      }
      return
    }
    if (slot.liveness?.due(now, started)) {
      slot.liveness.lastRun = now
      slot.liveness.record(await this.probe('Liveness', c.livenessProbe!, c, sb))
      if (slot.liveness.result === 'failure') {
        await this.killForRestart(slot, 'liveness')
        return
      }
    }
    if (slot.readiness?.due(now, started)) {
      slot.readiness.lastRun = now
      slot.readiness.record(await this.probe('Readiness', c.readinessProbe!, c, sb))
    }
  }

  private async killForRestart(slot: Slot, probe: 'liveness' | 'startup'): Promise<void> {
    // Upstream's wording (its Killing event); the status is where netkube keeps it.
    const message = `Container ${slot.spec.name} failed ${probe} probe, will be restarted`
    slot.killed = { id: slot.current!, message }
    this.persist(slot)
    this.emit('Normal', 'Killing', message, slot.spec.name)
    log.info({ pod: this.pod.metadata.name, container: slot.spec.name, message }, 'killing container')
    const grace = (slot.spec.livenessProbe?.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000
    await this.deps.runtime.stop(slot.current!, grace)
  }

  /** Stop every container (SIGTERM, grace, SIGKILL) and tear the sandbox down. */
  async terminate(graceMs: number): Promise<void> {
    this.terminated = true
    while (this.busy) await new Promise((r) => setTimeout(r, 20))
    const ids = this.deps.runtime.list().filter((s) => s.podUid === this.uid)
    for (const s of ids) if (s.running && this.pod.spec.containers.some((c) => c.name === s.name)) this.emit('Normal', 'Killing', `Stopping container ${s.name}`, s.name)
    await Promise.all(ids.map((s) => this.deps.runtime.stop(s.id, graceMs)))
    await this.deps.sandboxes.teardown(this.uid)
    for (const s of ids) this.deps.runtime.remove(s.id)
    rmSync(this.podDir(), { recursive: true, force: true })
  }

  /** One container's status as upstream's convertToAPIContainerStatuses shows it. */
  private containerView(c: Container): ContainerView {
    const slot = this.slot(c)
    // An init container that has not run in the current sandbox is waiting to (again).
    const stale = slot.init && slot.sandbox !== undefined && slot.sandbox !== this.sandbox?.createdAt
    const st = slot.current && !stale ? this.deps.runtime.state(slot.current) : undefined
    const status: ContainerStatus = {
      name: c.name,
      ready: false,
      restartCount: slot.restartCount,
      image: c.image ?? '',
      imageID: `netkube://${c.image ?? ''}`,
      started: false,
      state: {},
    }
    if (st) status.containerID = `process://${st.id}`
    let finished = false
    if (st?.running) {
      status.state = { running: { startedAt: st.startedAt } }
      const startupOk = !slot.startup || slot.startup.result === 'success'
      status.started = startupOk
      status.ready = !slot.init && startupOk && (!slot.readiness || slot.readiness.result === 'success')
    } else if (st && !this.restarts(slot, st.exitCode ?? 0)) {
      status.state = { terminated: terminatedOf(st, slot) }
      // A finished init container counts as ready (upstream reports it so).
      status.ready = slot.init && st.exitCode === 0
      finished = true
    } else if (st && slot.waitingReason) {
      status.state = { waiting: { reason: slot.waitingReason, ...(slot.waitingMessage ? { message: slot.waitingMessage } : {}) } }
    } else if (st) {
      status.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(slot.backoffMs / 1000)}s restarting failed container=${c.name} pod=${this.pod.metadata.name}` } }
    } else {
      // App containers wait for the init containers (PodInitializing), as do init containers not yet run.
      const initializing = slot.init || ((this.pod.spec.initContainers?.length ?? 0) > 0 && !this.initDone)
      const reason = slot.waitingReason ?? (initializing ? 'PodInitializing' : 'ContainerCreating')
      status.state = { waiting: { reason, ...(slot.waitingMessage || this.sandboxError ? { message: slot.waitingMessage ?? this.sandboxError } : {}) } }
    }
    if (slot.lastTerminated && !status.state?.terminated) status.lastState = { terminated: slot.lastTerminated }
    return { status, finished }
  }

  view(): PodView {
    const v: PodView = {
      pod: this.pod,
      hostIP: this.deps.hostIP,
      sandboxReady: !!this.sandbox?.ip,
      containers: this.pod.spec.containers.map((c) => this.containerView(c)),
      startTime: this.pod.status?.startTime ?? this.startTime,
    }
    if (this.pod.spec.initContainers?.length) v.initContainers = this.pod.spec.initContainers.map((c) => this.containerView(c))
    if (this.rejected && !this.rejected.admit) v.rejected = { reason: this.rejected.reason!, message: this.rejected.message! }
    if (this.sandbox?.ip) v.podIP = this.sandbox.ip
    if (this.sandboxError) v.message = this.sandboxError
    return v
  }
}

/** A downward-API fieldPath: the fixed fields, or `metadata.labels['k']` / `metadata.annotations['k']`. */
function fieldRefValue(pod: Pod, path: string, fields: Record<string, string | undefined>): string {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path)
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? ''
  return fields[path] ?? ''
}

function terminatedOf(st: ContainerRuntimeState, slot: Pick<Slot, 'killed'>): ContainerStateTerminated {
  return terminatedState(st, slot.killed?.id === st.id ? slot.killed.message : undefined)
}
