// One node on the lab's underlay: its namespace, a veth whose node end is eth0 (the other end on
// the underlay bridge), its address, default route via the gateway and IP forwarding. `lab up`
// attaches every planned node this way, `lab node add` one more on a running lab.
import { createNetns, openNetOps } from '../net/index.js'
import type { LabNode, LabPlan } from './plan.js'

export async function attachNode(plan: LabPlan, n: LabNode): Promise<void> {
  await createNetns(n.netns)
  const ul = openNetOps(plan.underlayNetns)
  try {
    await ul.createVeth({ name: n.underlayPort, peerName: 'eth0', peerNetns: n.netns, mtu: 1500 })
    await ul.setLink(n.underlayPort, { master: plan.underlayBridge, up: true })
  } finally {
    ul.close()
  }
  const node = openNetOps(n.netns)
  try {
    await node.addAddress('eth0', `${n.ip}/24`)
    await node.setLink('eth0', { up: true })
    await node.setLink('lo', { up: true })
    await node.addRoute({ dst: 'default', via: plan.gateway, dev: 'eth0' })
    await node.writeSysctl('net.ipv4.ip_forward', '1')
  } finally {
    node.close()
  }
}
