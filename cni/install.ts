// `netkube cni install`: put the plugin executable `netkube` into a CNI bin dir and a
// `.conflist` into a CNI conf dir, for any runtime (podman, containerd, CRI-O, our kubelet).
// The executable is the C shim (cni/native/shim.c) or, without it, a two-line Node launcher
// of dist/cni/thin.js; both forward to the node agent's socket, else run the full plugin.
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface InstallOptions {
  binDir: string
  confDir: string
  /** network name (also the IPAM data subdirectory) */
  name?: string
  confFile?: string
  bridge?: string
  /** fixed subnet; omit for node-aware mode (subnet.env) */
  subnet?: string
  rangeStart?: string
  rangeEnd?: string
  gateway?: string
  routes?: { dst: string; gw?: string }[]
  subnetFile?: string
  dataDir?: string
  mtu?: number
  ipMasq?: boolean
  isGateway?: boolean
  isDefaultGateway?: boolean
  hairpinMode?: boolean
  promiscMode?: boolean
  agentSocket?: string
  cniVersion?: string
}

export function launcherText(): string {
  // Always the compiled entry: from dist/cni/install.js it is the sibling; from the sources
  // (tests run .ts directly) it is <root>/dist/cni/thin.js.
  const here = dirname(fileURLToPath(import.meta.url))
  const thin = /[/]dist[/]cni$/.test(here) ? join(here, 'thin.js') : join(here, '..', 'dist', 'cni', 'thin.js')
  return `#!/usr/bin/env node\n// netkube CNI plugin (written by \`netkube cni install\`)\nimport(${JSON.stringify(thin)})\n`
}

export function conflist(o: InstallOptions): Record<string, unknown> {
  const plugin: Record<string, unknown> = { type: 'netkube', bridge: o.bridge ?? 'cni0' }
  const flags: [keyof InstallOptions, string][] = [
    ['isGateway', 'isGateway'],
    ['isDefaultGateway', 'isDefaultGateway'],
    ['ipMasq', 'ipMasq'],
    ['hairpinMode', 'hairpinMode'],
    ['promiscMode', 'promiscMode'],
    ['mtu', 'mtu'],
    ['subnetFile', 'subnetFile'],
    ['agentSocket', 'agentSocket'],
  ]
  for (const [k, name] of flags) if (o[k] !== undefined) plugin[name] = o[k]
  const ipam: Record<string, unknown> = { type: 'host-local' }
  if (o.subnet) {
    const r: Record<string, string> = { subnet: o.subnet }
    if (o.rangeStart) r.rangeStart = o.rangeStart
    if (o.rangeEnd) r.rangeEnd = o.rangeEnd
    if (o.gateway) r.gateway = o.gateway
    ipam.ranges = [[r]]
  }
  if (o.routes) ipam.routes = o.routes
  if (o.dataDir) ipam.dataDir = o.dataDir
  plugin.ipam = ipam
  return { cniVersion: o.cniVersion ?? '1.1.0', name: o.name ?? 'netkube', plugins: [plugin] }
}

/** The compiled C shim (scripts/setup.sh builds it), if present. */
export function shimPath(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  const root = /[/]dist[/]cni$/.test(here) ? join(here, '..', '..') : join(here, '..')
  const p = join(root, 'cni', 'native', 'build', 'netkube-shim')
  return existsSync(p) ? p : undefined
}

/**
 * `netkube` in the bin dir is the C shim when built (a runtime's exec costs ~1 ms, not a Node
 * start), with `netkube.js` (the Node launcher) next to it as its fallback; without the shim,
 * `netkube` is the Node launcher itself. `shim: false` forces the Node launcher.
 */
export function install(o: InstallOptions & { shim?: boolean }): { plugin: string; conf: string; shim: boolean } {
  mkdirSync(o.binDir, { recursive: true })
  mkdirSync(o.confDir, { recursive: true })
  const plugin = join(o.binDir, 'netkube')
  const shim = o.shim === false ? undefined : shimPath()
  const js = shim ? join(o.binDir, 'netkube.js') : plugin
  writeFileSync(js, launcherText())
  chmodSync(js, 0o755)
  if (shim) {
    // write to a temp name and rename: a runtime may be exec'ing the old binary right now
    const tmp = `${plugin}.tmp-${process.pid}`
    copyFileSync(shim, tmp)
    chmodSync(tmp, 0o755)
    renameSync(tmp, plugin)
  }
  const conf = join(o.confDir, o.confFile ?? `10-${o.name ?? 'netkube'}.conflist`)
  writeFileSync(conf, JSON.stringify(conflist(o), null, 2) + '\n')
  return { plugin, conf, shim: Boolean(shim) }
}
