// Pure: the lab's topology. The same address plan as the Vagrant lab (vagrant/), so what
// is learnt on one transfers to the other: nodes on 192.168.56.0/24 from .10 upwards.
import { nthAddress, parseCidr } from '../net/ip.js'

export interface LabNode {
  /** Kubernetes node name. */
  name: string
  /** Its network namespace. */
  netns: string
  /** The underlay-side veth (in the underlay namespace). */
  underlayPort: string
  ip: string
  /** Prefix of the pod namespaces its kubelet creates. */
  podNetnsPrefix: string
  /** Runs `netkube server` (node1; node1 and node2 in an HA lab). */
  server: boolean
  /** Runs an etcd member (node1; node1..node3 in an HA lab). */
  etcd: boolean
  /** Its `topology.kubernetes.io/zone` label (absent in the state of a lab made before zones). */
  zone?: string
}

/** The lab's outside world: a client on the underlay bridge that is not a cluster node. */
export interface LabOutside {
  netns: string
  /** Its veth on the underlay bridge (in the underlay namespace). */
  underlayPort: string
  ip: string
}

export interface LabPlan {
  name: string
  prefix: string
  underlayNetns: string
  underlayBridge: string
  gateway: string
  underlayCidr: string
  nodes: LabNode[]
  /** Three etcd members and two apiservers (`lab up --ha`). */
  ha: boolean
  apiPort: number
  etcdPort: number
  etcdPeerPort: number
  clusterCIDR: string
  serviceCIDR: string
  clusterDNS: string
  /** The `kubernetes` Service's ClusterIP: the first address of the service range. */
  kubernetesServiceIP: string
  /** Absent in the state of a lab made before it existed. */
  outside?: LabOutside
  /** LoadBalancer addresses: a range on the underlay, announced by the nodes over ARP. */
  lbPool?: string
}

const UNDERLAY_CIDR = '192.168.56.0/24'
const SERVICE_CIDR = '10.96.0.0/12'

/** etcd members and apiservers of an HA lab: upstream's smallest fault-tolerant stacked topology is 3 etcd; 2 apiservers suffice to fail over. */
export const HA_ETCD_MEMBERS = 3
export const HA_SERVERS = 2
/** Zones the lab's nodes are spread over, in turn: node1 zone-a, node2 zone-b, node3 zone-a… */
export const DEFAULT_ZONES = ['zone-a', 'zone-b']

/** The zone of the i-th node (0-based) when nodes take `zones` in turn. */
export function zoneFor(i: number, zones: readonly string[] = DEFAULT_ZONES): string | undefined {
  return zones.length ? zones[i % zones.length] : undefined
}

/** The LoadBalancer pool on the underlay (.200–.250): above the nodes (.10 + up to 20). */
const LB_POOL_FIRST = 200
const LB_POOL_LAST = 250

export function labPlan(name: string, nodes: number, o: { ha?: boolean; zones?: readonly string[] } = {}): LabPlan {
  if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`lab name "${name}" must be 1-8 lowercase letters or digits`)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) throw new Error('--nodes must be between 1 and 20')
  const ha = o.ha ?? false
  const zones = o.zones ?? DEFAULT_ZONES
  for (const z of zones) if (!/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(z)) throw new Error(`zone "${z}" is not a valid label value (lowercase letters, digits, '-', '.')`)
  if (ha && nodes < HA_ETCD_MEMBERS) throw new Error(`--ha needs at least ${HA_ETCD_MEMBERS} nodes (one etcd member each), not ${nodes}`)
  const prefix = `nk${name}`
  const underlay = parseCidr(UNDERLAY_CIDR)
  return {
    name,
    prefix,
    underlayNetns: `${prefix}-underlay`,
    underlayBridge: 'br0',
    gateway: nthAddress(underlay, 1),
    underlayCidr: UNDERLAY_CIDR,
    nodes: Array.from({ length: nodes }, (_, i) => ({
      name: `node${i + 1}`,
      netns: `${prefix}-node${i + 1}`,
      underlayPort: `ul-node${i + 1}`,
      ip: nthAddress(underlay, 10 + i),
      podNetnsPrefix: `${prefix}-n${i + 1}-`,
      server: i < (ha ? HA_SERVERS : 1),
      etcd: i < (ha ? HA_ETCD_MEMBERS : 1),
      ...(zoneFor(i, zones) ? { zone: zoneFor(i, zones)! } : {}),
    })),
    ha,
    apiPort: 6443,
    etcdPort: 2379,
    etcdPeerPort: 2380,
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: SERVICE_CIDR,
    // kubeadm's convention, as the server's: the tenth address of the service range
    clusterDNS: nthAddress(parseCidr(SERVICE_CIDR), 10),
    kubernetesServiceIP: nthAddress(parseCidr(SERVICE_CIDR), 1),
    outside: { netns: `${prefix}-outside`, underlayPort: 'ul-outside', ip: nthAddress(underlay, 2) },
    lbPool: `${nthAddress(underlay, LB_POOL_FIRST)}-${nthAddress(underlay, LB_POOL_LAST)}`,
  }
}

/** Every etcd member's client URL, on its node's underlay address. */
export function etcdClientUrls(p: LabPlan): string[] {
  return p.nodes.filter((n) => n.etcd).map((n) => `http://${n.ip}:${p.etcdPort}`)
}

/** Every apiserver's host:port on the underlay. */
export function apiServerAddrs(p: LabPlan): string[] {
  return p.nodes.filter((n) => n.server).map((n) => `${n.ip}:${p.apiPort}`)
}

/**
 * etcd's flags for the member on `node`. One member: peers on loopback, as before. HA: a
 * static bootstrap of all members (peer URLs on the node IPs, one --initial-cluster, a
 * token unique to the lab so members of two labs never join each other). The flags only
 * matter on first start: a restarted member finds its data dir and rejoins from there.
 * HA members share one machine (peer RTT well under 1 ms), so they use a 50 ms heartbeat and a
 * 500 ms election timeout (etcd's 10× rule) instead of 100/1000: a killed leader is replaced in
 * 0.5–1 s rather than 1–2 s, which is most of the write blip the HA chaos suite bounds at 2 s.
 */
export const HA_ETCD_HEARTBEAT_MS = 50
export const HA_ETCD_ELECTION_MS = 500

export function etcdArgs(p: LabPlan, node: LabNode, dataDir: string): string[] {
  const client = `http://${node.ip}:${p.etcdPort}`
  const members = p.nodes.filter((n) => n.etcd)
  const peerHost = p.ha ? node.ip : '127.0.0.1'
  const cluster = p.ha ? members.map((m) => `${m.name}=http://${m.ip}:${p.etcdPeerPort}`).join(',') : `lab=http://127.0.0.1:${p.etcdPeerPort}`
  return [
    '--name', p.ha ? node.name : 'lab',
    '--data-dir', dataDir,
    '--listen-client-urls', `${client},http://127.0.0.1:${p.etcdPort}`,
    '--advertise-client-urls', client,
    '--listen-peer-urls', `http://${peerHost}:${p.etcdPeerPort}`,
    '--initial-advertise-peer-urls', `http://${peerHost}:${p.etcdPeerPort}`,
    '--initial-cluster', cluster,
    ...(p.ha ? ['--initial-cluster-state', 'new', '--initial-cluster-token', `netkube-${p.name}`, '--heartbeat-interval', String(HA_ETCD_HEARTBEAT_MS), '--election-timeout', String(HA_ETCD_ELECTION_MS)] : []),
    '--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '1h',
    '--log-level', 'warn', '--logger', 'zap',
  ]
}
