// iptables partial syncs (upstream's MinimizeIPTablesRestore): which chains one restore
// declares, keeps and deletes for a given change, and when the backend falls back to a full
// sync. Pure renders plus the backend over a recording runner; kernel.test.ts runs it for real.
import t from 'tap'
import { IPT, IPT_JUMPS, IptablesBackend, extChain, renderIptables, sepChain, svcChain, type IptablesRunner } from '../../src/proxy/iptables.js'
import { buildServicePorts, type ServicePortInfo } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc, type EpSpec } from './fixtures.js'

const cfg = { clusterCIDR: NODE.clusterCIDR }
const ep = (n: number): EpSpec => ({ ip: `10.244.1.${n}` })
const ports = (name: string, ip: string, eps: EpSpec[], nodePort?: number): readonly ServicePortInfo[] =>
  buildServicePorts(
    svc(name, { clusterIP: ip, ...(nodePort ? { type: 'NodePort' as const, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort }] } : {}) }),
    [slice(name, eps)],
    NODE.name,
  )
const world = (): Map<string, readonly ServicePortInfo[]> =>
  new Map([
    ['default/a', ports('a', '10.96.0.10', [ep(11), ep(12)])],
    ['default/b', ports('b', '10.96.0.11', [ep(13), ep(14)], 30081)],
    ['default/c', ports('c', '10.96.0.12', [ep(15)])],
  ])
/** The chains a Service's ports own, as the renderer names them. */
const chainsOf = (sps: readonly ServicePortInfo[]): string[] =>
  sps.flatMap((sp) => [svcChain(sp), ...(sp.nodePort ? [extChain(sp)] : []), ...sp.endpoints.map((e) => sepChain(sp, e))])
const declared = (text: string): string[] => text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!)
const deletedIn = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('-X ')).map((l) => l.slice(3))

t.test('full render: every chain declared, stale service chains deleted, foreign chains untouched', async (t) => {
  const w = world()
  const r = renderIptables(w, cfg, { existing: ['KUBE-SVC-GONEGONEGONEGONE', 'KUBE-MARK-DROP', IPT.services] })
  const all = [...w.values()].flatMap(chainsOf)
  t.same(r.written.sort(), [...all].sort())
  t.same(r.deleted, ['KUBE-SVC-GONEGONEGONEGONE'])
  t.same(deletedIn(r.text), ['KUBE-SVC-GONEGONEGONEGONE'])
  t.notMatch(r.text, /KUBE-MARK-DROP/)
})

t.test('partial render: one changed Service rewrites its own chains and the shared ones, nothing else', async (t) => {
  const before = world()
  const existing = renderIptables(before, cfg).natChains
  const after = world()
  after.set('default/b', ports('b', '10.96.0.11', [ep(13)], 30081)) // endpoint .14 went away
  const r = renderIptables(after, cfg, { existing, changed: new Set(['default/b']) })
  const bNow = chainsOf(after.get('default/b')!)
  const bGone = chainsOf(before.get('default/b')!).filter((c) => !bNow.includes(c))
  t.equal(bGone.length, 1, 'one SEP chain is stale')
  t.same(r.written.sort(), [...bNow].sort(), "only b's chains are written")
  t.same(r.deleted, bGone, "the removed endpoint's SEP chain is deleted")
  const decl = declared(r.text)
  for (const c of [...chainsOf(before.get('default/a')!), ...chainsOf(before.get('default/c')!)]) t.notOk(decl.includes(c), `${c} kept (not declared, so not flushed)`)
  for (const c of [IPT.filterServices, IPT.filterExternal, IPT.services, IPT.nodePorts, IPT.postrouting, IPT.markMasq]) t.ok(decl.includes(c), `${c} rewritten`)
  // the shared chains still carry every Service's entry
  for (const ip of ['10.96.0.10', '10.96.0.11', '10.96.0.12']) t.match(r.text, new RegExp(`-A KUBE-SERVICES .* -d ${ip.replace(/\./g, '\\.')}/32 .*-j KUBE-SVC-`))
  t.match(r.text, /-A KUBE-NODEPORTS .*--dport 30081 -j KUBE-EXT-/)
  t.equal(r.rules, renderIptables(after, cfg).rules, 'rule count includes kept chains')
  t.ok(r.text.length < renderIptables(after, cfg).text.length, 'the restore is smaller than a full one')
})

