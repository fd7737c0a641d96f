// bench:netpol --lab — NetworkPolicy programming latency in the 3-node lab, observed from the
// outside: a change written through the API (merge patch, as `kubectl label` sends it) until
// `nft monitor` in the node concerned prints the element it implies. One namespace `npb` with
// pods a, b, c (one per node); policy `a-friends` isolates a and lets in pods labelled
// friend=yes and namespaces labelled team=blue; its edits change the allowed port.
//   pod label:       b gets / loses friend=yes      → a's node adds / deletes `a . b` elements
//   namespace label: npb gets / loses team=blue     → a's node adds / deletes elements for b, c
//   policy edit:     the port of the friend rule    → a's node replaces `a . b . tcp . port`
// The agents' own histogram (netkube_netpol_programming_latency_seconds) is not read here:
// this is the end-to-end figure (API write → watch → agent → kernel).
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { labDown, labUp } from '../src/lab/lab.js'
import { loadKubeconfig } from '../src/client/kubeconfig.js'
import { createClient } from '../src/client/rest.js'
import { resourceFor } from '../src/api/resources.js'
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js'
import { netnsHandle } from '../src/net/door.js'

const q = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN
}

/**
 * Lines of `nft monitor elements` in one node namespace (written to a file, which nft flushes
 * per event; read every 2 ms, so times are good to ~2 ms), awaited by predicate.
 */
class Monitor {
  private lines: { at: number; text: string }[] = []
  private waiters: { match: (l: string) => boolean; resolve: (at: number) => void }[] = []
  private buf = ''
  private off = 0
  private readonly timer: NodeJS.Timeout
  readonly proc: ChildProcess
  constructor(netns: string, readonly file: string) {
    writeFileSync(file, '')
    this.proc = netnsHandle(netns).spawn(['nft', 'monitor', 'elements'], { logPath: file })
    this.timer = setInterval(() => this.poll(), 2)
  }
  private poll(): void {
    const size = statSync(this.file).size
    if (size <= this.off) return
    const at = performance.now()
    const fd = openSync(this.file, 'r')
    const chunk = Buffer.alloc(size - this.off)
    readSync(fd, chunk, 0, chunk.length, this.off)
    closeSync(fd)
    this.off = size
    this.buf += chunk.toString()
    const parts = this.buf.split('\n')
    this.buf = parts.pop()!
    for (const text of parts) {
      this.lines.push({ at, text })
      this.waiters = this.waiters.filter((w) => (w.match(text) ? (w.resolve(at), false) : true))
    }
  }
  /** Resolves with the time the first line after `since` matching `match` arrived. */
  next(match: (l: string) => boolean, since: number, timeoutMs = 10_000): Promise<number> {
    const seen = this.lines.find((l) => l.at >= since && match(l.text))
    if (seen) return Promise.resolve(seen.at)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching nft monitor line in time')), timeoutMs)
      this.waiters.push({ match, resolve: (at) => (clearTimeout(timer), resolve(at)) })
    })
  }
  stop(): void {
    clearInterval(this.timer)
    this.proc.kill('SIGKILL')
  }
}

const POD = (name: string, node: string): Pod =>
  ({
    metadata: { name, namespace: 'npb', labels: { pod: name } },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'agnhost', args: ['netexec', '--http-port=80'], ports: [{ name: 'http', containerPort: 80 }] }] },
  }) as Pod

const friendsPolicy = (port: number): NetworkPolicy => ({
  metadata: { name: 'a-friends', namespace: 'npb' },
  spec: {
    podSelector: { matchLabels: { pod: 'a' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { friend: 'yes' } } }], ports: [{ port, protocol: 'TCP' }] }, { from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }],
  },
})

