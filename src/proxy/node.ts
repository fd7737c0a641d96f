// Node prerequisites the proxy ensures inside its node's namespace (ensureX steps: each
// accepts that the wanted state may already be there).
//  - net.ipv4.ip_forward=1: DNATed pod and NodePort traffic is forwarded.
//  - net.bridge.bridge-nf-call-iptables=1: a reply from a pod to a pod on the same bridge is
//    bridged, not routed; without this the bridged reply skips netfilter, is never un-DNATed,
//    and the client drops it (same-node service traffic breaks).
//  - a route for the service CIDR: the node's own connections to a ClusterIP need a route
//    before the output hook can DNAT them (ClusterIPs exist on no interface).
import { ipBatchIn, maybeRootNetns, nsenterRun } from '../net/netns.js'
import { writeSysctl, readSysctl } from '../net/sysctl.js'
import type { RunResult } from '../util/exec.js'
import { cidrContains, nthAddress, parseCidr } from '../net/ip.js'

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

function ip(netns: string | undefined, args: string[]): Promise<RunResult> {
  if (netns) return nsenterRun(netns, 'ip', args, { allowFailure: true })
  return ipBatchIn(undefined, [args.join(' ')], { allowFailure: true })
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
  if (dev) {
    const r = await ip(netns, ['route', 'replace', serviceCIDR, 'dev', dev])
    if (r.code !== 0) throw new Error(`proxy: route ${serviceCIDR} dev ${dev}: ${r.stderr.trim()}`)
    return `${serviceCIDR} dev ${dev}`
  }
  const probe = await ip(netns, ['-j', 'route', 'get', nthAddress(parseCidr(serviceCIDR), 1)])
  if (probe.code === 0 && probe.stdout.trim().startsWith('[')) {
    const routes = JSON.parse(probe.stdout) as { dev?: string; type?: string }[]
    if (routes[0]?.dev && routes[0].type !== 'unreachable') return `existing route via ${routes[0].dev}`
  }
  // the interface of a route into the pod network (e.g. `10.244.1.0/24 dev cni0`)
  const table = await ip(netns, ['-j', 'route', 'show'])
  const pods = parseCidr(clusterCIDR)
  const routes = table.code === 0 ? (JSON.parse(table.stdout || '[]') as { dst?: string; dev?: string }[]) : []
  const podDev = routes.find((r) => r.dev && r.dst && r.dst !== 'default' && cidrContains(pods, r.dst.split('/')[0]!))?.dev
  if (!podDev) throw new Error(`proxy: no route to the service CIDR ${serviceCIDR} and none to the pod network ${clusterCIDR}`)
  const r = await ip(netns, ['route', 'replace', serviceCIDR, 'dev', podDev])
  if (r.code !== 0) throw new Error(`proxy: route ${serviceCIDR} dev ${podDev}: ${r.stderr.trim()}`)
  return `${serviceCIDR} dev ${podDev}`
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
