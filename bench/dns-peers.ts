// bench:dns's peer servers: dnsmasq, NSD and Knot DNS as child processes on loopback, each
// fed the same records (dns-data.ts) through its own input format, with its thread count
// pinned, config/zone/pid files in the run's temp dir, and stopped by PID (the whole
// process tree it forked, each member checked by start time).
//
// How each takes a record change (what the churn row measures):
// - dnsmasq: the headless records live in a --hostsdir file; dnsmasq watches the directory
//   (inotify) and re-reads a changed file, dropping that file's old records. No cache flush.
// - NSD: the zone file is rewritten and `nsd-control reload cluster.local` re-reads it; NSD
//   loads the zone in a new process and restarts its server processes on it.
// - Knot: one `knotc` transaction per change (zone-begin / zone-unset / zone-set / zone-commit)
//   on the in-memory zone; the serial moves automatically.
import { renameSync, writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnDaemon, type DaemonRecord } from '../src/lab/procs.js'
import { procCpuTicks, procStartTicks, processAlive, processTree } from '../src/util/proc.js'
import { freePort } from '../src/util/ports.js'
import { run } from '../src/util/exec.js'
import { renderDnsmasqSrv, renderHosts, renderZone, headlessName, ZONE, TTL, type BenchRecords } from './dns-data.js'

/**
 * This run's own loopback address (all of 127/8 is local): a socket someone else bound to
 * the same port with SO_REUSEPORT would silently take a share of the queries; groups are per
 * address, so on an address of our own that cannot happen.
 */
export const HOST = `127.53.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`

export type Ready = (port: number) => Promise<void>

/** A running server under test, as the bench drives it. */
export interface BenchServer {
  name: string
  /** Serving threads (or processes) this instance was started with. */
  threads: number
  port: number
  /** CPU seconds used so far by every process of the server. */
  cpuSeconds(): number
  /** Make the server serve `r` (already changed at `changed` headless indexes) the way it really takes updates. */
  update(r: BenchRecords, changed: number[], tick: number): Promise<void>
  stop(): Promise<void>
}

/** The Debian packages the peers come from (scripts/setup.sh installs them). */
export const PEER_COMMANDS = ['dnsmasq', 'nsd', 'nsd-control', 'knotd', 'knotc']

/** CPU seconds of a process tree (members alive now, plus what they reaped). */
function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + procCpuTicks(pid), 0) / 100
}

const procComm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

const kill = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig)
  } catch {
    /* already gone */
  }
}

/** A daemon and the processes it forked: SIGTERM the root, then SIGKILL whatever of the tree is left. */
async function stopTree(rec: DaemonRecord): Promise<void> {
  if (!processAlive(rec.pid, rec.startTicks)) return
  const members = processTree(rec.pid).map((pid) => ({ pid, startTicks: procStartTicks(pid) ?? '' }))
  const alive = (): typeof members => members.filter((m) => processAlive(m.pid, m.startTicks))
  kill(rec.pid, 'SIGTERM')
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && alive().length > 0) await new Promise((r) => setTimeout(r, 50))
  for (const m of alive()) kill(m.pid, 'SIGKILL')
}

/** Every daemon still running, so an exit that cannot wait (a crash, an uncaught error) still kills them by PID. */
const started = new Set<DaemonRecord>()
process.on('exit', () => {
  for (const rec of started) if (processAlive(rec.pid, rec.startTicks)) for (const pid of processTree(rec.pid)) kill(pid, 'SIGKILL')
})

/** Start, wait until it answers, then `check` what runs (throws: the daemon is stopped and the error says why). */
async function startDaemon(name: string, dir: string, argv: string[], ready: Ready, port: number, check?: (rec: DaemonRecord) => void): Promise<DaemonRecord> {
  const log = join(dir, `${name}.log`)
  const rec = spawnDaemon(name, 'bench', undefined, argv, log)
  started.add(rec)
  try {
    await ready(port)
    check?.(rec)
  } catch (e) {
    await stopTree(rec)
    started.delete(rec)
    throw new Error(`${name} did not start: ${String(e)}\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''}`)
  }
  return rec
}

function peer(name: string, threads: number, port: number, rec: DaemonRecord, update: BenchServer['update']): BenchServer {
  return {
    name,
    threads,
    port,
    cpuSeconds: () => treeCpuSeconds(rec.pid),
    update,
    stop: async () => {
      await stopTree(rec)
      started.delete(rec)
    },
  }
}

/** Write a file whole: readers (inotify, a reload) never see half of it. */
function writeAtomic(path: string, text: string, tmpDir: string): void {
  const tmp = join(tmpDir, `.${Date.now()}-${Math.random().toString(36).slice(2)}`)
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}