export async function labProgramming(o: { samples: number; log: (l: string) => void }): Promise<string[]> {
  const name = `bn${randomBytes(2).toString('hex')}`
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-bench-netpol-'))
  const monitors: Monitor[] = []
  try {
    const state = await labUp({ name, nodes: 3, stateDir, apiPort: 0, serverFlags: ['--dns-replicas', '1'], progress: o.log })
    const client = createClient(loadKubeconfig(state.kubeconfig!))
    const nodes = state.plan.nodes
    const nss = client.resource<Namespace>(resourceFor('namespaces'))
    const pods = client.resource<Pod>(resourceFor('pods'), 'npb')
    const pols = client.resource<NetworkPolicy>(resourceFor('networkpolicies'), 'npb')
    await nss.create({ metadata: { name: 'npb' } } as Namespace)
    for (const [i, p] of ['a', 'b', 'c'].entries()) await pods.create(POD(p, nodes[i % nodes.length]!.name))
    const deadline = Date.now() + 120_000
    let ips: Record<string, string> = {}
    for (;;) {
      const items = (await pods.list()).items
      ips = Object.fromEntries(items.filter((p) => p.status?.podIP).map((p) => [p.metadata.name!, p.status!.podIP!]))
      if (Object.keys(ips).length === 3) break
      if (Date.now() > deadline) throw new Error('lab pods got no IPs in 120 s')
      await new Promise((r) => setTimeout(r, 500))
    }
    const aNode = nodes[0]! // a runs there (nodes[0 % 3])
    const mon = new Monitor(aNode.netns, join(stateDir, 'monitor.log'))
    monitors.push(mon)
    await new Promise((r) => setTimeout(r, 300)) // the monitor subscribed
    await pols.create(friendsPolicy(80))
    await mon.next((l) => l.includes(`ingress-isolated { ${ips.a} }`), 0, 30_000)
    const a = ips.a!
    const lat: Record<string, number[]> = { 'pod label': [], 'namespace label': [], 'policy edit': [] }
    const measure = async (kind: string, write: () => Promise<unknown>, match: (l: string) => boolean): Promise<void> => {
      await new Promise((r) => setTimeout(r, 50))
      const t0 = performance.now()
      const seen = mon.next(match, t0)
      await write()
      lat[kind]!.push((await seen) - t0)
    }
    const has = (verb: 'add' | 'delete', set: string, ...parts: string[]) => (l: string) => l.startsWith(`${verb} element ip netkube-netpol ${set} `) && l.includes(`${a} . ${parts.join(' . ')}`)
    for (let k = 0; k < o.samples; k++) {
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: 'yes' } } }, 'merge'), has('add', 'ingress-ports', ips.b!))
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: null } } }, 'merge'), has('delete', 'ingress-ports', ips.b!))
      await measure('namespace label', () => nss.patch('npb', { metadata: { labels: { team: 'blue' } } }, 'merge'), has('add', 'ingress-all'))
      await measure('namespace label', () => nss.patch('npb', { metadata: { labels: { team: null } } }, 'merge'), has('delete', 'ingress-all'))
      // b a friend again, then the rule's port edited twice (there and back)
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: 'yes' } } }, 'merge'), has('add', 'ingress-ports', ips.b!))
      await measure('policy edit', async () => pols.update({ ...(await pols.get('a-friends')), spec: friendsPolicy(81).spec }), has('add', 'ingress-ports', ips.b!, 'tcp', '81'))
      await measure('policy edit', async () => pols.update({ ...(await pols.get('a-friends')), spec: friendsPolicy(80).spec }), has('add', 'ingress-ports', ips.b!, 'tcp', '80'))
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: null } } }, 'merge'), has('delete', 'ingress-ports', ips.b!))
    }
    const out = [`programming latency in the 3-node lab: API write → element in the kernel of ${aNode.name} (nft monitor), ms`, '', '| change | samples | p50 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|']
    const all: number[] = []
    for (const [kind, xs] of Object.entries(lat)) {
      all.push(...xs)
      out.push(`| ${kind} | ${xs.length} | ${q(xs, 0.5).toFixed(1)} | ${q(xs, 0.99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`)
    }
    out.push(`| all | ${all.length} | ${q(all, 0.5).toFixed(1)} | ${q(all, 0.99).toFixed(1)} | ${Math.max(...all).toFixed(1)} |`)
    return out
  } finally {
    for (const m of monitors) m.stop()
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  }
}
