// A small multi-node overlay lab for the overlay tests and bench/overlay.ts (a test harness:
// nothing under src/ imports it), all inside namespaces named with the caller's unique prefix:
//
//   <P>-ul   "underlay": bridge br0 192.168.56.1/24 — the physical L2 segment
//   <P>-nI   node I: eth0 192.168.56.(9+I)/24 (veth to br0), default route via .1;
//            its overlay agent runs here as a child process (`ip netns exec`)
//   <P>-nIpJ pod J of node I: eth0 on the node's cni0 bridge, address from subnet.env
//
// etcd: the agents run in node namespaces, where the root namespace's 127.0.0.1 is not
// reachable. etcd runs in the root namespace on loopback (test/helpers/etcd.ts), and each node
// namespace gets a relay: socat listening on the node's own 127.0.0.1:2379 → a unix socket
// (filesystem objects are not per network namespace) → socat in the root namespace → etcd.
// All etcd traffic stays on loopbacks; the agents are configured exactly as on a real node.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../src/util/exec.js'
import { bigIntToIp, ipToBigInt, parseCidr } from '../../src/net/ip.js'
import { createNetns, deleteNetns, ipBatch } from '../../src/net/netns.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 15000, step = 100): Promise<T> {
  const end = Date.now() + ms
  let last: unknown
  while (Date.now() < end) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      last = err
    }
    await sleep(step)
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}

/** Stop a child we started, by PID (its own process group), and wait for it. */
export async function stopChild(c: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return
  const exited = new Promise<void>((r) => c.once('exit', () => r()))
  try {
    process.kill(-c.pid!, sig)
  } catch {
    c.kill(sig)
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-c.pid!, 'SIGKILL')
    } catch {
      // gone
    }
  }, 5000)
  await exited
  clearTimeout(timer)
}

export interface Node {
  name: string
  ns: string
  ip: string
  dir: string
  subnetFile: string
  agent?: ChildProcess
  pods: Pod[]
}
export interface Pod {
  ns: string
  ip: string
}

export class Lab {
  readonly ul: string
  readonly nodes: Node[] = []
  readonly children = new Set<ChildProcess>()
  private relaySock: string
  private relay: ChildProcess | undefined

  constructor(
    /** namespace/link name prefix, unique per run (keep it short: link names are ≤ 15 bytes) */
    readonly prefix: string,
    readonly dir: string,
    readonly etcdEndpoint: string,
    /** the netkube CLI entry (see privateBuild) */
    readonly cli: string,
  ) {
    this.relaySock = join(dir, 'etcd.sock')
    this.ul = `${prefix}-ul`
  }

  spawn(file: string, args: string[], logName: string): ChildProcess {
    const fd = openSync(join(this.dir, logName), 'a')
    const c = spawn(file, args, { stdio: ['ignore', fd, fd], detached: true })
    closeSync(fd)
    this.children.add(c)
    c.once('exit', () => this.children.delete(c))
    return c
  }

  /** Underlay + root-side etcd relay. The caller must call down() (also on failure). */
  async up(): Promise<void> {
    await createNetns(this.ul)
    await ipBatch(this.ul, ['link add br0 type bridge', 'link set br0 up', 'addr add 192.168.56.1/24 dev br0'])
    await this.startRelay()
  }

  private async startRelay(): Promise<void> {
    const port = new URL(this.etcdEndpoint).port
    this.relay = this.spawn('socat', [`UNIX-LISTEN:${this.relaySock},fork,unlink-early`, `TCP:127.0.0.1:${port}`], 'relay-root.log')
    await until('etcd relay socket', () => existsSync(this.relaySock))
  }

  /** Cut every agent's etcd connection (the relay and its forked connections die), run `during`, reconnect. */
  async etcdOutage(during: () => Promise<void>): Promise<void> {
    if (this.relay) await stopChild(this.relay, 'SIGKILL')
    rmSync(this.relaySock, { force: true })
    await during()
    await this.startRelay()
  }

  async addNode(i: number): Promise<Node> {
    const ns = `${this.prefix}-n${i}`
    const ip = `192.168.56.${9 + i}`
    await createNetns(ns)
    const hostVeth = `${this.prefix}u${i}`
    await ipBatch(this.ul, [`link add ${hostVeth} type veth peer name eth0 netns ${ns}`, `link set ${hostVeth} master br0`, `link set ${hostVeth} up`])
    await ipBatch(ns, ['link set eth0 up', `addr add ${ip}/24 dev eth0`, 'route add default via 192.168.56.1'])
    this.spawn('ip', ['netns', 'exec', ns, 'socat', 'TCP-LISTEN:2379,bind=127.0.0.1,fork,reuseaddr', `UNIX-CONNECT:${this.relaySock}`], `relay-n${i}.log`)
    await until(`etcd relay in ${ns}`, async () => (await run('ip', ['netns', 'exec', ns, 'ss', '-ltn'], { allowFailure: true })).stdout.includes('127.0.0.1:2379'))
    const dir = join(this.dir, `n${i}`)
    mkdirSync(dir, { recursive: true })
    const node: Node = { name: `n${i}`, ns, ip, dir, subnetFile: join(dir, 'subnet.env'), pods: [] }
    this.nodes.push(node)
    return node
  }

  /** Start `netkube overlay` inside the node namespace. */
  startAgent(n: Node, extra: string[] = []): ChildProcess {
    const args = ['netns', 'exec', n.ns, process.execPath, this.cli, 'overlay', '--etcd-endpoints', 'http://127.0.0.1:2379', '--subnet-file', n.subnetFile, '--reconcile-interval', '1000', ...extra]
    const c = this.spawn('ip', args, `agent-${n.name}.log`)
    n.agent = c
    return c
  }

