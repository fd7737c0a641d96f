// The chaos suite's run and assertions, shared by test/e2e/chaos.test.ts and chaos-ha.test.ts:
// run the seeded kill loop in a lab, print the table, then check the bar — every
// target killed, 0 acked writes lost, recovery after every kill, converged node state — and
// that `lab down` leaves nothing. `between` adds a file's own checks before the lab goes down.
import type { Test } from 'tap'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { labDown } from '../../src/lab/lab.js'
import { runChaos, renderReport, labProcesses, leftovers, type ChaosReport } from '../../src/chaos/chaos.js'
import type { Lab } from './lab.js'

export async function chaosSuite(t: Test, lab: Lab, o: { seed: number; durationMs: number; between?: (r: ChaosReport) => void }): Promise<ChaosReport> {
  t.comment(`seed ${o.seed}: CHAOS_SEED=${o.seed} reruns this kill order`)
  const report = await runChaos({ state: lab.state, config: loadKubeconfig(lab.kubeconfig), durationMs: o.durationMs, seed: o.seed, log: (l) => t.comment(l) })
  t.comment(renderReport(report))

  const killed = new Set(report.kills.map((k) => k.target))
  t.same(report.targets.filter((x) => !killed.has(x)), [], `every target killed at least once (${report.kills.length} kills over ${report.targets.length} targets)`)
  const w = report.writes
  t.ok(w.acked >= 100, `writers kept writing through the chaos (${w.acked} acked)`)
  t.equal(w.lostAcked, 0, '0 acknowledged writes lost')
  t.equal(w.corrupt, 0, '0 corrupt objects')
  t.same(w.violations, [], 'every object holds its last acked write (or a later unknown one); resourceVersions strictly increase')
  t.ok(report.samples.svc > 50 && report.samples.dns > 50, `the in-pod client kept probing (${report.samples.svc} Service, ${report.samples.dns} DNS)`)
  t.same(report.rows.filter((r) => r.controlPlaneMs === undefined).map((r) => r.target), [], 'the control plane answered again after every kill')
  t.same(report.rows.filter((r) => r.backMs === undefined).map((r) => r.target), [], 'every killed component came back')
  o.between?.(report)
  const c = report.convergence
  t.same(c.pids, [], 'no component restarting at the end (no crash loop)')
  t.same(c.proxy, [], "each node's proxy rules match the Services and EndpointSlices")
  t.same(c.dns, [], 'DNS answers match the Services')
  t.same(c.ipam, [], 'IPAM files = pods on every node')
  t.same(c.netns, [], 'pod namespaces = pods on every node')

  const procs = labProcesses(lab.state)
  await labDown({ name: lab.state.plan.name, stateDir: lab.state.stateDir, progress: () => {}, keepState: true })
  t.same(await leftovers(lab.state, procs), [], `lab down leaves no namespace and none of the ${procs.length} lab processes`)
  return report
}
