// `lab node add|remove`, the pure parts: where a joining node goes, its agent's argv, which
// subnet leases are its own.
import t from 'tap'
import { labPlan } from '../../src/lab/plan.js'
import { agentArgvFor, joinArgv, leaseKeysOf, planAddedNode } from '../../src/lab/node-add.js'

t.test('planAddedNode: next free address, slot-keyed pod prefix, clear errors', async (t) => {
  const plan = labPlan('lab', 3)
  const n4 = planAddedNode(plan, 'node4')
  t.same(n4, { name: 'node4', netns: 'nklab-node4', underlayPort: 'ul-node4', ip: '192.168.56.13', podNetnsPrefix: 'nklab-n4-', server: false, etcd: false, zone: 'zone-b' })
  t.equal(planAddedNode(labPlan('lab', 3, { zones: [] }), 'node4').zone, undefined, 'a lab without zones adds none')
  // A gap left by a removed node is reused.
  const gap = { ...plan, nodes: plan.nodes.filter((n) => n.name !== 'node2') }
  t.same([planAddedNode(gap, 'edge').ip, planAddedNode(gap, 'edge').podNetnsPrefix], ['192.168.56.11', 'nklab-n2-'])
  t.throws(() => planAddedNode(plan, 'node2'), { message: 'node "node2" already exists in lab "lab"' })
  t.throws(() => planAddedNode(plan, 'Node_5'), /node name "Node_5" must be 1-12 lowercase/)
  t.throws(() => planAddedNode(plan, 'averyverylongname'), /must be 1-12/)
})

t.test('agentArgvFor swaps only the node-specific flags', async (t) => {
  const plan = labPlan('lab', 3)
  const from = plan.nodes[1]!
  const to = planAddedNode(plan, 'node4')
  const argv = ['node', 'main.js', 'lab', 'supervise', '--pidfile', '/s/run/agent-node2.pid', '--backoff-initial', '100ms', '--', 'node', 'main.js', 'agent', '--kubeconfig', '/s/node.kubeconfig', '--node-name', 'node2', '--node-ip', from.ip, '--iface', 'eth0', '--state-dir', '/s/node2', '--netns-prefix', from.podNetnsPrefix, '--cluster-dns', '10.96.0.10']
  t.same(agentArgvFor(argv, from, to, '/s'), ['node', 'main.js', 'lab', 'supervise', '--pidfile', '/s/run/agent-node4.pid', '--backoff-initial', '100ms', '--', 'node', 'main.js', 'agent', '--kubeconfig', '/s/node.kubeconfig', '--node-name', 'node4', '--node-ip', '192.168.56.13', '--node-labels', 'topology.kubernetes.io/zone=zone-b', '--iface', 'eth0', '--state-dir', '/s/node4', '--netns-prefix', 'nklab-n4-', '--cluster-dns', '10.96.0.10'])
  t.throws(() => agentArgvFor(['node', 'x', 'agent'], from, to, '/s'), /lacks --pidfile, --node-name/)
  // the model's zone label is replaced by the new node's
  const zoned = agentArgvFor([...argv.slice(0, 18), '--node-labels', 'topology.kubernetes.io/zone=zone-b', ...argv.slice(18)], from, { ...to, zone: 'zone-c' }, '/s')
  t.same(zoned.slice(14, 20), ['--node-name', 'node4', '--node-ip', '192.168.56.13', '--node-labels', 'topology.kubernetes.io/zone=zone-c'])
  t.equal(zoned.filter((a) => a === '--node-labels').length, 1)
})

t.test('leaseKeysOf picks the leases naming the node', async (t) => {
  const out = [
    '/coreos.com/network/subnets/10.244.0.0-24', '{"PublicIP":"192.168.56.10","BackendType":"vxlan"}',
    '/coreos.com/network/subnets/10.244.3.0-24', '{"PublicIP":"192.168.56.13","BackendType":"vxlan"}',
    '/coreos.com/network/subnets/10.244.9.0-24', 'not json',
    '',
  ].join('\n')
  t.same(leaseKeysOf(out, '192.168.56.13'), ['/coreos.com/network/subnets/10.244.3.0-24'])
  t.same(leaseKeysOf(out, '192.168.56.99'), [])
})

t.test('joinArgv adds the join flags once, keeping --kubeconfig for the agent to write', async (t) => {
  const argv = ['node', 'main.js', 'agent', '--kubeconfig', '/s/node5/kubelet.kubeconfig', '--node-name', 'node5']
  const want = [...argv, '--server', 'https://192.168.56.10:6443', '--bootstrap-token', 'abcdef.0123456789abcdef', '--discovery-token-ca-cert-hash', `sha256:${'a'.repeat(64)}`]
  t.same(joinArgv(argv, 'https://192.168.56.10:6443', 'abcdef.0123456789abcdef', `sha256:${'a'.repeat(64)}`), want)
  t.same(joinArgv(want, 'https://192.168.56.10:6443', 'abcdef.0123456789abcdef', `sha256:${'a'.repeat(64)}`), want, 'idempotent')
})