  async stopAgent(n: Node, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (n.agent) await stopChild(n.agent, sig)
    n.agent = undefined
  }

  agentLog(n: Node): string {
    try {
      return readFileSync(join(this.dir, `agent-${n.name}.log`), 'utf8')
    } catch {
      return ''
    }
  }

  /**
   * The node's subnet.env as raw keys, read independently of src/overlay/subnetenv.ts (the code
   * under test), so a test sees the file exactly as another reader (flannel's plugin) would.
   */
  subnetEnv(n: Node): Record<string, string> | undefined {
    if (!existsSync(n.subnetFile)) return undefined
    const out: Record<string, string> = {}
    for (const l of readFileSync(n.subnetFile, 'utf8').split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(l)
      if (m) out[m[1]!] = m[2]!
    }
    return out
  }

  /**
   * Pods wired by netkube's CNI plugin (cni/main.js, exec'd inside the node namespace like a
   * runtime would, node-aware mode: subnet, MTU and gateway come from the node's subnet.env).
   */
  async addPodsCni(n: Node, count: number, cniMain: string): Promise<Pod[]> {
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'overlay',
      type: 'netkube',
      bridge: 'cni0',
      subnetFile: n.subnetFile,
      agentSocket: 'none',
      ipam: { type: 'host-local', dataDir: join(n.dir, 'ipam') },
    })
    const start = n.pods.length
    for (let j = start + 1; j <= start + count; j++) {
      const pns = `${n.ns}p${j}`
      await createNetns(pns)
      n.pods.push({ ns: pns, ip: '' })
      const env = {
        ...process.env,
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: `${pns}-c`,
        CNI_NETNS: `/run/netns/${pns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/usr/lib/cni',
      }
      const r = await run('ip', ['netns', 'exec', n.ns, process.execPath, cniMain], { env, input: conf, allowFailure: true })
      if (r.code !== 0) throw new Error(`CNI ADD ${pns} failed (${r.code}): ${r.stdout.trim()} ${r.stderr.trim()}`)
      const res = JSON.parse(r.stdout) as { ips?: { address: string }[] }
      const ip = res.ips?.[0]?.address?.split('/')[0]
      if (!ip) throw new Error(`CNI ADD ${pns}: no IP in result ${r.stdout}`)
      n.pods[n.pods.length - 1]!.ip = ip
    }
    return n.pods
  }

  /**
   * Pods wired from subnet.env the way the CNI bridge plugin does: bridge cni0 holding the
   * subnet's first address, a veth per pod, the pod's default route via the bridge, all with
   * FLANNEL_MTU.
   */
  async addPods(n: Node, count: number): Promise<Pod[]> {
    const env = this.subnetEnv(n)
    if (!env) throw new Error(`${n.name}: no subnet.env`)
    const { ip: gw, prefix: len } = parseCidr(env.FLANNEL_SUBNET!)
    const mtu = env.FLANNEL_MTU!
    await ipBatch(n.ns, [`link add cni0 mtu ${mtu} type bridge`, 'link set cni0 up', `addr add ${gw}/${len} dev cni0`])
    for (let j = 1; j <= count; j++) {
      const pns = `${n.ns}p${j}`
      await createNetns(pns)
      const ip = bigIntToIp(ipToBigInt(gw) + BigInt(j), 4)
      const hv = `veth${n.name}p${j}`
      await ipBatch(n.ns, [`link add ${hv} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${pns}`, `link set ${hv} master cni0`, `link set ${hv} up`])
      await ipBatch(pns, ['link set eth0 up', `addr add ${ip}/${len} dev eth0`, `route add default via ${gw}`])
      n.pods.push({ ns: pns, ip })
    }
    return n.pods
  }

  async down(): Promise<void> {
    for (const c of [...this.children]) await stopChild(c, 'SIGKILL')
    for (const n of this.nodes) {
      for (const p of n.pods) await deleteNetns(p.ns)
      await deleteNetns(n.ns)
    }
    await deleteNetns(this.ul)
  }
}

// ---- reading kernel state with iproute2 (independent of the code under test) ----

export interface Observed {
  routes: string[]
  neighs: string[]
  fdb: string[]
}

export async function observe(ns: string, network = '10.5.'): Promise<Observed> {
  const routes = JSON.parse((await run('ip', ['-n', ns, '-j', 'route', 'show'])).stdout) as { dst: string; gateway?: string; dev: string; flags?: string[] }[]
  const neigh = JSON.parse((await run('ip', ['-n', ns, '-j', 'neigh', 'show', 'nud', 'permanent'])).stdout) as { dst: string; lladdr?: string; dev: string }[]
  const fdb = JSON.parse((await run('bridge', ['-n', ns, '-j', 'fdb', 'show'])).stdout) as { mac: string; dst?: string; ifname: string; flags?: string[] }[]
  return {
    routes: routes
      .filter((r) => r.dst.startsWith(network) && r.gateway)
      .map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}${r.flags?.includes('onlink') ? ' onlink' : ''}`)
      .sort(),
    neighs: neigh.filter((x) => x.dev.startsWith('flannel')).map((x) => `${x.dst} ${x.lladdr} ${x.dev}`).sort(),
    fdb: fdb.filter((x) => x.ifname?.startsWith('flannel') && x.dst).map((x) => `${x.mac} dst ${x.dst} ${x.ifname}`).sort(),
  }
}

