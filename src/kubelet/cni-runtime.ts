// The runtime side of CNI, as libcni does it: pick the network config from the conf dir,
// exec each plugin of the list in order for ADD (feeding prevResult forward) and in reverse
// for DEL, cache the ADD result so DEL/CHECK can pass it back, and surface the plugin's error
// JSON. Used by the kubelet for every pod sandbox.
import { readdirSync, readFileSync, mkdirSync, writeFileSync, rmSync, existsSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { netnsHandle } from '../net/door.js'

export interface CniNetworkList {
  cniVersion: string
  name: string
  disableCheck?: boolean
  plugins: Array<Record<string, unknown> & { type: string }>
}

export interface CniAttachment {
  containerId: string
  netnsPath: string
  ifName: string
  /** K8S_POD_NAMESPACE etc. */
  args: Record<string, string>
}

export interface CniResult {
  cniVersion: string
  interfaces?: { name: string; mac?: string; sandbox?: string }[]
  ips?: { address: string; gateway?: string; interface?: number }[]
  routes?: { dst: string; gw?: string }[]
  dns?: Record<string, unknown>
}

export class CniInvocationError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(`CNI ${command} ${plugin}: ${msg}${details ? ` (${details})` : ''}${code ? ` [code ${code}]` : ''}`)
  }
}

export interface CniRuntimeOptions {
  binDirs: string[]
  confDir: string
  /** Where ADD results are cached for DEL and CHECK. */
  cacheDir: string
  timeoutMs?: number
  /** Exec plugins inside this network namespace (default: the kubelet's own). */
  netns?: string
}

/** The network list in effect: the lexically first .conflist (or .conf wrapped in a list). */
export function loadNetworkList(confDir: string): CniNetworkList {
  let files: string[]
  try {
    files = readdirSync(confDir).filter((f) => /\.(conflist|conf|json)$/.test(f)).sort()
  } catch {
    throw new Error(`no CNI configuration directory ${confDir}`)
  }
  if (files.length === 0) throw new Error(`no CNI network configuration in ${confDir}`)
  const file = join(confDir, files[0]!)
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  if (Array.isArray(parsed.plugins)) return parsed as unknown as CniNetworkList
  const { cniVersion, name, ...plugin } = parsed
  return { cniVersion: String(cniVersion), name: String(name), plugins: [plugin as CniNetworkList['plugins'][number]] }
}

export class CniRuntime {
  constructor(private readonly opts: CniRuntimeOptions) {
    mkdirSync(opts.cacheDir, { recursive: true })
  }

  private cachePath(a: CniAttachment): string {
    return join(this.opts.cacheDir, `${a.containerId}-${a.ifName}.json`)
  }

  private findPlugin(type: string): string {
    for (const dir of this.opts.binDirs) {
      const p = join(dir, type)
      if (existsSync(p)) return p
    }
    throw new CniInvocationError(type, 'find', 0, `failed to find plugin "${type}" in path [${this.opts.binDirs.join(' ')}]`)
  }

