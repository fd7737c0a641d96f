// Running the installed plugin the way a runtime does: exec `netkube` with the CNI env and
// the config on stdin, inside the node namespace (so the bridge lands there).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { install } from '../../cni/install.js'
import { run } from '../../src/util/exec.js'

/** The network config both plugin tests start from (bridge `cni0`, host-local on 10.77.0.0/24). */
export function testNetconf(dataDir: string, extra: Record<string, unknown> = {}, ipamExtra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: 'testnet',
    type: 'netkube',
    bridge: 'cni0',
    isDefaultGateway: true,
    mtu: 1400,
    hairpinMode: true,
    ipam: { type: 'host-local', subnet: '10.77.0.0/24', dataDir, ...ipamExtra },
    ...extra,
  }
}

export interface Plugin {
  dir: string
  bin: string
  dataDir: string
}

export function installPlugin(t: Test): Plugin {
  const dir = mkdtempSync(join(tmpdir(), 'nkcni-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = install({ binDir: join(dir, 'bin'), confDir: join(dir, 'conf') })
  return { dir, bin: r.plugin, dataDir: join(dir, 'data') }
}

export interface CniCall {
  cid?: string
  netns?: string
  ifname?: string
  env?: Record<string, string>
}

export interface CniOut {
  exit: number
  stdout: string
  /** the plugin's logs / a crash trace, for failure messages */
  stderr: string
  json: Record<string, unknown> | undefined
}

export async function execCni(p: Plugin, node: string, command: string, conf: object | string, c: CniCall = {}): Promise<CniOut> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CNI_COMMAND: command,
    CNI_PATH: join(p.dir, 'bin'),
    NETKUBE_CNI_SOCKET: 'none',
    ...(c.cid ? { CNI_CONTAINERID: c.cid } : {}),
    ...(c.netns ? { CNI_NETNS: c.netns } : {}),
    ...(c.ifname !== undefined ? { CNI_IFNAME: c.ifname } : command === 'ADD' || command === 'DEL' || command === 'CHECK' ? { CNI_IFNAME: 'eth0' } : {}),
    ...c.env,
  }
  const input = typeof conf === 'string' ? conf : JSON.stringify(conf)
  const r = await run('nsenter', [`--net=/run/netns/${node}`, p.bin], { env, input, allowFailure: true, timeoutMs: 300_000 })
  let json: Record<string, unknown> | undefined
  try {
    json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined
  } catch {
    json = undefined
  }
  return { exit: r.code, stdout: r.stdout, stderr: r.stderr, json }
}

export async function ipJson<T>(ns: string, args: string[]): Promise<T> {
  return JSON.parse((await run('ip', ['-n', ns, '-j', ...args])).stdout || '[]') as T
}

export async function pingFrom(ns: string, ip: string): Promise<boolean> {
  return (await run('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W2', ip], { allowFailure: true })).code === 0
}