/** dnsmasq is single-threaded: there is only a 1-thread row. */
export async function startDnsmasq(dir: string, r: BenchRecords, ready: Ready): Promise<BenchServer> {
  const base = join(dir, 'dnsmasq')
  const hostsDir = join(base, 'hosts.d')
  mkdirSync(hostsDir, { recursive: true })
  writeFileSync(join(hostsDir, 'services'), renderHosts(r, 'services'))
  writeFileSync(join(hostsDir, 'headless'), renderHosts(r, 'headless'))
  writeFileSync(join(base, 'srv.conf'), renderDnsmasqSrv(r))
  const port = await freePort(HOST)
  const rec = await startDaemon('dnsmasq', dir, [
    'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', `--hostsdir=${hostsDir}`,
    // authoritative for the zone: a miss is NXDOMAIN, never a forward
    `--local=/${ZONE}/`, `--conf-file=${join(base, 'srv.conf')}`,
    `--port=${port}`, `--listen-address=${HOST}`, '--bind-interfaces', '--pid-file=', '--user=root',
    '--cache-size=10000', `--local-ttl=${TTL}`,
  ], ready, port)
  return peer('dnsmasq', 1, port, rec, async (next) => {
    writeAtomic(join(hostsDir, 'headless'), renderHosts(next, 'headless'), base)
  })
}

/** NSD with `server-count` = threads; rate limiting off (its default of 200 qps per client would cap the bench). */
export function nsdConf(d: string, port: number, threads: number): string {
  return `server:
  ip-address: ${HOST}
  port: ${port}
  server-count: ${threads}
  reuseport: ${threads > 1 ? 'yes' : 'no'}
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  minimal-responses: yes
  username: ""
  chroot: ""
  zonesdir: "${d}"
  database: ""
  zonelistfile: "${d}/zone.list"
  pidfile: "${d}/nsd.pid"
  xfrdfile: "${d}/xfrd.state"
  xfrdir: "${d}"
  logfile: "${d}/nsd.log"
  verbosity: 0
remote-control:
  control-enable: yes
  control-interface: "${d}/nsd.sock"
zone:
  name: ${ZONE}
  zonefile: "${d}/${ZONE}.zone"
`
}

export async function startNsd(dir: string, r: BenchRecords, threads: number, ready: Ready): Promise<BenchServer> {
  const d = join(dir, `nsd-${threads}`)
  mkdirSync(d, { recursive: true })
  const zoneFile = join(d, `${ZONE}.zone`)
  writeFileSync(zoneFile, renderZone(r, 1))
  const port = await freePort(HOST)
  const conf = join(d, 'nsd.conf')
  writeFileSync(conf, nsdConf(d, port, threads))
  const rec = await startDaemon(`nsd-${threads}`, dir, ['nsd', '-d', '-c', conf], ready, port, (rec) => {
    // the pinned count is what runs: one `nsd: server N` process each (plus main and xfrd)
    const servers = processTree(rec.pid).filter((pid) => procComm(pid).startsWith('nsd: server')).length
    if (servers !== threads) throw new Error(`${servers} server processes running, want ${threads}`)
  })
  return peer('nsd', threads, port, rec, async (next, _changed, tick) => {
    writeAtomic(zoneFile, renderZone(next, 1 + tick), d)
    await run('nsd-control', ['-c', conf, 'reload', ZONE])
  })
}

/** Knot with `udp-workers` = threads, one TCP and one background worker (defaults: one each per CPU). */
export function knotConf(d: string, port: number, threads: number): string {
  return `server:
    rundir: "${d}"
    pidfile: "${d}/knot.pid"
    listen: ${HOST}@${port}
    udp-workers: ${threads}
    tcp-workers: 1
    background-workers: 1
database:
    storage: "${d}"
log:
  - target: stderr
    any: warning
control:
    listen: "${d}/knot.sock"
template:
  - id: default
    storage: "${d}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: ${ZONE}
`
}

export async function startKnot(dir: string, r: BenchRecords, threads: number, ready: Ready): Promise<BenchServer> {
  const d = join(dir, `knot-${threads}`)
  mkdirSync(d, { recursive: true })
  writeFileSync(join(d, `${ZONE}.zone`), renderZone(r, 1))
  const port = await freePort(HOST)
  const conf = join(d, 'knot.conf')
  writeFileSync(conf, knotConf(d, port, threads))
  const rec = await startDaemon(`knot-${threads}`, dir, ['knotd', '-c', conf], ready, port)
  const sock = join(d, 'knot.sock')
  return peer('knot', threads, port, rec, async (next, changed) => {
    const rel = (fqdn: string): string => fqdn.slice(0, -(ZONE.length + 1))
    const lines = [`zone-begin ${ZONE}`]
    for (const j of changed) {
      lines.push(`zone-unset ${ZONE} ${rel(headlessName(j))} A`)
      for (const ip of next.headless[j]!) lines.push(`zone-set ${ZONE} ${rel(headlessName(j))} ${TTL} A ${ip}`)
    }
    lines.push(`zone-commit ${ZONE}`)
    // knotc reads commands from stdin when none is given: one process per transaction.
    const out = await run('knotc', ['-s', sock], { input: lines.join('\n') + '\n' })
    if (/error|invalid/i.test(out.stdout + out.stderr)) throw new Error(`knotc transaction failed: ${out.stdout}${out.stderr}`)
  })
}
