// npm run bench:lb [-- --mode agent,node --kills 10 --quiet-s 60 --address-lifetime 2s --keep-logs DIR] — LoadBalancer failover in a
// 3-node lab: a Deployment behind `type: LoadBalancer`, a client in the outside namespace
// starting a fresh request every 25 ms (300 ms connect timeout), and N times per mode:
//   agent: kill -9 the announcing node's agent;
//   node:  kill -9 it and pull the node's cable (its underlay bridge port down): a dead node;
// measure takeover (another node's kernel adds the IP), ARP move (the outside's neighbour
// entry names the new node) and the window of failed requests; restore the node and wait
// until exactly one node holds the address and the outside's entry names it.
// First a quiet phase (no kills): any LB address that moves then is a false takeover (the
// lease too short for this machine's load); must be 0.
// The backends and the control plane live on node1, which carries upstream's
// `node.kubernetes.io/exclude-from-external-load-balancers` label (as kubeadm's control-plane
// nodes do): a dead node2/node3 takes neither the API nor the backends with it, so what is
// measured is the LoadBalancer's failover alone.
// Prints p50/p99/max of each against issue #12's bar (≤ 2 s), and for 3 s after each return
// who answers ARP (broadcast probes from the outside namespace) and holds the /32 (the
// kernels, every 100 ms). Exit 1 when a kill exceeds the bar, a false takeover happened or a
// returned node was a second holder.
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { labUp, labDown, type LabState } from '../src/lab/lab.js'
import { createClient } from '../src/client/rest.js'
import { loadKubeconfig } from '../src/client/kubeconfig.js'
import { resourceFor } from '../src/api/resources.js'
import type { Deployment, Lease, Node, Pod, Service } from '../src/api/types.js'
import { EXCLUDE_LABEL, SPEAKER_LEASE_PREFIX } from '../src/loadbalancer/announce-core.js'
import { announcerOf, countAddressMoves, measureFailover, percentile, restoreNode, type FailoverMode, type FailoverResult, type ReturnSample } from './lb-failover.js'

const BAR_MS = 2000