t.test('partial render: a removed Service loses its chains and its KUBE-SERVICES entry', async (t) => {
  const before = world()
  const existing = renderIptables(before, cfg).natChains
  const after = world()
  after.delete('default/b')
  const r = renderIptables(after, cfg, { existing, changed: new Set(['default/b']) })
  t.same(r.written, [])
  t.same(r.deleted, [...chainsOf(before.get('default/b')!)].sort())
  t.notMatch(r.text, /10\.96\.0\.11/)
  t.notMatch(r.text, /--dport 30081/)
  // iptables refuses -X of a chain still referenced: every deleted chain is declared (flushed) too
  for (const c of r.deleted) t.ok(declared(r.text).includes(c), `${c} flushed before -X`)
})

t.test('partial render: a no-endpoint Service is a filter REJECT, its old chains are deleted', async (t) => {
  const before = world()
  const existing = renderIptables(before, cfg).natChains
  const after = world()
  after.set('default/c', ports('c', '10.96.0.12', []))
  const r = renderIptables(after, cfg, { existing, changed: new Set(['default/c']) })
  t.same(r.deleted, [...chainsOf(before.get('default/c')!)].sort())
  t.match(r.text, /-A KUBE-SERVICES -m comment --comment "default\/c:http has no endpoints" -d 10\.96\.0\.12\/32 .* -j REJECT/)
})

t.test('partial render: an unchanged Service whose chain the kernel lacks gets it written', async (t) => {
  const w = world()
  const full = renderIptables(w, cfg).natChains
  const missing = svcChain(w.get('default/a')![0]!)
  const r = renderIptables(w, cfg, { existing: full.filter((c) => c !== missing), changed: new Set() })
  t.same(r.written, [missing])
  t.same(r.deleted, [])
})

/** Records restores; `fail` makes the next restore throw (as iptables-restore exiting 1). */
class RecordingRunner implements IptablesRunner {
  restores: string[] = []
  saves = 0
  jumps = 0
  fail = false
  kernel: string[] = []
  async restore(text: string): Promise<void> {
    if (this.fail) {
      this.fail = false
      throw new Error('iptables-restore: line 3 failed')
    }
    this.restores.push(text)
    const decl = declared(text)
    const del = new Set(deletedIn(text))
    this.kernel = [...new Set([...this.kernel, ...decl])].filter((c) => !del.has(c))
  }
  async natChains(): Promise<string[]> {
    this.saves++
    return this.kernel
  }
  async ensureJump(): Promise<void> {
    this.jumps++
  }
}

t.test('backend: full first (reads the kernel, ensures jumps), partial next, full again after a failure', async (t) => {
  const rr = new RecordingRunner()
  rr.kernel = ['KUBE-SVC-LEFTBYPREDECESSOR', IPT.services]
  const b = new IptablesBackend(rr, cfg)
  const w = world()
  await b.sync({ full: false, ports: w, changed: new Set() })
  t.same(b.last, { full: true, written: chainsOf(w.get('default/a')!).length + chainsOf(w.get('default/b')!).length + chainsOf(w.get('default/c')!).length, deleted: 1 }, 'first sync is full even if not asked')
  t.equal(rr.saves, 1)
  t.equal(rr.jumps, IPT_JUMPS.length)
  t.notOk(rr.kernel.includes('KUBE-SVC-LEFTBYPREDECESSOR'), "a predecessor's stale chain is adopted and deleted")

  w.set('default/a', ports('a', '10.96.0.10', [ep(11), ep(12), ep(16)]))
  await b.sync({ full: false, ports: w, changed: new Set(['default/a']) })
  t.same(b.last, { full: false, written: chainsOf(w.get('default/a')!).length, deleted: 0 })
  t.equal(rr.saves, 1, 'a partial sync does not run iptables-save')
  t.equal(rr.jumps, IPT_JUMPS.length, 'nor re-ensure jumps')

  rr.fail = true
  w.delete('default/c')
  await t.rejects(b.sync({ full: false, ports: w, changed: new Set(['default/c']) }))
  await b.sync({ full: false, ports: w, changed: new Set() })
  t.equal(b.last?.full, true, 'after a failed restore the next sync is full')
  t.equal(rr.saves, 2)
  t.equal(b.last?.deleted, chainsOf(world().get('default/c')!).length, "the failed sync's deletion happens in the full one")
})

t.test('backend: minimizeRestore false is the full-rewrite strawman', async (t) => {
  const rr = new RecordingRunner()
  const b = new IptablesBackend(rr, { ...cfg, minimizeRestore: false })
  const w = world()
  await b.sync({ full: true, ports: w, changed: new Set() })
  await b.sync({ full: false, ports: w, changed: new Set(['default/a']) })
  t.equal(b.last?.full, true)
  t.equal(rr.restores[1], rr.restores[0], 'the second restore rewrites everything again')
})
