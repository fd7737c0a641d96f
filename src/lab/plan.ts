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
  server: boolean
}

export interface LabPlan {
  name: string
  prefix: string
  underlayNetns: string
  underlayBridge: string
  gateway: string
  underlayCidr: string
  nodes: LabNode[]
  apiPort: number
  etcdPort: number
  clusterCIDR: string
  serviceCIDR: string
  clusterDNS: string
}

const UNDERLAY_CIDR = '192.168.56.0/24'
const SERVICE_CIDR = '10.96.0.0/12'

export function labPlan(name: string, nodes: number): LabPlan {
  if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`lab name "${name}" must be 1-8 lowercase letters or digits`)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) throw new Error('--nodes must be between 1 and 20')
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
      server: i === 0,
    })),
    apiPort: 6443,
    etcdPort: 2379,
    clusterCIDR: '10.244.0.0/16',
    serviceCIDR: SERVICE_CIDR,
    // kubeadm's convention, as the server's: the tenth address of the service range
    clusterDNS: nthAddress(parseCidr(SERVICE_CIDR), 10),
  }
}