  /** One plugin, one command; `a` undefined for the network-wide commands (GC). */
  private async exec(command: string, list: CniNetworkList, plugin: CniNetworkList['plugins'][number], a: CniAttachment | undefined, prevResult?: CniResult, extra: Record<string, unknown> = {}): Promise<CniResult | undefined> {
    const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...extra }
    if (prevResult) conf.prevResult = prevResult
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_PATH: this.opts.binDirs.join(':'),
      ...(a
        ? {
            CNI_CONTAINERID: a.containerId,
            CNI_NETNS: a.netnsPath,
            CNI_IFNAME: a.ifName,
            CNI_ARGS: ['IgnoreUnknown=1', ...Object.entries(a.args).map(([k, v]) => `${k}=${v}`)].join(';'),
          }
        : {}),
    }
    const runOpts = { input: JSON.stringify(conf), env, allowFailure: true, timeoutMs: this.opts.timeoutMs ?? 30000 }
    const bin = this.findPlugin(plugin.type)
    const res = await netnsHandle(this.opts.netns).run(bin, [], runOpts)
    if (res.code !== 0) {
      let code = res.code
      let msg = res.stderr.trim() || `exit ${res.code}`
      let details: string | undefined
      try {
        const e = JSON.parse(res.stdout) as { code?: number; msg?: string; details?: string }
        code = e.code ?? code
        msg = e.msg ?? msg
        details = e.details
      } catch {
        /* not JSON: keep stderr */
      }
      throw new CniInvocationError(plugin.type, command, code, msg, details)
    }
    if (command !== 'ADD') return undefined
    try {
      return JSON.parse(res.stdout) as CniResult
    } catch {
      throw new CniInvocationError(plugin.type, command, 0, `plugin printed no JSON result: ${res.stdout.slice(0, 200)}`)
    }
  }

  /** ADD every plugin in order; on failure DEL what was added (the spec's rollback). */
  async add(a: CniAttachment): Promise<CniResult> {
    const list = loadNetworkList(this.opts.confDir)
    let result: CniResult | undefined
    try {
      for (const plugin of list.plugins) result = await this.exec('ADD', list, plugin, a, result)
    } catch (err) {
      await this.del(a, list).catch(() => {})
      throw err
    }
    if (!result) throw new Error(`CNI network ${list.name} has no plugins`)
    const path = this.cachePath(a)
    writeFileSync(`${path}.tmp`, JSON.stringify({ list, result }))
    renameSync(`${path}.tmp`, path)
    return result
  }

  /** DEL in reverse order with the cached result; idempotent (the plugins must accept repeats). */
  async del(a: CniAttachment, listOverride?: CniNetworkList): Promise<void> {
    const path = this.cachePath(a)
    let cached: { list: CniNetworkList; result: CniResult } | undefined
    try {
      cached = JSON.parse(readFileSync(path, 'utf8')) as { list: CniNetworkList; result: CniResult }
    } catch {
      cached = undefined
    }
    // DEL with the config that ADD used, so a changed conflist still tears down the old network.
    const list = listOverride ?? cached?.list ?? loadNetworkList(this.opts.confDir)
    for (const plugin of [...list.plugins].reverse()) await this.exec('DEL', list, plugin, a, cached?.result)
    rmSync(path, { force: true })
  }

  async check(a: CniAttachment): Promise<void> {
    const cached = JSON.parse(readFileSync(this.cachePath(a), 'utf8')) as { list: CniNetworkList; result: CniResult }
    if (cached.list.disableCheck) return
    for (const plugin of cached.list.plugins) await this.exec('CHECK', cached.list, plugin, a, cached.result)
  }

  /**
   * GC (CNI 1.1, libcni's GCNetworkList): each plugin releases what it holds for attachments
   * not in `valid` — IPs, veths, masquerade entries left by a crash between ADD and the
   * runtime's own record. A network list older than 1.1.0 has no GC: nothing to do.
   */
  async gc(valid: { containerId: string; ifName: string }[]): Promise<boolean> {
    const list = loadNetworkList(this.opts.confDir)
    const [major = 0, minor = 0] = list.cniVersion.split('.').map(Number)
    if (major < 1 || (major === 1 && minor < 1)) return false
    const attachments = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifName }))
    for (const plugin of list.plugins) await this.exec('GC', list, plugin, undefined, undefined, { 'cni.dev/valid-attachments': attachments })
    return true
  }

  /** Container IDs with a cached attachment (used to clean up after a crash). */
  cachedAttachments(): { containerId: string; ifName: string }[] {
    return readdirSync(this.opts.cacheDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        const base = f.slice(0, -5)
        const i = base.lastIndexOf('-')
        return { containerId: base.slice(0, i), ifName: base.slice(i + 1) }
      })
  }
}
