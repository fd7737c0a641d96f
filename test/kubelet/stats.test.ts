// The kubelet's usage figures (stats.ts): rates from two samples as cAdvisor computes them, and
// real /proc readings of a process tree and of the machine.
import t from 'tap'
import { nodeUsage, toStats, treeUsage } from '../../src/kubelet/stats.js'
import { nodeMetrics, podMetrics } from '../../src/apiserver/metrics-api.js'

t.test('rates from two samples', async (t) => {
  const a = { atMs: 1_000, cpuNs: 5e9, memBytes: 1 << 20 }
  const b = { atMs: 3_000, cpuNs: 6e9, memBytes: 2 << 20 }
  const s = toStats(a, b)
  t.equal(s.cpu.usageNanoCores, 5e8, '1 s of CPU over 2 s of wall time: half a core')
  t.equal(s.cpu.usageCoreNanoSeconds, 6e9)
  t.equal(s.memory.workingSetBytes, 2 << 20)
  t.equal(toStats(undefined, b).cpu.usageNanoCores, undefined, 'one sample: no rate yet')
})

t.test('/proc readings', async (t) => {
  const me = treeUsage(process.pid)
  t.ok(me.cpuNs > 0 && me.memBytes > 10 << 20, `this process: ${me.cpuNs} ns CPU, ${me.memBytes} B resident`)
  const n = nodeUsage()
  t.ok(n.cpuNs > 0 && n.memBytes > 0 && n.availableBytes > 0)
})

t.test('NodeMetrics and PodMetrics from a summary', async (t) => {
  const cpu = { time: '2026-12-01T00:00:00Z', usageNanoCores: 250_000_000, usageCoreNanoSeconds: 1 }
  const memory = { time: cpu.time, workingSetBytes: 64 << 20, rssBytes: 64 << 20 }
  const summary = { node: { nodeName: 'n1', cpu, memory }, pods: [{ podRef: { name: 'p', namespace: 'd', uid: 'u' }, cpu, memory, containers: [{ name: 'c', startTime: '', cpu, memory }] }] }
  t.match(nodeMetrics({ metadata: { name: 'n1', labels: { a: 'b' } } } as never, summary, '5s', 'now'), { kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1', metadata: { name: 'n1', labels: { a: 'b' } }, window: '5s', usage: { cpu: '250000000n', memory: '64Mi' } })
  t.match(podMetrics({ metadata: { name: 'p', namespace: 'd', uid: 'u' }, spec: { containers: [] } } as never, summary, '5s', 'now'), { kind: 'PodMetrics', containers: [{ name: 'c', usage: { cpu: '250000000n', memory: '64Mi' } }] })
  t.equal(podMetrics({ metadata: { name: 'q', namespace: 'd', uid: 'other' }, spec: { containers: [] } } as never, summary, '5s', 'now'), undefined, 'no stats: no metrics')
  const early = { ...summary, pods: [{ ...summary.pods[0]!, containers: [{ name: 'c', startTime: '', cpu: { time: '', usageCoreNanoSeconds: 1 }, memory }] }] }
  t.equal(podMetrics({ metadata: { name: 'p', namespace: 'd', uid: 'u' }, spec: { containers: [] } } as never, early, '5s', 'now'), undefined, 'a container without a rate yet: left out, as metrics-server does')
})
