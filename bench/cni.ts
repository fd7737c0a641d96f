// bench:cni — ADD and DEL latency of netkube's CNI plugin (exec'd standalone, and exec'd
// with the node agent serving it over the unix socket) against the reference Go plugins
// (/usr/lib/cni/bridge + host-local from Debian's containernetworking-plugins), same config,
// runs alternating in one process, everything in throwaway namespaces.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { install } from '../cni/install.js'
import { startCniServer } from '../cni/server.js'
import { realKernel } from '../cni/context.js'
import { handleCni } from '../cni/skel.js'
import { createNetns, deleteNetns } from '../src/net/netns.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 50)
const prefix = `nkb${randomBytes(2).toString('hex')}`
const NODE = `${prefix}-node`

interface Impl {
  name: string
  bin: string
  env: Record<string, string>
  netType: string
  pod: string
  add: number[]
  del: number[]
}

function execPlugin(bin: string, env: Record<string, string>, stdin: string): Promise<{ ms: number; code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn('nsenter', [`--net=/run/netns/${NODE}`, bin], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', reject)
    child.on('close', (code, sig) => resolve({ ms: performance.now() - t0, code: code ?? 1, out: out + (sig ? ` (signal ${sig})` : '') }))
    child.stdin.end(stdin)
  })
}

function conf(name: string, type: string, dataDir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name,
    type,
    bridge: 'cni0',
    isGateway: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.123.0.0/16' }]], dataDir },
  })
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nkbench-'))
  const { plugin } = install({ binDir: join(dir, 'bin'), confDir: join(dir, 'conf') })
  const socketPath = join(dir, 'cni.sock')
  const impls: Impl[] = [
    { name: 'reference bridge+host-local', bin: '/usr/lib/cni/bridge', env: { CNI_PATH: '/usr/lib/cni' }, netType: 'bridge', pod: `${prefix}-p0`, add: [], del: [] },
    { name: 'netkube standalone', bin: plugin, env: { NETKUBE_CNI_SOCKET: 'none' }, netType: 'netkube', pod: `${prefix}-p1`, add: [], del: [] },
    { name: 'netkube standalone, ip fallback', bin: plugin, env: { NETKUBE_CNI_SOCKET: 'none', NETKUBE_NO_SETNS: '1' }, netType: 'netkube', pod: `${prefix}-p4`, add: [], del: [] },
    { name: 'netkube via agent socket', bin: plugin, env: { NETKUBE_CNI_SOCKET: socketPath }, netType: 'netkube', pod: `${prefix}-p2`, add: [], del: [] },
  ]
  const inproc = { add: [] as number[], del: [] as number[] }
  await createNetns(NODE)
  for (const i of impls) await createNetns(i.pod)
  await createNetns(`${prefix}-p3`)
  const srv = await startCniServer({ socketPath, hostNetns: NODE })
  const cleanup = async (): Promise<void> => {
    await srv.close()
    for (const i of impls) await deleteNetns(i.pod)
    await deleteNetns(`${prefix}-p3`)
    await deleteNetns(NODE)
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))
  try {
    const dataDir = join(dir, 'ipam')
    // warm-up (bridge creation, page cache), not measured
    for (const impl of impls) {
      const stdin = conf(`bench-${impl.netType}-${impls.indexOf(impl)}`, impl.netType, dataDir)
      const base = { ...impl.env, CNI_CONTAINERID: 'warm', CNI_NETNS: `/run/netns/${impl.pod}`, CNI_IFNAME: 'eth0' }
      const a = await execPlugin(impl.bin, { ...base, CNI_COMMAND: 'ADD' }, stdin)
      if (a.code !== 0) throw new Error(`${impl.name} ADD failed: ${a.out}`)
      await execPlugin(impl.bin, { ...base, CNI_COMMAND: 'DEL' }, stdin)
    }
    for (let r = 0; r < RUNS; r++) {
      for (const impl of impls) {
        const stdin = conf(`bench-${impl.netType}-${impls.indexOf(impl)}`, impl.netType, dataDir)
        const base = { ...impl.env, CNI_CONTAINERID: `c${r}`, CNI_NETNS: `/run/netns/${impl.pod}`, CNI_IFNAME: 'eth0' }
        const a = await execPlugin(impl.bin, { ...base, CNI_COMMAND: 'ADD' }, stdin)
        if (a.code !== 0) throw new Error(`${impl.name} ADD failed: ${a.out}`)
        impl.add.push(a.ms)
        const d = await execPlugin(impl.bin, { ...base, CNI_COMMAND: 'DEL' }, stdin)
        if (d.code !== 0) throw new Error(`${impl.name} DEL failed: ${d.out}`)
        impl.del.push(d.ms)
      }
      // the agent's own work, without the exec'd process (what the socket path costs on top)
      const stdin = conf('bench-inproc', 'netkube', dataDir)
      const env = { CNI_CONTAINERID: `i${r}`, CNI_NETNS: `/run/netns/${prefix}-p3`, CNI_IFNAME: 'eth0' }
      let t0 = performance.now()
      const a = await handleCni({ env: { ...env, CNI_COMMAND: 'ADD' }, stdin }, { hostNetns: NODE, kernel: realKernel })
      inproc.add.push(performance.now() - t0)
      if (a.exit !== 0) throw new Error(`in-process ADD failed: ${a.stdout}`)
      t0 = performance.now()
      await handleCni({ env: { ...env, CNI_COMMAND: 'DEL' }, stdin }, { hostNetns: NODE, kernel: realKernel })
      inproc.del.push(performance.now() - t0)
    }
  } finally {
    await cleanup()
  }
  const ref = impls[0]!
  const refAdd = pct(ref.add, 50)
  const refDel = pct(ref.del, 50)
  const rows = [
    ...impls.map((i) => [i.name, i.add, i.del] as const),
    ['(agent work in-process, no exec)', inproc.add, inproc.del] as const,
  ]
  const f = (n: number): string => n.toFixed(1).padStart(8)
  console.log(`\nbench:cni — ${RUNS} ADD + ${RUNS} DEL each, alternating; ms (wall, incl. process start); baseline: ${ref.name}`)
  console.log(`${'plugin'.padEnd(34)}${'ADD p50'.padStart(8)}${'ADD p95'.padStart(8)}${'DEL p50'.padStart(8)}${'DEL p95'.padStart(8)}  ADD x ref  DEL x ref`)
  for (const [name, add, del] of rows) {
    const ra = (pct(add, 50) / refAdd).toFixed(2).padStart(9)
    const rd = (pct(del, 50) / refDel).toFixed(2).padStart(9)
    console.log(`${name.padEnd(34)}${f(pct(add, 50))}${f(pct(add, 95))}${f(pct(del, 50))}${f(pct(del, 95))}  ${ra}  ${rd}`)
  }
  console.log(`load average at end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores, shared)`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
