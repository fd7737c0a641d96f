// Issue 10: every lab daemon is supervised. In a real (one-node) lab, kill -9 etcd and the
// host relay — the components themselves, by their pidfiles — and see them restarted, the API
// answering real kubectl again, and `netkube lab status` showing the restart and its reason.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { componentPidfile, componentStatus } from '../../src/lab/lab.js'
import { netnsHandle } from '../../src/net/door.js'
import { withLab, waitUntil } from '../helpers/lab.js'
import { MAIN, need } from '../helpers/prereq.js'

t.test('kill -9 etcd and the host relay: restarted, the API answers, lab status says why', { skip: need('build', 'etcd', 'dnsmasq', 'dig', 'kubectl') }, async (t) => {
  const lab = await withLab(t, { nodes: 1 })
  const { stateDir, plan } = lab.state
  const pidOf = (role: string, node: string): number => Number(readFileSync(componentPidfile(stateDir, role, node), 'utf8'))
  await lab.k(['create', 'configmap', 'before'])

  for (const [role, node] of [['etcd', 'node1'], ['relay', 'host'], ['dnsmasq', 'underlay'], ['relay', 'node1']] as const) {
    const old = pidOf(role, node)
    const killedAt = Date.now()
    process.kill(old, 'SIGKILL')
    await waitUntil(`${role}/${node} restarted`, async () => {
      const s = componentStatus(stateDir, role, node)
      return s?.state === 'running' && s.pid !== old && pidOf(role, node) === s.pid
    }, 30_000)
    const s = componentStatus(stateDir, role, node)!
    t.comment(`${role}/${node}: kill -9 → running again in ${Date.now() - killedAt} ms`)
    t.equal(s.restarts, 1, `${role}/${node}: one restart`)
    t.equal(s.lastExit?.reason, 'killed by signal 9 (SIGKILL)', `${role}/${node}: the exit reason`)
  }
  // The API again, through the restarted relays and etcd (its client reconnects).
  const apiFrom = Date.now()
  await waitUntil('kubectl writes again', async () => (await lab.kubectl(['create', 'configmap', 'after'])).code === 0 || (await lab.kubectl(['get', 'configmap', 'after'])).code === 0, 60_000)
  t.comment(`kubectl write accepted ${Date.now() - apiFrom} ms after the last restart`)
  t.match(await lab.k(['get', 'configmap', 'before', 'after', '-o', 'name']), /configmap\/before\nconfigmap\/after/, 'the write before the kills survived, the one after landed')
  const dig = await netnsHandle(plan.nodes[0]!.netns).run('dig', ['+short', '+time=2', '+tries=3', `@${plan.gateway}`, 'a.example.org'], { allowFailure: true })
  t.equal(dig.stdout.trim(), plan.gateway, 'the restarted dnsmasq answers')

  const out = await netnsHandle().run(process.execPath, [MAIN, 'lab', 'status', '--name', plan.name, '--state-dir', stateDir])
  const row = (role: string, node: string): string => out.stdout.split('\n').find((l) => new RegExp(`^\\s+${role}\\s+${node}\\s`).test(l)) ?? ''
  t.match(row('etcd', 'node1'), /running\s+1\s+\d+s\s+\d+\s+killed by signal 9 \(SIGKILL\)/, `lab status: etcd running, 1 restart, uptime, pid, reason\n${out.stdout}`)
  t.match(row('relay', 'host'), /running\s+1\s+.*SIGKILL/, 'lab status: the host relay too')
  t.match(row('server', 'node1'), /running\s+0\s+\d+s\s+\d+\s+-$/, 'lab status: the server never restarted')
})
