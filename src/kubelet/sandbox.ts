// Pod sandboxes: one network namespace per pod, shared by its containers, wired by the CNI
// plugin, with the pod's resolv.conf and hosts placed where `ip netns exec` mounts them, and
// the hostname its containers get (each container starts in a UTS namespace of that name).
import { mkdirSync, writeFileSync, readFileSync, rmSync, readdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import type { Pod } from '../api/types.js'
import { createNetns, deleteNetns, netnsExists, netnsPath } from '../net/netns.js'
import { parseCidr } from '../net/ip.js'
import { CniRuntime, type CniAttachment } from './cni-runtime.js'
import type { ContainerRuntimeState } from './runtime.js'
import { podNames } from './hostname.js'
import { logger } from '../util/log.js'

const log = logger('sandbox')

export interface SandboxRecord {
  uid: string
  namespace: string
  name: string
  netns: string
  ip?: string
  /** What `hostname` prints in its containers (spec.hostname or the pod name; the FQDN with setHostnameAsFQDN). */
  hostname?: string
  createdAt: string
}

export interface DnsSettings {
  clusterDNS: string[]
  clusterDomain: string
  /** The node's own resolv.conf, for dnsPolicy Default. */
  hostResolvConf: string
}

/** resolv.conf for a pod per its dnsPolicy and dnsConfig, as the kubelet writes it. */
export function podResolvConf(pod: Pod, dns: DnsSettings): string {
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst'
  let nameservers: string[] = []
  let searches: string[] = []
  let options: string[] = []
  const host = (() => {
    try {
      return readFileSync(dns.hostResolvConf, 'utf8')
    } catch {
      return ''
    }
  })()
  const hostLines = host.split('\n').map((l) => l.trim().split(/\s+/))
  if (policy === 'Default' || (policy === 'ClusterFirst' && dns.clusterDNS.length === 0)) {
    nameservers = hostLines.filter((l) => l[0] === 'nameserver').map((l) => l[1]!)
    searches = hostLines.filter((l) => l[0] === 'search').flatMap((l) => l.slice(1))
    options = hostLines.filter((l) => l[0] === 'options').flatMap((l) => l.slice(1))
  } else if (policy === 'ClusterFirst' || policy === 'ClusterFirstWithHostNet') {
    const ns = pod.metadata.namespace ?? 'default'
    const d = dns.clusterDomain
    nameservers = [...dns.clusterDNS]
    searches = [`${ns}.svc.${d}`, `svc.${d}`, d, ...hostLines.filter((l) => l[0] === 'search').flatMap((l) => l.slice(1))]
    options = ['ndots:5']
  }
  const cfg = pod.spec.dnsConfig
  if (cfg) {
    nameservers = [...nameservers, ...(cfg.nameservers ?? [])]
    searches = [...searches, ...(cfg.searches ?? [])]
    for (const o of cfg.options ?? []) {
      options = options.filter((x) => x.split(':')[0] !== o.name)
      options.push(o.value !== undefined ? `${o.name}:${o.value}` : o.name)
    }
  }
  // glibc honours at most 3 nameservers and 6 search domains.
  const lines = [
    ...(searches.length ? [`search ${[...new Set(searches)].slice(0, 6).join(' ')}`] : []),
    ...nameservers.slice(0, 3).map((n) => `nameserver ${n}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ]
  return lines.join('\n') + '\n'
}

/** The kubelet-managed /etc/hosts: localhost, upstream's IPv6 lines, and the pod's own name (FQDN first with a subdomain). */
export function podHosts(pod: Pod, ip: string | undefined, clusterDomain: string): string {
  const { hostname, domain } = podNames(pod, clusterDomain)
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ]
  if (ip) lines.push(domain ? `${ip}\t${hostname}.${domain}\t${hostname}` : `${ip}\t${hostname}`)
  return lines.join('\n') + '\n'
}

/**
 * Pure: why a recorded sandbox is dead (and must be torn down and made anew, as upstream's
 * kubelet does when a pod's sandbox is not ready: "Pod sandbox changed, it will be killed and
 * re-created"), or undefined while it lives. netkube has no pause process holding a sandbox,
 * so a sandbox is dead when its namespace is gone (a reboot) or when every process of the pod
 * died while no kubelet watched (a power loss: processes gone, kernel state left behind).
 * A pod whose containers all exited under a watching kubelet keeps its sandbox.
 */
export function sandboxDeathReason(netnsPresent: boolean, containers: Pick<ContainerRuntimeState, 'running' | 'lost'>[]): string | undefined {
  if (!netnsPresent) return 'its network namespace is gone'
  if (containers.length > 0 && containers.every((c) => !c.running) && containers.some((c) => c.lost)) {
    return 'all its processes died while no kubelet watched'
  }
  return undefined
}

export interface SandboxManagerOptions {
  stateDir: string
  netnsPrefix: string
  cni: CniRuntime
  dns: DnsSettings
  /** Where `ip netns exec` looks for per-namespace /etc files. */
  etcNetnsDir?: string
}

export class SandboxManager {
  private readonly recordDir: string
  private readonly etcNetnsDir: string
  private adding = 0
  private gcRunning: Promise<void> | undefined

  constructor(private readonly opts: SandboxManagerOptions) {
    this.recordDir = join(opts.stateDir, 'sandboxes')
    this.etcNetnsDir = opts.etcNetnsDir ?? '/etc/netns'
    mkdirSync(this.recordDir, { recursive: true })
  }

  netnsName(uid: string): string {
    return `${this.opts.netnsPrefix}${uid.replace(/-/g, '').slice(0, 12)}`
  }

  private attachment(rec: Pick<SandboxRecord, 'uid' | 'namespace' | 'name' | 'netns'>): CniAttachment {
    return {
      containerId: rec.uid,
      netnsPath: netnsPath(rec.netns),
      ifName: 'eth0',
      args: { K8S_POD_NAMESPACE: rec.namespace, K8S_POD_NAME: rec.name, K8S_POD_INFRA_CONTAINER_ID: rec.uid, K8S_POD_UID: rec.uid },
    }
  }

  /** The sandbox's namespace is there (false after a reboot, or a hand-deleted one). */
  present(rec: Pick<SandboxRecord, 'netns'>): boolean {
    return netnsExists(rec.netns)
  }

  records(): SandboxRecord[] {
    return readdirSync(this.recordDir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        try {
          return [JSON.parse(readFileSync(join(this.recordDir, f), 'utf8')) as SandboxRecord]
        } catch {
          return []
        }
      })
  }

  get(uid: string): SandboxRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.recordDir, `${uid}.json`), 'utf8')) as SandboxRecord
    } catch {
      return undefined
    }
  }

  private save(rec: SandboxRecord): void {
    const p = join(this.recordDir, `${rec.uid}.json`)
    writeFileSync(`${p}.tmp`, JSON.stringify(rec))
    renameSync(`${p}.tmp`, p)
  }

  /** ensureSandbox: namespace, CNI ADD, DNS files. Idempotent; a failed step undoes itself. */
  async ensure(pod: Pod): Promise<SandboxRecord> {
    while (this.gcRunning) await this.gcRunning
    this.adding++
    try {
      return await this.ensureOnce(pod)
    } finally {
      this.adding--
    }
  }

  /**
   * CNI GC with every recorded sandbox as valid: releases IPs (and veths) an ADD took for a
   * sandbox that no record names — a crash between ADD and the record, or a DEL that failed.
   * Exclusive with ensure(): records are written before ADD, so none in flight is missed.
   */
  async gc(): Promise<{ ran: boolean; valid: number }> {
    while (this.gcRunning) await this.gcRunning
    let done = (): void => {}
    this.gcRunning = new Promise<void>((r) => (done = r))
    try {
      while (this.adding > 0) await new Promise((r) => setTimeout(r, 20))
      const valid = this.records().map((r) => ({ containerId: r.uid, ifName: 'eth0' }))
      return { ran: await this.opts.cni.gc(valid), valid: valid.length }
    } finally {
      this.gcRunning = undefined
      done()
    }
  }

  /** /etc/netns/<prefix>… directories of namespaces no record names (left by a crash). */
  removeStrayEtc(): string[] {
    const known = new Set(this.records().map((r) => r.netns))
    let dirs: string[]
    try {
      dirs = readdirSync(this.etcNetnsDir)
    } catch {
      return []
    }
    const stray = dirs.filter((d) => d.startsWith(this.opts.netnsPrefix) && !known.has(d))
    for (const d of stray) rmSync(join(this.etcNetnsDir, d), { recursive: true, force: true })
    return stray
  }

  private async ensureOnce(pod: Pod): Promise<SandboxRecord> {
    const uid = pod.metadata.uid!
    const existing = this.get(uid)
    if (existing?.ip && netnsExists(existing.netns)) return existing
    const rec: SandboxRecord = {
      uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name!,
      netns: this.netnsName(uid),
      createdAt: new Date().toISOString(),
    }
    // A hostname the kernel cannot hold fails the sandbox before anything is made.
    rec.hostname = podNames(pod, this.opts.dns.clusterDomain).kernelHostname
    // Record first, so a crash between here and CNI ADD is still cleaned up later.
    this.save(rec)
    try {
      if (!netnsExists(rec.netns)) await createNetns(rec.netns)
      const result = await this.opts.cni.add(this.attachment(rec))
      const address = result.ips?.[0]?.address
      if (!address) throw new Error('CNI ADD returned no IP')
      const ip = parseCidr(address).ip
      rec.ip = ip
      const etcDir = join(this.etcNetnsDir, rec.netns)
      mkdirSync(etcDir, { recursive: true })
      writeFileSync(join(etcDir, 'resolv.conf'), podResolvConf(pod, this.opts.dns))
      writeFileSync(join(etcDir, 'hosts'), podHosts(pod, ip, this.opts.dns.clusterDomain))
      this.save(rec)
      log.info({ pod: `${rec.namespace}/${rec.name}`, netns: rec.netns, ip }, 'sandbox ready')
      return rec
    } catch (err) {
      await this.teardown(uid).catch(() => {})
      throw err
    }
  }

  /** CNI DEL, delete the namespace and the DNS files. Idempotent. */
  async teardown(uid: string): Promise<void> {
    const rec = this.get(uid) ?? { uid, namespace: '', name: '', netns: this.netnsName(uid), createdAt: '' }
    try {
      await this.opts.cni.del(this.attachment(rec))
    } catch (err) {
      log.warn({ uid, err: (err as Error).message }, 'CNI DEL failed; removing the namespace anyway')
    }
    await deleteNetns(rec.netns)
    rmSync(join(this.etcNetnsDir, rec.netns), { recursive: true, force: true })
    rmSync(join(this.recordDir, `${uid}.json`), { force: true })
  }
}
