// bench:proxy -- --lab: network programming latency in a 3-node lab, as upstream's SLI
// (kubernetes/community sig-scalability slos/network_programming_latency.md: from an
// EndpointSlice change to the proxy rules reflecting it on every node). 1,000 Services
// (BENCH_PROXY_LAB_SERVICES) without selectors, each with an EndpointSlice of its own; a
// sample moves one Service between 1 and 2 endpoints with an API write and polls every
// node's table over netlink (the Service's key in set endpoints-1/-2 of the maps layout) until
// all three have it. Samples are spaced beyond kube-proxy's 1 s minimum sync period, so each
// measures an idle proxy's path (watch → tracker → sync → kernel), not coalescing delay.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { resourceFor } from '../src/api/resources.js'
import type { EndpointSlice, Namespace, Service } from '../src/api/types.js'
import { loadKubeconfig } from '../src/client/kubeconfig.js'
import { createClient } from '../src/client/rest.js'
import { labDown, labUp } from '../src/lab/lab.js'
import { dumpSetKeys, ip4KeyPart } from '../src/net/nft-netlink.js'

const SERVICES = Number(process.env.BENCH_PROXY_LAB_SERVICES ?? 1000)
const SAMPLES = Number(process.env.BENCH_PROXY_LAB_SAMPLES ?? 60)
const NS = 'plb'
const TABLE = 'netkube-proxy'

const slice = (i: number, eps: number): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `svc-${i}-x`, namespace: NS, labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'bench.netkube.io' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: Array.from({ length: eps }, (_, k) => ({ addresses: [`10.244.${200 + k}.${(i % 250) + 1}`], conditions: { ready: true } })),
})

/** Is `ip . tcp . 80` in the set (the kernel pads each concatenated part to 4 bytes)? */
async function hasKey(netns: string, set: string, ip: string): Promise<boolean> {
  const want = ip4KeyPart(ip)
  return (await dumpSetKeys(netns, 'ip', TABLE, set)).some((k) => k.subarray(0, 4).equals(want) && k.readUInt16BE(8) === 80)
}

async function until(netns: string, set: string, ip: string, timeoutMs: number): Promise<number> {
  const end = performance.now() + timeoutMs
  for (;;) {
    if (await hasKey(netns, set, ip).catch(() => false)) return performance.now()
    if (performance.now() > end) throw new Error(`${ip} not in ${set} on ${netns} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

export async function main(): Promise<void> {
  const log = (l: string): void => void process.stderr.write(`${l}\n`)
  const name = `bp${randomBytes(2).toString('hex')}`
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-bench-proxy-'))
  try {
    const state = await labUp({ name, nodes: 3, stateDir, apiPort: 0, serverFlags: ['--dns-replicas', '1'], progress: log })
    const client = createClient(loadKubeconfig(state.kubeconfig!))
    const nodes = state.plan.nodes
    await client.resource<Namespace>(resourceFor('namespaces')).create({ metadata: { name: NS } } as Namespace)
    const svcs = client.resource<Service>(resourceFor('services'), NS)
    const slices = client.resource<EndpointSlice>(resourceFor('endpointslices'), NS)
    const ips: string[] = new Array(SERVICES)
    const count: number[] = new Array(SERVICES).fill(1)
    const t0 = performance.now()
    let next = 0
    const worker = async (): Promise<void> => {
      for (let i = next++; i < SERVICES; i = next++) {
        const s = await svcs.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}` }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } } as Service)
        ips[i] = s.spec.clusterIP!
        await slices.create(slice(i, 1))
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    log(`created ${SERVICES} Services and EndpointSlices in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    for (const n of nodes) await until(n.netns, 'endpoints-1', ips[SERVICES - 1]!, 120_000)
    log('every node has programmed them')
    const samples: { e2e: number; write: number; perNode: number[] }[] = []
    for (let k = 0; k < SAMPLES; k++) {
      await new Promise((r) => setTimeout(r, 1100)) // beyond the proxies' 1 s minimum sync period
      const i = Math.floor(Math.random() * SERVICES)
      const eps = 3 - count[i]!
      const start = performance.now()
      const cur = await slices.get(`svc-${i}-x`)
      await slices.update({ ...slice(i, eps), metadata: { ...slice(i, eps).metadata, resourceVersion: cur.metadata.resourceVersion } })
      const written = performance.now()
      const at = await Promise.all(nodes.map((n) => until(n.netns, `endpoints-${eps}`, ips[i]!, 30_000)))
      count[i] = eps
      samples.push({ e2e: Math.max(...at) - start, write: written - start, perNode: at.map((x) => x - start) })
    }
    const e2e = samples.map((s) => s.e2e)
    const f = (x: number): string => x.toFixed(1)
    const lines = [
      `bench:proxy --lab — network programming latency (EndpointSlice write → its element in every node's table), ${SERVICES} Services, ${nodes.length} nodes, ${samples.length} samples`,
      `load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (latencies under load are inflated; goal p99 < 100 ms)`,
      '',
      '| what | p50 ms | p99 ms | max ms |',
      '|---|---:|---:|---:|',
      `| every node (the SLI) | ${f(pct(e2e, 50))} | ${f(pct(e2e, 99))} | ${f(Math.max(...e2e))} |`,
      `| API write (GET + PUT) | ${f(pct(samples.map((s) => s.write), 50))} | ${f(pct(samples.map((s) => s.write), 99))} | ${f(Math.max(...samples.map((s) => s.write)))} |`,
      `| after the write returned | ${f(pct(samples.map((s) => s.e2e - s.write), 50))} | ${f(pct(samples.map((s) => s.e2e - s.write), 99))} | ${f(Math.max(...samples.map((s) => s.e2e - s.write)))} |`,
      ...nodes.map((n, j) => {
        const xs = samples.map((s) => s.perNode[j]!)
        return `| ${n.name} | ${f(pct(xs, 50))} | ${f(pct(xs, 99))} | ${f(Math.max(...xs))} |`
      }),
    ]
    process.stdout.write(lines.join('\n') + '\n')
  } finally {
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  }
}
