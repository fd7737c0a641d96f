// Resource usage, as the kubelet's /stats/summary reports it (cAdvisor's job upstream). The
// process runtime gives containers no cgroup of their own, so a container's usage is read from
// /proc: the CPU time (utime+stime, plus what its reaped children used) and resident memory of its
// process tree (the container's PID and every live descendant). The node's usage is the
// machine's: /proc/stat (all CPUs but idle and iowait) and MemTotal − MemAvailable — lab nodes
// share one kernel, so they all show the same node numbers. CPU rates (usageNanoCores) are the
// difference between the last two samples, taken every `periodMs`, as cAdvisor's are.
import { readFileSync } from 'node:fs'
import { procCpuTicks, processTree } from '../util/proc.js'

const TICKS_PER_SECOND = 100
const PAGE = 4096

export interface CpuStats {
  time: string
  usageNanoCores?: number
  usageCoreNanoSeconds: number
}
export interface MemoryStats {
  time: string
  workingSetBytes: number
  rssBytes: number
  availableBytes?: number
}

export interface Sample {
  atMs: number
  cpuNs: number
  memBytes: number
}

/** cAdvisor's pair of samples → the stats shape (rate from the two; undefined with one). */
// CPU ns per wall ms × 1000 = ns per wall s = nanocores.
export function toStats(prev: Sample | undefined, cur: Sample): { cpu: CpuStats; memory: MemoryStats } {
  const time = new Date(cur.atMs).toISOString().replace(/\.\d+Z$/, 'Z')
  const cpu: CpuStats = { time, usageCoreNanoSeconds: cur.cpuNs }
  if (prev && cur.atMs > prev.atMs) cpu.usageNanoCores = Math.max(0, Math.round(((cur.cpuNs - prev.cpuNs) / (cur.atMs - prev.atMs)) * 1e3))
  return { cpu, memory: { time, workingSetBytes: cur.memBytes, rssBytes: cur.memBytes } }
}

/** CPU nanoseconds and resident bytes of a process and everything below it. */
export function treeUsage(pid: number): { cpuNs: number; memBytes: number } {
  let ticks = 0
  let pages = 0
  for (const p of processTree(pid)) {
    ticks += procCpuTicks(p)
    try {
      pages += Number(readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1] ?? 0)
    } catch {
      // exited meanwhile
    }
  }
  return { cpuNs: (ticks * 1e9) / TICKS_PER_SECOND, memBytes: pages * PAGE }
}

/** The machine's busy CPU time and memory in use (`/proc/stat`, `/proc/meminfo`). */
export function nodeUsage(): { cpuNs: number; memBytes: number; availableBytes: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0)
  const mem = readFileSync('/proc/meminfo', 'utf8')
  const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(mem)?.[1] ?? 0) * 1024
  const total = kib('MemTotal')
  const available = kib('MemAvailable')
  return { cpuNs: (busy * 1e9) / TICKS_PER_SECOND, memBytes: total - available, availableBytes: available }
}

export interface RunningContainer {
  /** Runtime id of the instance. */
  id: string
  pid: number
  podUid: string
  name: string
  startedAt: string
}

export interface PodRef {
  name: string
  namespace: string
  uid: string
}

export interface Summary {
  node: { nodeName: string; cpu: CpuStats; memory: MemoryStats }
  pods: { podRef: PodRef; cpu: CpuStats; memory: MemoryStats; containers: { name: string; startTime: string; cpu: CpuStats; memory: MemoryStats }[] }[]
}

/** Keeps the last two samples of the node and of each running container instance. */
export class StatsSampler {
  private node: [Sample | undefined, Sample | undefined] = [undefined, undefined]
  private readonly containers = new Map<string, [Sample | undefined, Sample]>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly nodeName: string,
    private readonly running: () => RunningContainer[],
    private readonly podOf: (uid: string) => PodRef | undefined,
    private readonly periodMs = 5000,
  ) {}

  sample(now = Date.now()): void {
    const n = nodeUsage()
    this.node = [this.node[1], { atMs: now, cpuNs: n.cpuNs, memBytes: n.memBytes }]
    const seen = new Set<string>()
    for (const c of this.running()) {
      seen.add(c.id)
      const u = treeUsage(c.pid)
      const prev = this.containers.get(c.id)?.[1]
      this.containers.set(c.id, [prev, { atMs: now, ...u }])
    }
    for (const id of this.containers.keys()) if (!seen.has(id)) this.containers.delete(id)
  }

  start(): void {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.periodMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** The summary as the kubelet serves it on /stats/summary (the fields metrics-server reads). */
  summary(): Summary {
    const cur = this.node[1] ?? { atMs: Date.now(), ...nodeUsage() }
    const node = { nodeName: this.nodeName, ...toStats(this.node[0], cur) }
    const byPod = new Map<string, Summary['pods'][number]>()
    for (const c of this.running()) {
      const samples = this.containers.get(c.id)
      const ref = this.podOf(c.podUid)
      if (!samples || !ref) continue
      let pod = byPod.get(c.podUid)
      if (!pod) {
        pod = { podRef: ref, cpu: { time: '', usageCoreNanoSeconds: 0, usageNanoCores: 0 }, memory: { time: '', workingSetBytes: 0, rssBytes: 0 }, containers: [] }
        byPod.set(c.podUid, pod)
      }
      const s = toStats(samples[0], samples[1])
      pod.containers.push({ name: c.name, startTime: c.startedAt, ...s })
      pod.cpu.time = s.cpu.time
      pod.cpu.usageCoreNanoSeconds += s.cpu.usageCoreNanoSeconds
      pod.cpu.usageNanoCores = (pod.cpu.usageNanoCores ?? 0) + (s.cpu.usageNanoCores ?? 0)
      pod.memory.time = s.memory.time
      pod.memory.workingSetBytes += s.memory.workingSetBytes
      pod.memory.rssBytes += s.memory.rssBytes
    }
    return { node, pods: [...byPod.values()] }
  }
}
