// `netkube trace --probe`: confirm a predicted path with one real packet. Design:
//   1. predict (trace()) to learn the source namespace, the destination and the nodes;
//   2. per node, a table of our own, `ip nktrace-<run>`, whose filter chains at priority -400
//      (before conntrack and every NAT) set `meta nftrace set 1` on the probe's packets only:
//      its 5-tuple is fixed by choosing the source port, and after masquerade (source and port
//      rewritten) the remote node matches the other nodes' addresses towards the pod network;
//   3. `nft monitor trace` in every node's namespace, then the packet is sent from FROM's own
//      namespace (a TCP connect or a UDP datagram from that port), events collected for a moment;
//   4. the trace is re-run following the endpoint the packet really took (its DNAT rule in the
//      events), and every nft hop it predicts must appear as an event on its node, table and chain.
// Whatever happens (an error, Ctrl-C, SIGTERM) the monitors are stopped by their PID and the
// tables deleted: tracing leaves nothing in the dataplane (test/e2e/trace.test.ts checks every
// node's `nft list ruleset`).
import { randomBytes } from 'node:crypto'
import { netnsHandle } from '../net/door.js'
import { NftTransaction } from '../net/nft.js'
import { nftListTable } from '../net/inspect.js'
import type { ChildProcess } from '../util/exec.js'
import { parseAddresses, parseTraceLine } from './parse.js'
import { addresses } from '../net/inspect.js'
import { trace, tracePath, type TraceContext } from './trace.js'
import type { Hop, ProbeEvent, TraceRequest, TraceResult } from './types.js'

export const PROBE_TABLE_PREFIX = 'nktrace-'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface Armed {
  node: string
  netns: string
  table: string
  monitor?: ChildProcess
  out: string
}

/** The probe's own table on one node (pure: tested against the nft syntax in test/trace). */
export function probeTable(table: string, m: { src: string; sport: number; proto: 'tcp' | 'udp'; others: string[]; clusterCIDR: string }): NftTransaction {
  const tx = new NftTransaction('ip', table)
  tx.add({ kind: 'table' })
  const match = `ip saddr ${m.src} meta l4proto ${m.proto} th sport ${m.sport}`
  for (const [name, hook] of [['pre', 'prerouting'], ['out', 'output']] as const) {
    tx.add({ kind: 'chain', name, type: 'filter', hook, priority: -400 })
    tx.add({ kind: 'rule', chain: name, rule: `${match} counter` })
    // trace the connection's first packet only (the SYN): the rest take conntrack's shortcut
    tx.add({ kind: 'rule', chain: name, rule: m.proto === 'tcp' ? `${match} tcp flags & (syn | ack) == syn meta nftrace set 1` : `${match} meta nftrace set 1` })
  }
  // after masquerade (NodePort, traffic from a node): another node's address towards a pod
  if (m.others.length) tx.add({ kind: 'rule', chain: 'pre', rule: `ip saddr { ${m.others.join(', ')} } ip daddr ${m.clusterCIDR} meta l4proto ${m.proto}${m.proto === 'tcp' ? ' tcp flags & (syn | ack) == syn' : ''} meta nftrace set 1` })
  return tx
}

/** The script that sends the probe from inside FROM's namespace. */
function senderScript(dst: string, port: number, sport: number, proto: 'tcp' | 'udp'): string {
  if (proto === 'udp')
    return `const s=require('dgram').createSocket('udp4');s.bind(${sport},()=>s.send('netkube-trace',${port},'${dst}',()=>setTimeout(()=>{s.close();process.stdout.write('sent')},300)))`
  return `const c=require('net').connect({host:'${dst}',port:${port},localPort:${sport}});const t=setTimeout(()=>{process.stdout.write('timeout');c.destroy()},2000);c.on('connect',()=>{clearTimeout(t);process.stdout.write('connected');c.end()});c.on('error',e=>{clearTimeout(t);process.stdout.write(e.code||e.message)})`
}

/** Which predicted hops must show as events: every nft decision, by node, table and chain. */
export function expectedEvents(hops: readonly Hop[]): { node: string; table: string; chain: string; hop: string }[] {
  const out: { node: string; table: string; chain: string; hop: string }[] = []
  for (const h of hops) {
    const table = h.detail?.table
    const chain = h.detail?.chain
    if (!h.node || !table || !chain) continue
    // the masquerading chain runs in nat postrouting, which trace shows (it is a chain hit)
    out.push({ node: h.node, table: table.split(' ')[1] ?? table, chain, hop: `${h.kind}: ${h.summary}` })
  }
  return out
}

/** Compare events with the prediction (pure). */
export function matchEvents(hops: readonly Hop[], events: readonly ProbeEvent[]): { matched: boolean; mismatches: string[] } {
  const mismatches: string[] = []
  for (const e of expectedEvents(hops)) {
    if (!events.some((ev) => ev.node === e.node && ev.table === e.table && ev.chain === e.chain)) mismatches.push(`predicted ${e.node} ${e.table} ${e.chain} (${e.hop}) but the packet did not pass there`)
  }
  if (!events.length) mismatches.push('no trace event was seen')
  return { matched: mismatches.length === 0, mismatches }
}

