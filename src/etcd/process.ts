// Starts and supervises a local etcd (Debian's etcd-server) as a child process. Used by
// `netkube server` when no --etcd-servers is given, by the lab, and by the test harness.
import { mkdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { netnsHandle } from '../net/door.js'
import type { ChildProcess } from '../util/exec.js'
import { freePort } from '../util/ports.js'
import { logger } from '../util/log.js'

const log = logger('etcd')

export interface EtcdOptions {
  dataDir: string
  name?: string
  host?: string
  clientPort?: number
  peerPort?: number
  /** Run inside this network namespace (`ip netns exec` semantics: /etc/netns/NAME mounted). */
  netns?: string
  /** Compact history older than this many revisions (auto-compaction, revision mode). */
  autoCompactionRevisions?: number
}

export interface EtcdProcess {
  endpoint: string
  pid: number
  child: ChildProcess
  stop(): Promise<void>
}

export async function waitEtcdHealthy(endpoint: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastErr = ''
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) })
      const body = (await res.json()) as { health?: string }
      if (body.health === 'true') return
      lastErr = JSON.stringify(body)
    } catch (err) {
      lastErr = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`etcd at ${endpoint} not healthy after ${timeoutMs} ms: ${lastErr}`)
}

export async function startEtcd(opts: EtcdOptions): Promise<EtcdProcess> {
  const host = opts.host ?? '127.0.0.1'
  const clientPort = opts.clientPort ?? (await freePort())
  const peerPort = opts.peerPort ?? (await freePort())
  const name = opts.name ?? 'netkube'
  mkdirSync(opts.dataDir, { recursive: true })
  const endpoint = `http://${host}:${clientPort}`
  const args = [
    '--name', name,
    '--data-dir', join(opts.dataDir, 'data'),
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', `http://${host}:${peerPort}`,
    '--initial-advertise-peer-urls', `http://${host}:${peerPort}`,
    '--initial-cluster', `${name}=http://${host}:${peerPort}`,
    '--log-level', 'warn',
    '--logger', 'zap',
  ]
  if (opts.autoCompactionRevisions) {
    args.push('--auto-compaction-mode', 'revision', '--auto-compaction-retention', String(opts.autoCompactionRevisions))
  }
  // etcd must not outlive whoever started it (a test killed on timeout, a crashed server):
  // setpriv --pdeathsig asks the kernel to SIGKILL it when its parent goes.
  const etcdArgv = existsSync('/usr/bin/setpriv') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--', 'etcd', ...args] : ['etcd', ...args]
  const child = netnsHandle(opts.netns).spawn(etcdArgv, { etc: 'netns', logPath: join(opts.dataDir, 'etcd.log') })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await Promise.race([
      waitEtcdHealthy(endpoint),
      exited.then(() => {
        throw new Error(`etcd exited early (code ${child.exitCode}); see ${join(opts.dataDir, 'etcd.log')}`)
      }),
    ])
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  log.info({ endpoint, pid: child.pid }, 'etcd ready')
  return {
    endpoint,
    pid: child.pid!,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}
