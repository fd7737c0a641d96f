// `netkube agent`: everything a node runs, like k3s's agent. Order matters:
//   1. overlay: lease this node's pod subnet and program routes to the others; it writes
//      subnet.env, which the CNI plugin reads (so pods can only start once the node routes);
//   2. CNI: the plugin and its conflist installed for this node, and the CNI server that
//      serves the plugin's work from this warm process (the exec'd binary forwards to it);
//   3. kubelet: registers the Node with the leased podCIDR and runs pods;
//   4. kube-proxy: programs Services for this node;
//   5. NetworkPolicy: its own nftables table, judged after kube-proxy's DNAT;
//   6. the L2 announcer: LoadBalancer IPs this node answers ARP for (after kube-proxy has
//      programmed them, so traffic drawn here is served).
// (3b. local-path: the node provisions and reclaims the volume directories on its disk.)
import { join } from 'node:path'
import { startOverlayAgent, type OverlayAgent } from '../overlay/agent.js'
import { leaseAnnotations } from '../overlay/lease.js'
import { install as installCni } from '../../cni/install.js'
import { startCniServer, type CniServer } from '../../cni/server.js'
import { startKubelet, type Kubelet } from '../kubelet/kubelet.js'
import type { KubeletTLS } from '../kubelet/tls.js'
import { startProxy, type ProxyHandle } from '../proxy/index.js'
import { startNetpol, type NetpolHandle } from '../netpol/index.js'
import { startLocalPathProvisioner } from '../localpath/provisioner.js'
import type { Client } from '../client/interfaces.js'
import { logger } from '../util/log.js'
import { canonicalCidr } from '../net/ip.js'
import { startSpeaker, withdrawStale, type Speaker } from '../loadbalancer/speaker.js'

const log = logger('agent')

export interface AgentOptions {
  /** The kubelet's client: the node's identity (system:node:<name>). */
  client: Client
  /** kube-proxy's client (system:kube-proxy); default `client`. */
  proxyClient?: Client
  /** The network loops' client — NetworkPolicy, LB speaker, local-path (system:netkube:agent:<name>); default `client`. */
  networkClient?: Client
  nodeName: string
  nodeIP: string
  /** Labels the kubelet puts on its Node (kubelet's --node-labels), e.g. topology.kubernetes.io/zone. */
  nodeLabels?: Record<string, string>
  iface?: string
  etcdEndpoints: string[]
  stateDir: string
  netnsPrefix: string
  clusterCIDR: string
  serviceCIDR: string
  clusterDNS: string[]
  clusterDomain?: string
  /** The node's resolver config, for pods with dnsPolicy Default (kubelet's --resolv-conf). */
  resolvConf?: string
  proxyMode?: 'nftables' | 'iptables' | 'ipvs'
  backend?: 'vxlan' | 'host-gw'
  kubeletPort?: number
  /** The kubelet's HTTPS identity (absent: plain HTTP, in-process tests only). */
  kubeletTLS?: KubeletTLS
  /**
   * A dedicated node (a VM) runs the agent in its root namespace; the overlay and kube-proxy
   * refuse that unless told so, to protect a developer's machine.
   */
  allowRootNetns?: boolean
  /** Run without kube-proxy (tests of the other parts). */
  noProxy?: boolean
  /** Run without NetworkPolicy enforcement. */
  noNetpol?: boolean
  /** NetworkPolicy /metrics and /healthz on 127.0.0.1:PORT (default 9080, kube-network-policies' port; 0 = any free one). */
  netpolMetricsPort?: number
  /** Run without the LoadBalancer L2 announcer (it needs kube-proxy and `iface`). */
  noLbSpeaker?: boolean
  /** Its Lease renewal period (default 250 ms) and the silence after which a speaker is dead (default 1 s). */
  lbSpeakerRenewMs?: number
  lbSpeakerLeaseMs?: number
  /** Kernel lifetime of each announced /32 (whole seconds, default 2; 0: permanent). */
  lbAddressLifetimeS?: number
  /** Shorter back-off and sync periods for tests. */
  backoffInitialMs?: number
  /** Node lease renewal period; keep it well under the server's node-monitor grace period. */
  nodeStatusUpdateMs?: number
}

