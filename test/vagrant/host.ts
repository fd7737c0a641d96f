// The Vagrant lab's host side (npm run test:vagrant): libvirtd, virtlogd and vagrant inside a
// network namespace of the test's own, so libvirt's NAT networks, bridges, dnsmasq and
// iptables rules live there; a package relay the VMs reach over a unix socket; a snapshot of
// the root namespace to diff before and after. Every process is ours, stopped by PID.
import { mkdirSync, writeFileSync, existsSync, readFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { netnsHandle } from '../../src/net/door.js'
import { start, run, type ChildProcess } from '../../src/util/exec.js'

export interface Daemon {
  name: string
  child: ChildProcess
}

/** Stop a daemon we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopDaemon(d: Daemon, graceMs = 5000): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return
  const exited = new Promise<void>((r) => d.child.once('exit', () => r()))
  d.child.kill('SIGTERM')
  const timer = setTimeout(() => d.child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await sleep(everyMs)
  }
}

/** The root namespace's network state, as the issue asks to diff it. */
export async function rootNetworkState(): Promise<Record<string, string>> {
  const out = async (file: string, args: string[]): Promise<string> => (await run(file, args, { allowFailure: true })).stdout
  // counters change with traffic; what counts is which rules and links exist
  const links = (await out('ip', ['-o', 'link', 'show'])).split('\n').map((l) => l.replace(/^\d+: /, '').split(':')[0]!).filter(Boolean).sort().join('\n')
  const strip = (s: string): string => s.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n')
  return {
    'ip link': links,
    'ip route': await out('ip', ['route', 'show', 'table', 'all']),
    'nft list ruleset': (await out('nft', ['list', 'ruleset'])).replace(/counter packets \d+ bytes \d+/g, 'counter'),
    'iptables-save': strip(await out('iptables-save', [])),
  }
}

/** libvirt's QEMU settings for the run: qemu as root (the PVM /dev/kvm is root-only; without it libvirt re-probes QEMU on every call). */
const QEMU_CONF = 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\nsecurity_driver = "none"\n'

/**
 * A QEMU wrapper that limits TCG's translation cache (libvirt's domain XML cannot say
 * tb-size through vagrant-libvirt): `-accel tcg` becomes `-accel tcg,tb-size=MiB`.
 */
export function writeTcgWrapper(dir: string, tbSizeMiB: number): string {
  const p = join(dir, 'qemu-tcg')
  writeFileSync(
    p,
    `#!/bin/bash
# Made by test/vagrant/host.ts: qemu-system-x86_64 with TCG's translation cache limited.
args=()
prev=""
for a in "$@"; do
  if [ "$prev" = -accel ] && [ "$a" = tcg ]; then a="tcg,tb-size=${tbSizeMiB}"; fi
  args+=("$a"); prev="$a"
done
exec /usr/bin/qemu-system-x86_64 "\${args[@]}"
`,
  )
  chmodSync(p, 0o755)
  return p
}

/** virtlogd and libvirtd inside `netns`, libvirtd in a mount namespace of its own that sees the run's qemu.conf. */
export async function startLibvirt(netns: string, dir: string): Promise<Daemon[]> {
  mkdirSync(dir, { recursive: true })
  const qemuConf = join(dir, 'qemu.conf')
  writeFileSync(qemuConf, QEMU_CONF)
  const h = netnsHandle(netns)
  const virtlogd = { name: 'virtlogd', child: h.spawn(['virtlogd'], { logPath: join(dir, 'virtlogd.log') }) }
  const libvirtd = {
    name: 'libvirtd',
    child: h.spawn(['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/libvirt/qemu.conf && exec libvirtd', 'sh', qemuConf], {
      logPath: join(dir, 'libvirtd.log'),
    }),
  }
  const daemons = [virtlogd, libvirtd]
  try {
    await until('libvirtd to answer', 60_000, async () => {
      if (libvirtd.child.exitCode !== null) throw new Error(`libvirtd exited ${libvirtd.child.exitCode}: ${readFileSync(join(dir, 'libvirtd.log'), 'utf8').slice(-800)}`)
      return (await h.run('virsh', ['-c', 'qemu:///system', 'version'], { allowFailure: true })).code === 0
    })
  } catch (e) {
    for (const d of daemons.reverse()) await stopDaemon(d)
    throw e
  }
  return daemons
}

/**
 * The package relay: tinyproxy in the root namespace on loopback (default deny: only
 * Debian's archive), a unix socket in front of it, and a listener inside the VMs' namespace
 * that forwards to that socket. No route or NAT anywhere in the root namespace.
 */
export async function startRelay(netns: string, dir: string, port: number, allow: readonly string[]): Promise<Daemon[]> {
  const tinyPort = 20000 + Math.floor(Math.random() * 20000)
  const filter = join(dir, 'relay.filter')
  writeFileSync(filter, allow.map((h) => `^${h.replace(/\./g, '\\.')}$`).join('\n') + '\n')
  const conf = join(dir, 'tinyproxy.conf')
  writeFileSync(
    conf,
    [`Port ${tinyPort}`, 'Listen 127.0.0.1', 'Timeout 120', 'MaxClients 20', `Filter "${filter}"`, 'FilterDefaultDeny Yes', 'FilterExtended Yes', 'LogLevel Notice', `LogFile "${join(dir, 'tinyproxy.log')}"`, 'Allow 127.0.0.1', ''].join('\n'),
  )
  const sock = join(dir, 'relay.sock')
  const tiny = { name: 'tinyproxy', child: start('tinyproxy', ['-d', '-c', conf], { logPath: join(dir, 'tinyproxy.out') }) }
  const bridge = { name: 'relay-socket', child: start('socat', [`UNIX-LISTEN:${sock},fork,mode=600`, `TCP:127.0.0.1:${tinyPort}`], { logPath: join(dir, 'relay.log') }) }
  const inner = { name: 'relay-listener', child: netnsHandle(netns).spawn(['socat', `TCP-LISTEN:${port},fork,reuseaddr`, `UNIX-CONNECT:${sock}`], { logPath: join(dir, 'relay.log') }) }
  await until('the relay socket', 10_000, async () => existsSync(sock), 200)
  return [tiny, bridge, inner]
}
