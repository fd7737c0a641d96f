// A one-node service lab in throwaway namespaces, shared by the proxy kernel tests and
// bench:proxy. Nothing here touches the root namespace.
//
//   client (192.168.50.20) ──veth── node (192.168.50.10, br0 10.244.1.1/24) ──veth── podN (10.244.1.1N)
//
// Ports have hairpin on, as the CNI bridge plugin sets with hairpinMode: a pod reaching itself
// through its Service is DNATed back out of the port it came in on (br_netfilter re-bridges it).
// The client is "another host": it routes the service CIDR to the node. Each pod runs a socat
// server on 8080 that answers its own name.
import type { ChildProcess } from 'node:child_process'
import { createNetns, deleteNetns, ipBatch, nsenterRun } from '../src/net/netns.js'
import { spawnInNetns } from '../src/net/spawn.js'

export interface Topology {
  node: string
  client: string
  pods: { ns: string; ip: string; name: string }[]
  nodeIP: string
  clientIP: string
  clusterCIDR: string
  serviceCIDR: string
  destroy(): Promise<void>
}

export async function buildTopology(prefix: string, podCount = 3, opts: { servers?: boolean } = {}): Promise<Topology> {
  const node = `${prefix}-node`
  const client = `${prefix}-cli`
  const created: string[] = []
  const procs: ChildProcess[] = []
  const destroy = async (): Promise<void> => {
    for (const p of procs) {
      try {
        if (p.pid) process.kill(-p.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    for (const ns of created.reverse()) await deleteNetns(ns)
  }
  try {
    for (const ns of [node, client]) {
      await createNetns(ns)
      created.push(ns)
    }
    await ipBatch(node, [
      'link add br0 type bridge',
      'addr add 10.244.1.1/24 dev br0',
      'link set br0 up',
      `link add up0 type veth peer name eth0 netns ${client}`,
      'addr add 192.168.50.10/24 dev up0',
      'link set up0 up',
    ])
    await ipBatch(client, ['addr add 192.168.50.20/24 dev eth0', 'link set eth0 up', 'route add 10.96.0.0/12 via 192.168.50.10'])
    const pods: Topology['pods'] = []
    for (let i = 1; i <= podCount; i++) {
      const ns = `${prefix}-pod${i}`
      await createNetns(ns)
      created.push(ns)
      const ip = `10.244.1.${10 + i}`
      await ipBatch(node, [`link add vp${i} type veth peer name eth0 netns ${ns}`, `link set vp${i} master br0`, `link set vp${i} type bridge_slave hairpin on`, `link set vp${i} up`])
      await ipBatch(ns, [`addr add ${ip}/24 dev eth0`, 'link set eth0 up', 'route add default via 10.244.1.1'])
      pods.push({ ns, ip, name: `pod${i}` })
      if (opts.servers !== false) {
        procs.push(spawnInNetns(ns, ['socat', 'TCP-LISTEN:8080,fork,reuseaddr,backlog=512', `SYSTEM:echo pod${i}`]))
        procs.push(spawnInNetns(ns, ['socat', 'UDP-RECVFROM:8080,fork', `SYSTEM:echo pod${i}`]))
      }
    }
    return { node, client, pods, nodeIP: '192.168.50.10', clientIP: '192.168.50.20', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}

export interface ConnectReport {
  counts: Record<string, number>
  errors: Record<string, number>
  /** ms per attempt: TCP handshake when it connected, else time until the error */
  times: number[]
}

// Runs inside a namespace: `n` sequential new TCP connections to host:port, each reads the
// answering pod's name. One node process, so 300 connections cost no process starts.
const CLIENT = `
const net = require('node:net')
const [host, port, n, timeout] = process.argv.slice(1).map((v, i) => (i ? Number(v) : v))
const counts = {}, errors = {}, times = []
function one() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    let data = ''
    let done = false
    let connected = 0
    const finish = (key, isErr) => {
      if (done) return
      done = true
      // handshake time when connected (what the rules cost), else time to the error
      times.push(connected || Number(process.hrtime.bigint() - t0) / 1e6)
      const bag = isErr ? errors : counts
      bag[key] = (bag[key] || 0) + 1
      s.destroy()
      resolve()
    }
    const s = net.connect({ host, port })
    s.on('connect', () => (connected = Number(process.hrtime.bigint() - t0) / 1e6))
    s.setTimeout(timeout, () => finish('ETIMEDOUT', true))
    s.on('data', (d) => (data += d))
    s.on('end', () => finish(data.trim() || 'EMPTY', !data.trim()))
    s.on('error', (e) => finish(e.code || e.message, true))
  })
}
;(async () => {
  for (let i = 0; i < n; i++) await one()
  process.stdout.write(JSON.stringify({ counts, errors, times }))
})()
`

export async function connectMany(ns: string, host: string, port: number, n: number, timeoutMs = 2000): Promise<ConnectReport> {
  const r = await nsenterRun(ns, process.execPath, ['-e', CLIENT, host, String(port), String(n), String(timeoutMs)], { timeoutMs: 120_000 })
  return JSON.parse(r.stdout) as ConnectReport
}

// Runs inside a namespace: one datagram from a fixed source port, the first answer (or '').
const UDP_CLIENT = `
const dgram = require('node:dgram')
const [host, port, sport, timeout] = process.argv.slice(1).map((v, i) => (i ? Number(v) : v))
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
const t = setTimeout(() => { s.close(); process.stdout.write('') }, timeout)
s.on('message', (m) => { clearTimeout(t); s.close(); process.stdout.write(m.toString().trim()) })
s.bind(sport, () => s.send('?', port, host))
`

/** One UDP question from `ns`, source port `sport` (reused across calls: the same conntrack tuple). */
export async function udpAsk(ns: string, host: string, port: number, sport: number, timeoutMs = 1000): Promise<string> {
  const r = await nsenterRun(ns, process.execPath, ['-e', UDP_CLIENT, host, String(port), String(sport), String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 })
  return r.stdout
}
