// `netkube cni install`: put the plugin executable `netkube` into a CNI bin dir and a
// `.conflist` into a CNI conf dir, for any runtime (podman, containerd, CRI-O, our kubelet).
// The executable is a two-line launcher of dist/cni/thin.js (fast path to the node agent's
// socket, else the full plugin in-process).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
  const thin = fileURLToPath(new URL('./thin.js', import.meta.url))
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

export function install(o: InstallOptions): { plugin: string; conf: string } {
  mkdirSync(o.binDir, { recursive: true })
  mkdirSync(o.confDir, { recursive: true })
  const plugin = join(o.binDir, 'netkube')
  writeFileSync(plugin, launcherText())
  chmodSync(plugin, 0o755)
  const conf = join(o.confDir, o.confFile ?? `10-${o.name ?? 'netkube'}.conflist`)
  writeFileSync(conf, JSON.stringify(conflist(o), null, 2) + '\n')
  return { plugin, conf }
}
