// The lab's outside world: a namespace on the underlay bridge that is no cluster node, so
// "from outside the cluster" is a real L2 neighbour of the nodes: it ARPs for LoadBalancer
// addresses and its TCP reaches whichever node answers. Clients (curl, nc, openssl) run in it.
import { createNetns, netnsExists, openNetOps } from '../net/index.js'
import type { LabPlan } from './plan.js'

/** Create the outside namespace and its veth on the underlay bridge (after the underlay exists). */
export async function buildOutside(plan: LabPlan): Promise<void> {
  const o = plan.outside
  if (!o) return
  await createNetns(o.netns)
  const ul = openNetOps(plan.underlayNetns)
  try {
    await ul.createVeth({ name: o.underlayPort, peerName: 'eth0', peerNetns: o.netns, mtu: 1500 })
    await ul.setLink(o.underlayPort, { master: plan.underlayBridge, up: true })
  } finally {
    ul.close()
  }
  const ops = openNetOps(o.netns)
  try {
    await ops.addAddress('eth0', `${o.ip}/${plan.underlayCidr.split('/')[1]}`)
    await ops.setLink('eth0', { up: true })
    await ops.setLink('lo', { up: true })
    // The underlay gateway is its router too (the lab resolver lives there).
    await ops.addRoute({ dst: 'default', via: plan.gateway, dev: 'eth0' })
  } finally {
    ops.close()
  }
}

/** `lab status`'s line for it. */
export function outsideStatusLine(plan: LabPlan): string | undefined {
  const o = plan.outside
  if (!o) return undefined
  return `  ${'outside'.padEnd(7)} ${o.ip.padEnd(15)} netns ${o.netns}${netnsExists(o.netns) ? '' : ' (missing)'}  (client, not a node; LoadBalancer pool ${plan.lbPool ?? '-'})`
}