export interface Agent {
  overlay: OverlayAgent
  kubelet: Kubelet
  proxy?: ProxyHandle
  netpol?: NetpolHandle
  speaker?: Speaker
  stop(opts?: { killPods?: boolean }): Promise<void>
}

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const stops: (() => Promise<void>)[] = []
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: Error) => log.warn({ err: err.message }, 'stop failed'))
  }
  try {
    // a killed run's LoadBalancer /32s go first, before anything waits for the apiserver (speaker.ts)
    if (o.iface && !o.noLbSpeaker && !o.noProxy) await withdrawStale({ iface: o.iface, stateFile: join(o.stateDir, 'lb-announced.json') })
    const subnetFile = join(o.stateDir, 'subnet.env')
    const overlay = await startOverlayAgent({
      etcdEndpoints: o.etcdEndpoints,
      publicIP: o.nodeIP,
      ...(o.iface ? { iface: o.iface } : {}),
      subnetFile,
      ...(o.backend ? { backend: o.backend } : {}),
      ...(o.allowRootNetns ? { allowRootNetns: true } : {}),
      onFatal: (err) => {
        log.fatal({ err: err.message }, 'overlay lost its lease; exiting so the node is not left routing a subnet it does not own')
        process.exit(1)
      },
    })
    stops.push(() => overlay.stop())
    // subnet.env names the gateway address (10.244.3.1/24); the Node's podCIDR is the network.
    const podCIDR = canonicalCidr(overlay.subnetEnv.subnet)
    log.info({ podCIDR }, 'overlay ready')

    const binDir = join(o.stateDir, 'cni', 'bin')
    const confDir = join(o.stateDir, 'cni', 'net.d')
    installCni({
      binDir,
      confDir,
      name: 'netkube',
      subnetFile,
      dataDir: join(o.stateDir, 'ipam'),
      isGateway: true,
      // Hairpin: a pod reaching itself through its Service comes back through its own port.
      hairpinMode: true,
    })
    const cniServer: CniServer = await startCniServer({})
    stops.push(() => cniServer.close())

    const kubelet = await startKubelet({
      client: o.client,
      nodeName: o.nodeName,
      nodeIP: o.nodeIP,
      ...(o.nodeLabels ? { nodeLabels: o.nodeLabels } : {}),
      podCIDR: podCIDR,
      // flannel's Node annotations: the lease (VTEP MAC, public IP) for readers without etcd
      nodeAnnotations: leaseAnnotations(overlay.lease),
      stateDir: join(o.stateDir, 'kubelet'),
      netnsPrefix: o.netnsPrefix,
      cniBinDirs: [binDir],
      cniConfDir: confDir,
      clusterDNS: o.clusterDNS,
      clusterDomain: o.clusterDomain ?? 'cluster.local',
      ...(o.resolvConf ? { hostResolvConf: o.resolvConf } : {}),
      port: o.kubeletPort ?? 10250,
      ...(o.kubeletTLS ? { tls: o.kubeletTLS } : {}),
      ...(o.backoffInitialMs !== undefined ? { backoffInitialMs: o.backoffInitialMs } : {}),
      ...(o.nodeStatusUpdateMs !== undefined ? { nodeStatusUpdateMs: o.nodeStatusUpdateMs } : {}),
    })
    stops.push(() => kubelet.stop())
    // The node's disk: local-path volumes live in <state>/volumes/<pv-name> (src/localpath).
    const net = o.networkClient ?? o.client
    const localPath = await startLocalPathProvisioner({ client: net, nodeName: o.nodeName, volumesDir: join(o.stateDir, 'volumes') })
    stops.push(() => localPath.stop())

    let proxy: ProxyHandle | undefined
    if (!o.noProxy) {
      if (o.allowRootNetns) process.env.NETKUBE_ALLOW_ROOT_NETNS = '1'
      proxy = await startProxy({
        client: o.proxyClient ?? o.client,
        nodeName: o.nodeName,
        mode: o.proxyMode ?? 'nftables',
        clusterCIDR: o.clusterCIDR,
        serviceCIDR: o.serviceCIDR,
        nodeIPs: [o.nodeIP],
        // The node's route to ClusterIPs goes out of its uplink; the output DNAT rewrites it.
        ...(o.iface ? { serviceRouteDev: o.iface } : {}),
      })
      stops.push(() => proxy!.stop())
    }
    let netpol: NetpolHandle | undefined
    if (!o.noNetpol) {
      if (o.allowRootNetns) process.env.NETKUBE_ALLOW_ROOT_NETNS = '1'
      netpol = await startNetpol({ client: net, nodeName: o.nodeName, healthPort: o.netpolMetricsPort ?? 9080 })
      stops.push(() => netpol!.stop())
    }
    let speaker: Speaker | undefined
    if (proxy && o.iface && !o.noLbSpeaker) {
      speaker = await startSpeaker({
        client: net,
        nodeName: o.nodeName,
        iface: o.iface,
        stateFile: join(o.stateDir, 'lb-announced.json'),
        ...(o.lbSpeakerRenewMs !== undefined ? { renewMs: o.lbSpeakerRenewMs } : {}),
        ...(o.lbSpeakerLeaseMs !== undefined ? { leaseMs: o.lbSpeakerLeaseMs } : {}),
        ...(o.lbAddressLifetimeS !== undefined ? { addressLifetimeS: o.lbAddressLifetimeS } : {}),
      })
      stops.push(() => speaker!.stop())
    }
    log.info({ node: o.nodeName, ip: o.nodeIP, podCIDR }, 'agent ready')
    return {
      overlay,
      kubelet,
      ...(proxy ? { proxy } : {}),
      ...(netpol ? { netpol } : {}),
      ...(speaker ? { speaker } : {}),
      async stop(opts = {}) {
        if (opts.killPods) await kubelet.stop({ killPods: true })
        await stopAll()
      },
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}
