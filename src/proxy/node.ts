// Node prerequisites the proxy ensures inside its node's namespace (ensureX steps: each
// accepts that the wanted state may already be there).
//  - net.ipv4.ip_forward=1: DNATed pod and NodePort traffic is forwarded.
//  - net.bridge.bridge-nf-call-iptables=1: a reply from a pod to a pod on the same bridge is
//    bridged, not routed; without this the bridged reply skips netfilter, is never un-DNATed,
//    and the client drops it (same-node service traffic breaks).
//  - a route for the service CIDR: the node's own connections to a ClusterIP need a route
//    before the output hook can DNAT them (ClusterIPs exist on no interface).
import { netnsHandle } from '../net/door.js'
import { maybeRootNetns } from '../net/netns.js'
import { routeFor } from '../net/routes.js'
import { writeSysctl, readSysctl } from '../net/sysctl.js'
import { cidrContains, nthAddress, parseCidr } from '../net/ip.js'
import type { NetOps } from '../net/types.js'

export const SYSCTLS: readonly [string, string][] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.bridge.bridge-nf-call-iptables', '1'],
]

/**
 * Refuse to program the machine's root namespace by accident (it belongs to the host).
 * Fails closed (see maybeRootNetns in src/net).
 */
export function assertNotRootNetns(netns: string | undefined): void {
  if (netns || process.env.NETKUBE_ALLOW_ROOT_NETNS === '1') return
  if (maybeRootNetns())
    throw new Error('proxy: refusing to program the root network namespace (give --netns, or set NETKUBE_ALLOW_ROOT_NETNS=1 on a dedicated node)')
}

export async function ensureSysctls(netns: string | undefined): Promise<void> {
  for (const [key, value] of SYSCTLS) {
    let current: string | undefined
    try {
      current = await readSysctl(netns, key)
    } catch {
      current = undefined
    }
    if (current !== value) await writeSysctl(netns, key, value)
  }
}

/**
 * Make sure the node routes the service CIDR. An existing route covering it (default route,
 * a route the admin set) is kept; otherwise it goes out of the interface that reaches the
 * pod network, so the node's source address for ClusterIP traffic is its pod-network one.
 */
export async function ensureServiceRoute(netns: string | undefined, serviceCIDR: string, clusterCIDR: string, dev?: string): Promise<string> {
  return netnsHandle(netns).withOps((ops) => ensureServiceRouteWith(ops, serviceCIDR, clusterCIDR, dev))
}

/** ensureServiceRoute on operations the caller opened (tests run it on both NetOps implementations). */
export async function ensureServiceRouteWith(ops: NetOps, serviceCIDR: string, clusterCIDR: string, dev?: string): Promise<string> {
  const replaceRoute = async (routeDev: string): Promise<string> => {
    await ops.addRoute({ dst: serviceCIDR, dev: routeDev }, { replace: true })
    return `${serviceCIDR} dev ${routeDev}`
  }
  if (dev) return replaceRoute(dev)
  const routes = await ops.listRoutes({ family: parseCidr(serviceCIDR).family })
  const probeIp = nthAddress(parseCidr(serviceCIDR), 1)
  // A route that sends it out of an interface; unreachable/blackhole routes have no device.
  const existing = routeFor(routes, probeIp)
  if (existing?.dev) return `existing route via ${existing.dev}`
  // the interface of a route into the pod network (e.g. `10.244.1.0/24 dev cni0`)
  const pods = parseCidr(clusterCIDR)
  const podDev = routes.find((r) => r.dev && !r.dst.endsWith('/0') && cidrContains(pods, r.dst.split('/')[0]!))?.dev
  if (!podDev) throw new Error(`proxy: no route to the service CIDR ${serviceCIDR} and none to the pod network ${clusterCIDR}`)
  return replaceRoute(podDev)
}

export async function ensureNodePrerequisites(
  netns: string | undefined,
  serviceCIDR: string,
  clusterCIDR: string,
  routeDev?: string,
): Promise<void> {
  assertNotRootNetns(netns)
  await ensureSysctls(netns)
  await ensureServiceRoute(netns, serviceCIDR, clusterCIDR, routeDev)
}