/** Events from the monitors' output (our own table's are kept: they show the packet arrived). */
export function eventsFrom(node: string, out: string): ProbeEvent[] {
  const evs: ProbeEvent[] = []
  for (const line of out.split('\n')) {
    const e = parseTraceLine(line)
    if (!e || e.what === 'packet') continue
    evs.push({ node, table: e.table, chain: e.chain, ...(e.handle !== undefined ? { handle: e.handle } : {}), ...(e.verdict ? { verdict: e.verdict } : {}), line: e.line })
  }
  return evs
}

async function cleanup(armed: Armed[]): Promise<void> {
  for (const a of armed) {
    if (a.monitor && a.monitor.exitCode === null && a.monitor.pid) {
      const exited = new Promise((r) => a.monitor!.once('exit', r))
      a.monitor.kill('SIGTERM')
      await Promise.race([exited, sleep(1000)])
    }
  }
  await Promise.all(armed.map((a) => netnsHandle(a.netns).run('nft', ['delete', 'table', 'ip', a.table], { allowFailure: true, timeoutMs: 5000 })))
}

/** A trace confirmed by one real packet. */
export async function traceWithProbe(req: TraceRequest, ctx: TraceContext): Promise<TraceResult> {
  const { result: predicted, packet: target } = await tracePath({ ...req, probe: false }, ctx)
  if (!target) return { ...predicted, request: req, probe: { events: [], matched: false, mismatches: ['nothing to probe: the prediction has no destination address'] } }
  const table = `${PROBE_TABLE_PREFIX}${randomBytes(3).toString('hex')}`
  const sport = 40000 + (randomBytes(2).readUInt16BE() % 20000)
  const nodeAddrs = new Map<string, string[]>()
  await Promise.all(ctx.nodes.map(async (n) => nodeAddrs.set(n.name, parseAddresses(await addresses(n.netns)).map((a) => a.ip).filter((ip) => !ip.startsWith('127.')))))
  const armed: Armed[] = []
  const onSignal = (): void => {
    void cleanup(armed).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await Promise.all(
      ctx.nodes.map(async (n) => {
        const a: Armed = { node: n.name, netns: n.netns, table, out: '' }
        armed.push(a)
        const others = [...nodeAddrs].filter(([k]) => k !== n.name).flatMap(([, v]) => v)
        await netnsHandle(n.netns).nft().apply(probeTable(table, { src: target.src, sport, proto: target.proto, others, clusterCIDR: ctx.clusterCIDR }))
        a.monitor = netnsHandle(n.netns).spawn(['nft', 'monitor', 'trace'], { stdio: 'pipe' })
        a.monitor.stdout?.setEncoding('utf8').on('data', (d: string) => (a.out += d))
        a.monitor.on('error', () => {})
      }),
    )
    await sleep(400) // the monitors subscribe to the trace group before the packet leaves
    const r = await netnsHandle(target.netns).run(process.execPath, ['-e', senderScript(target.dst, target.port, sport, target.proto)], { allowFailure: true, timeoutMs: 8000 })
    await sleep(500)
    const events = armed.flatMap((a) => eventsFrom(a.node, a.out))
    const listed = await Promise.all(armed.map((a) => nftListTable(a.netns, 'ip', a.table)))
    armed.forEach((a, i) => {
      for (const m of listed[i]!.out.matchAll(/counter packets (\d+) bytes (\d+)/g)) if (m[1] !== '0') events.push({ node: a.node, table: a.table, chain: 'counter', line: `${a.table}: counter packets ${m[1]} bytes ${m[2]}` })
    })
    // follow the endpoint the packet took (its DNAT rule), unless the prediction already did
    // per-endpoint chains print `dnat to IP:PORT`; the maps layout's dnat-slot-I rules print a
    // map lookup, so the slot chain the packet passed names the candidate it took
    const cands = predicted.hops.find((h) => h.kind === 'service-chain')?.candidates ?? []
    const dnat = events
      .map((e): [string, string, string] | null => {
        const m = /dnat to (\d+\.\d+\.\d+\.\d+):(\d+)/.exec(e.line)
        if (m) return [m[0], m[1]!, m[2]!]
        const c = e.table === 'netkube-proxy' && / dnat ip to /.test(` ${e.line}`) ? cands.find((x) => x.chain === e.chain && x.port !== undefined) : undefined
        return c ? [e.line, c.ip, String(c.port)] : null
      })
      .find(Boolean)
    const predictedDnat = predicted.hops.find((h) => h.kind === 'dnat')?.candidates?.[0]
    const same = !dnat || (predictedDnat?.ip === dnat[1] && predictedDnat?.port === Number(dnat[2]))
    if (same && dnat) {
      const h = predicted.hops.find((x) => x.kind === 'dnat')!
      h.summary = h.summary.replace(/\(([^;)]*)/, '(the endpoint the probe took')
    }
    const followed = same ? predicted : await trace({ ...req, probe: false }, { ...ctx, follow: { ip: dnat[1]!, port: Number(dnat[2]) } })
    const m = matchEvents(followed.hops, events)
    const sender = r.stdout.trim() || r.stderr.trim()
    return { ...followed, request: req, probe: { events, matched: m.matched, mismatches: m.mismatches, sender } }
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await cleanup(armed)
  }
}
