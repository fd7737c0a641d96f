// The namespace handle against the real kernel, in throwaway namespaces: programs run and
// started through it land in the namespace (by inode), see /etc the way they asked to, get
// their bind mounts privately, and are the PID we hold; its ops and nft work inside it.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withNetns } from '../helpers/netns.js'
import { IpOps, NetError, netnsHandle, netnsPath, openRtnl } from './imports.js'
import { NftTransaction } from '../../src/net/nft.js'
import type { ChildProcess } from '../../src/util/exec.js'

const inodeOf = (path: string): number => statSync(path).ino
/** The network namespace inode a program reports for itself. */
const nsInodeFrom = (stdout: string): number => Number(/net:\[(\d+)\]/.exec(stdout)?.[1])

async function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return
  await new Promise((r) => c.once('exit', r))
}

t.test('run: the program is inside the namespace, by name, by path, or here', async (t) => {
  const ns = await withNetns(t, 'dr')
  const want = inodeOf(netnsPath(ns))
  for (const [label, h, etc] of [
    ['name, host /etc', netnsHandle(ns), 'host'],
    ['name, /etc/netns', netnsHandle(ns), 'netns'],
    ['path', netnsHandle(netnsPath(ns)), 'host'],
  ] as const) {
    const r = await h.run('readlink', ['/proc/self/ns/net'], { etc })
    t.equal(nsInodeFrom(r.stdout), want, label)
  }
  const here = await netnsHandle().run('readlink', ['/proc/self/ns/net'])
  t.equal(nsInodeFrom(here.stdout), inodeOf('/proc/self/ns/net'), 'no ref: this process’s own namespace')
  t.equal(netnsHandle(ns).path, netnsPath(ns))
  t.equal(netnsHandle().path, undefined)
})

t.test('etc: "netns" shows /etc/netns/NAME over /etc, "host" does not', async (t) => {
  const ns = await withNetns(t, 'de')
  const dir = join('/etc/netns', ns)
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'resolv.conf'), `nameserver 10.99.0.53 # ${ns}\n`)
  const h = netnsHandle(ns)
  t.match((await h.run('cat', ['/etc/resolv.conf'], { etc: 'netns' })).stdout, ns, 'pod view: the namespace’s resolv.conf')
  t.equal((await h.run('cat', ['/etc/resolv.conf'])).stdout, readFileSync('/etc/resolv.conf', 'utf8'), 'default (host): the host’s resolv.conf')
  const err = await netnsHandle(netnsPath(ns))
    .run('true', [], { etc: 'netns' })
    .catch((e: unknown) => e)
  t.ok(err instanceof NetError && err.code === 'EINVAL', '/etc/netns mounts need a name, not a path')
})

t.test('spawn: the PID is the program’s own, inside the namespace; output goes to the log', async (t) => {
  const ns = await withNetns(t, 'ds')
  const dir = mkdtempSync(join(tmpdir(), 'nk-door-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const etc of ['host', 'netns'] as const) {
    const log = join(dir, `${etc}.log`)
    const c = netnsHandle(ns).spawn(['sh', '-c', 'echo started; exec sleep 30'], { etc, logPath: log, detached: true })
    t.teardown(() => {
      if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL')
    })
    await new Promise((r) => c.once('spawn', r))
    let comm = ''
    for (let i = 0; i < 100 && comm !== 'sleep'; i++) {
      await new Promise((r) => setTimeout(r, 20))
      comm = readFileSync(`/proc/${c.pid}/comm`, 'utf8').trim()
    }
    t.equal(comm, 'sleep', `${etc}: no wrapper process left between us and the program`)
    t.equal(inodeOf(`/proc/${c.pid}/ns/net`), inodeOf(netnsPath(ns)), `${etc}: in the namespace`)
    t.equal(readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3], String(c.pid), `${etc}: detached = own process group`)
    t.equal(readFileSync(log, 'utf8'), 'started\n', `${etc}: stdout appended to the log`)
    process.kill(c.pid!, 'SIGTERM')
    await exited(c)
  }
})

t.test('binds: made in the program’s own mount namespace, in both etc modes and here', async (t) => {
  const ns = await withNetns(t, 'db')
  const dir = mkdtempSync(join(tmpdir(), 'nk-door-'))
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src', 'data.txt'), 'bound\n')
  const target = join(dir, 'mnt')
  t.teardown(async () => {
    // should a bind ever leak onto the host, take it down before the directory goes
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(target)) await netnsHandle().run('umount', [target], { allowFailure: true })
    rmSync(dir, { recursive: true, force: true })
  })
  for (const [label, h, etc] of [
    ['host', netnsHandle(ns), 'host'],
    ['netns', netnsHandle(ns), 'netns'],
    ['own namespace', netnsHandle(), 'host'],
  ] as const) {
    const binds = [{ source: join(dir, 'src'), target, readOnly: true }]
    const r = await h.run('sh', ['-c', `cat ${target}/data.txt; touch ${target}/w 2>/dev/null && echo writable || echo read-only`], { etc, binds })
    t.equal(r.stdout, 'bound\nread-only\n', `${label}: the bind is there, read-only`)
    t.notMatch(readFileSync('/proc/self/mountinfo', 'utf8'), target, `${label}: the host never sees the mount`)
  }
})

t.test('ops and nft act inside the namespace', async (t) => {
  const a = await withNetns(t, 'dn')
  const b = await withNetns(t, 'dm')
  const names = await netnsHandle(a).withOps(async (ops) => {
    await ops.createBridge({ name: 'brd' })
    return (await ops.listLinks()).map((l) => l.name).sort()
  })
  t.same(names, ['brd', 'lo'], 'only the namespace’s links')
  t.equal(await netnsHandle(b).withOps((ops) => ops.getLink('brd')), undefined, 'not in the other namespace')

  const tx = new NftTransaction('ip', 'nkdoor')
  tx.add({ kind: 'table' })
  tx.add({ kind: 'chain', name: 'c' })
  await netnsHandle(a).nft().apply(tx)
  t.match(await netnsHandle(a).nft().listTable('ip', 'nkdoor'), /chain c/, 'the table is in the namespace')
  t.equal(await netnsHandle(b).nft().listTable('ip', 'nkdoor'), undefined, 'and nowhere else')
})

t.test('both NetOps implementations read a route’s type (unreachable = 7)', async (t) => {
  const ns = await withNetns(t, 'dt')
  await netnsHandle(ns).ipBatch(['route add unreachable 10.123.0.0/16', 'route add blackhole 10.124.0.0/16'])
  for (const [label, ops] of [
    ['netlink', openRtnl(ns)],
    ['ip fallback', new IpOps(ns)],
  ] as const) {
    const routes = await ops.listRoutes({ family: 4 })
    ops.close()
    t.equal(routes.find((r) => r.dst === '10.123.0.0/16')?.type, 7, `${label}: unreachable`)
    t.equal(routes.find((r) => r.dst === '10.124.0.0/16')?.type, 6, `${label}: blackhole`)
  }
})