async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out: ${what}`)
}

const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { kills: { type: 'string' }, mode: { type: 'string' }, 'quiet-s': { type: 'string' }, 'keep-logs': { type: 'string' }, 'address-lifetime': { type: 'string' } } })
  const kills = Number(v.kills ?? 10)
  const quietS = Number(v['quiet-s'] ?? 60)
  const modes = (v.mode ?? 'agent,node').split(',').filter(Boolean) as FailoverMode[]
  for (const m of modes) if (m !== 'agent' && m !== 'node') throw new Error(`--mode takes agent, node or both (agent,node), not ${m}`)
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-bench-lb-'))
  const name = `bl${randomBytes(2).toString('hex')}`
  let bad = 0
  try {
    const state: LabState = await labUp({ name, nodes: 3, stateDir, apiPort: 0, serverFlags: ['--dns-replicas', '1'], ...(v['address-lifetime'] !== undefined ? { agentFlags: ['--lb-address-lifetime', v['address-lifetime']] } : {}), progress: (l) => process.stderr.write(`${l}\n`) })
    const client = createClient(loadKubeconfig(state.kubeconfig!))
    const home = state.plan.nodes.find((n) => n.server)!.name
    await client.resource<Node>(resourceFor('nodes')).patch(home, { metadata: { labels: { [EXCLUDE_LABEL]: '' } } }, 'merge')
    const labels = { app: 'web' }
    await client.resource<Deployment>(resourceFor('deployments'), 'default').create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { replicas: 3, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { nodeSelector: { 'kubernetes.io/hostname': home }, containers: [{ name: 'web', image: 'agnhost', args: ['netexec', '--http-port=8080'], readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 } }] } } },
    } as Deployment)
    const svcs = client.resource<Service>(resourceFor('services'), 'default')
    await svcs.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'LoadBalancer', selector: labels, ports: [{ port: 80, targetPort: 8080 }] } })
    const pods = client.resource<Pod>(resourceFor('pods'), 'default')
    await until('3 ready web pods', async () => (await pods.list({ labelSelector: 'app=web' })).items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3, 120_000)
    let ip = ''
    await until('an EXTERNAL-IP', async () => !!(ip = (await svcs.get('web')).status?.loadBalancer?.ingress?.[0]?.ip ?? ''), 10_000)
    const url = `http://${ip}/hostname`
    await until('one announcer', async () => (await announcerOf(state, ip)).length === 1, 60_000)

    let falseMoves = 0
    if (quietS > 0) {
      process.stderr.write(`quiet ${quietS} s (no kills; load ${load()})…\n`)
      const moves = await countAddressMoves(state, ip, quietS * 1000)
      falseMoves = moves.length
      for (const m of moves) process.stderr.write(`  ${new Date(m.at).toISOString()} ${m.node} added ${ip}\n`)
      process.stderr.write(`quiet phase: ${falseMoves} false takeovers (load ${load()})\n`)
    }

    const leases = client.resource<Lease>(resourceFor('leases'), 'kube-system')
    // the returning node's announcer runs again once it renews its Lease: a take-back would follow
    const speakerBack = (node: string) => async (since: number): Promise<boolean> => Date.parse((await leases.get(`${SPEAKER_LEASE_PREFIX}${node}`)).spec?.renewTime ?? '') > since
    const byMode = new Map<FailoverMode, { r: FailoverResult[]; settle: number[]; load: number[]; double: number[]; tookBack: number; back: ReturnSample[] }>()
    for (const mode of modes) {
      const acc = { r: [] as FailoverResult[], settle: [] as number[], load: [] as number[], double: [] as number[], tookBack: 0, back: [] as ReturnSample[] }
      byMode.set(mode, acc)
      for (let i = 0; i < kills; i++) {
        await until('one announcer', async () => (await announcerOf(state, ip)).length === 1, 60_000)
        acc.load.push(loadavg()[0]!)
        const r = await measureFailover(state, ip, url, { mode, beforeMs: 1000, afterMs: 4000 })
        acc.r.push(r)
        const back = await restoreNode(state, r, ip, url, { speakerBack: speakerBack(r.victim) })
        acc.settle.push(back.settledMs)
        acc.double.push(back.doubleHolderMs)
        acc.back.push(back.afterReturn)
        if (back.tookBack) acc.tookBack++
        process.stderr.write(`${mode} ${i + 1}/${kills}: ${r.victim} → ${r.successor ?? '(none)'} takeover ${r.takeoverMs ?? '-'} ms, ARP ${r.arpMs ?? '-'} ms, outage ${r.outageMs} ms (${r.failed}/${r.total} failed); restored: one holder (${back.holder}) after ${back.settledMs} ms, ${back.tookBack ? 'TOOK IT BACK' : 'kept by the successor'}, two holders for ${back.doubleHolderMs} ms; after the return ${back.afterReturn.replyMacs.length} ARP replies to ${back.afterReturn.probes} probes, two holders in ${back.afterReturn.twoHolderReads} of ${back.afterReturn.reads} reads; load ${load()}\n`)
      }
    }

    console.log(`\nbench:lb — LoadBalancer failover, ${kills} failures per mode (3 nodes, nftables; L2 announcer: 250 ms lease renewals, 1 s lease on the renewal clock, /32 with a 2 s kernel lifetime, GARP at 0/100/300/1000 ms)`)
    console.log(`client: a new request every 25 ms from the outside namespace, 300 ms connect timeout; timings from the kernels' address/neighbour events`)
    const row = (label: string, xs: number[], bar = true): string =>
      `${label.padEnd(40)} ${String(percentile(xs, 50)).padStart(6)} ${String(percentile(xs, 99)).padStart(6)} ${String(Math.max(...xs)).padStart(6)}   ${bar ? (Math.max(...xs) <= BAR_MS ? 'ok' : 'OVER') : ''}`
    for (const [mode, acc] of byMode) {
      const take = acc.r.map((r) => r.takeoverMs ?? Infinity)
      const arp = acc.r.map((r) => r.arpMs ?? Infinity)
      const out = acc.r.map((r) => r.outageMs)
      console.log(`\nmode ${mode}: ${mode === 'agent' ? 'kill -9 of the announcing agent' : 'kill -9 of the agent + the node’s cable pulled (a dead node)'}; load avg (1 min) ${Math.min(...acc.load).toFixed(1)}–${Math.max(...acc.load).toFixed(1)}`)
      console.log(`${'ms'.padEnd(40)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'max'.padStart(6)}   bar ${BAR_MS} ms (issue #12)`)
      console.log(row('takeover (another node holds the IP)', take))
      console.log(row('outside ARP entry moved (GARP)', arp))
      console.log(row('requests failing (outage)', out))
      console.log(row('restored → one consistent holder', acc.settle, false))
      console.log(row(mode === 'node' ? 'two holders after the node returned' : 'two holders while the agent was dead', acc.double, false))
      console.log(`failed requests: ${acc.r.reduce((a, r) => a + r.failed, 0)} of ${acc.r.reduce((a, r) => a + r.total, 0)}; the returning node took the address back: ${acc.tookBack} of ${acc.r.length}`)
      const sum = (f: (b: ReturnSample) => number): number => acc.back.reduce((a, b) => a + f(b), 0)
      const doubleAfter = acc.back.filter((b) => b.replyMacs.length > b.probes || b.twoHolderReads > 0).length
      console.log(`after the return (3 s sampled): ${sum((b) => b.replyMacs.length)} ARP replies to ${sum((b) => b.probes)} broadcast probes from outside; two nodes held the /32 in ${sum((b) => b.twoHolderReads)} of ${sum((b) => b.reads)} reads of the kernels; returns with a second holder: ${doubleAfter} of ${acc.back.length}`)
      bad += doubleAfter
      bad += [...take, ...arp, ...out].filter((x) => !(x <= BAR_MS)).length
    }
    if (quietS > 0) console.log(`\nfalse takeovers in a quiet ${quietS} s (no failure; nodes adding the address, seen by their kernels): ${falseMoves}   load avg (1 min) at its end ${loadavg()[0]!.toFixed(1)}`)
    bad += falseMoves
  } finally {
    // the daemons' logs (speaker decisions) outlive the lab when asked for
    if (v['keep-logs']) cpSync(join(stateDir, 'logs'), v['keep-logs'], { recursive: true })
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  }
  if (bad) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
