// `netkube agent`: overlay + CNI + kubelet + kube-proxy + NetworkPolicy for one node.
import { parseArgs } from 'node:util'
import { hostname } from 'node:os'
import { createClient } from '../client/rest.js'
import { loadKubeconfig, withApiServers } from '../client/kubeconfig.js'
import { startAgent } from './agent.js'
import { loadKubeletTLS } from '../kubelet/tls.js'
import { join } from 'node:path'
import { waitForSignal } from '../util/signals.js'
import { parseDuration } from '../util/duration.js'
import { bootstrapNode, startCertRotation } from '../join/node.js'

export async function main(argv: string[]): Promise<number | void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'proxy-kubeconfig': { type: 'string' },
      'network-kubeconfig': { type: 'string' },
      'api-servers': { type: 'string' },
      'node-name': { type: 'string' },
      'node-ip': { type: 'string' },
      // kubelet's --node-labels: key=value[,key=value] (the lab sets topology.kubernetes.io/zone)
      'node-labels': { type: 'string' },
      iface: { type: 'string' },
      'etcd-endpoints': { type: 'string' },
      'state-dir': { type: 'string' },
      'netns-prefix': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'service-cidr': { type: 'string' },
      'cluster-dns': { type: 'string' },
      'cluster-domain': { type: 'string' },
      'resolv-conf': { type: 'string' },
      'proxy-mode': { type: 'string' },
      backend: { type: 'string' },
      'kubelet-port': { type: 'string' },
      'cert-dir': { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'client-ca-file': { type: 'string' },
      'no-proxy': { type: 'boolean' },
      'no-netpol': { type: 'boolean' },
      'netpol-metrics-port': { type: 'string' },
      'no-lb-speaker': { type: 'boolean' },
      'lb-speaker-renew': { type: 'string' },
      'lb-speaker-lease': { type: 'string' },
      'lb-address-lifetime': { type: 'string' },
      'allow-root-netns': { type: 'boolean' },
      'backoff-initial': { type: 'string' },
      'node-status-update-frequency': { type: 'string' },
      // The join (kubeadm join's flags): discovery, a CSR with the bootstrap token, then the node's own certificate.
      server: { type: 'string' },
      'bootstrap-token': { type: 'string' },
      'discovery-token-ca-cert-hash': { type: 'string', multiple: true },
      'certificate-expiration': { type: 'string' },
      'no-rotate-certificates': { type: 'boolean' },
    },
  })
  const joining = v['bootstrap-token'] !== undefined
  if ((!v.kubeconfig && !joining) || !v['node-ip'] || !v['etcd-endpoints']) {
    process.stderr.write('usage: netkube agent (--kubeconfig FILE | --server URL --bootstrap-token ID.SECRET --discovery-token-ca-cert-hash sha256:HEX [--kubeconfig FILE]) [--proxy-kubeconfig FILE] [--network-kubeconfig FILE] [--api-servers URL,URL] --node-ip IP --etcd-endpoints URL[,URL] [--node-name N] [--node-labels K=V,K=V] [--iface DEV] [--state-dir D] [--proxy-mode nftables|iptables|ipvs] [--backend vxlan|host-gw]\n')
    return 2
  }
  const mode = v['proxy-mode'] ?? 'nftables'
  if (mode !== 'nftables' && mode !== 'iptables' && mode !== 'ipvs') throw new Error(`--proxy-mode must be nftables, iptables or ipvs, not "${mode}"`)
  const backend = v.backend
  if (backend !== undefined && backend !== 'vxlan' && backend !== 'host-gw') throw new Error(`--backend must be vxlan or host-gw, not "${backend}"`)
  const nodeName = v['node-name'] ?? hostname()
  const stateDir = v['state-dir'] ?? `/var/lib/netkube/agent/${nodeName}`
  // --api-servers: every apiserver of an HA control plane; the clients fail over among them.
  // Each part of the agent talks with its own identity: --kubeconfig is the kubelet's (the node),
  // --proxy-kubeconfig kube-proxy's, --network-kubeconfig the network loops'.
  // A joining node writes its kubeconfig (default <state-dir>/kubelet.kubeconfig) from the CSR
  // flow; a valid one there already (a restart) is used as it is.
  const kubeconfig = v.kubeconfig ?? join(stateDir, 'kubelet.kubeconfig')
  const expirationSeconds = v['certificate-expiration'] ? Math.round(parseDuration(v['certificate-expiration']) / 1000) : undefined
  if (joining) {
    if (!v.server) throw new Error('--bootstrap-token needs --server URL (the apiserver to join)')
    try {
      await bootstrapNode({ kubeconfigPath: kubeconfig, server: v.server, token: v['bootstrap-token']!, caCertHashes: v['discovery-token-ca-cert-hash'] ?? [], nodeName, ...(expirationSeconds ? { expirationSeconds } : {}) })
    } catch (err) {
      process.stderr.write(`error: join failed: ${(err as Error).message}\n`)
      return 1
    }
  }
  // The kubelet's certificate is renewed before it expires (kubelet's --rotate-certificates, on by default).
  const rotation = joining && !v['no-rotate-certificates'] ? startCertRotation({ kubeconfigPath: kubeconfig, nodeName, ...(expirationSeconds ? { expirationSeconds } : {}) }) : undefined
  const clientFor = (path: string | undefined) => (path ? createClient(withApiServers(loadKubeconfig(path), v['api-servers'])) : undefined)
  const cfg = withApiServers(loadKubeconfig(kubeconfig), v['api-servers'])
  // The kubelet's serving identity: --cert-dir defaults to <state-dir>/kubelet/pki.
  const kubeletTLS = loadKubeletTLS({
    certDir: v['cert-dir'] ?? join(stateDir, 'kubelet', 'pki'),
    ...(v['tls-cert-file'] ? { tlsCertFile: v['tls-cert-file'] } : {}),
    ...(v['tls-private-key-file'] ? { tlsPrivateKeyFile: v['tls-private-key-file'] } : {}),
    ...(v['client-ca-file'] ? { clientCaFile: v['client-ca-file'] } : {}),
    ...(cfg.caPem ? { kubeconfigCaPem: cfg.caPem } : {}),
  })
  const proxyClient = clientFor(v['proxy-kubeconfig'])
  const networkClient = clientFor(v['network-kubeconfig'])
  const agent = await startAgent({
    client: createClient(cfg),
    kubeletTLS,
    ...(proxyClient ? { proxyClient } : {}),
    ...(networkClient ? { networkClient } : {}),
    nodeName,
    nodeIP: v['node-ip'],
    ...(v['node-labels'] ? { nodeLabels: parseNodeLabels(v['node-labels']) } : {}),
    ...(v.iface ? { iface: v.iface } : {}),
    etcdEndpoints: v['etcd-endpoints'].split(','),
    stateDir,
    netnsPrefix: v['netns-prefix'] ?? `nk-${nodeName}-`,
    clusterCIDR: v['cluster-cidr'] ?? '10.244.0.0/16',
    serviceCIDR: v['service-cidr'] ?? '10.96.0.0/12',
    clusterDNS: (v['cluster-dns'] ?? '10.96.0.10').split(','),
    clusterDomain: v['cluster-domain'] ?? 'cluster.local',
    ...(v['resolv-conf'] ? { resolvConf: v['resolv-conf'] } : {}),
    proxyMode: mode,
    ...(backend ? { backend } : {}),
    kubeletPort: Number(v['kubelet-port'] ?? 10250),
    noProxy: v['no-proxy'] ?? false,
    noNetpol: v['no-netpol'] ?? false,
    ...(v['netpol-metrics-port'] !== undefined ? { netpolMetricsPort: Number(v['netpol-metrics-port']) } : {}),
    noLbSpeaker: v['no-lb-speaker'] ?? false,
    ...(v['lb-speaker-renew'] ? { lbSpeakerRenewMs: parseDuration(v['lb-speaker-renew']) } : {}),
    ...(v['lb-speaker-lease'] ? { lbSpeakerLeaseMs: parseDuration(v['lb-speaker-lease']) } : {}),
    ...(v['lb-address-lifetime'] !== undefined ? { lbAddressLifetimeS: addressLifetime(v['lb-address-lifetime']) } : {}),
    allowRootNetns: v['allow-root-netns'] ?? false,
    ...(v['backoff-initial'] ? { backoffInitialMs: parseDuration(v['backoff-initial']) } : {}),
    ...(v['node-status-update-frequency'] ? { nodeStatusUpdateMs: parseDuration(v['node-status-update-frequency']) } : {}),
  })
  await waitForSignal()
  rotation?.stop()
  await agent.stop()
}

/** `--lb-address-lifetime 2s`: whole seconds (the kernel's unit for valid_lft); `0` keeps the /32s permanent. */
function addressLifetime(v: string): number {
  const ms = parseDuration(v)
  if (ms % 1000 !== 0) throw new Error(`--lb-address-lifetime must be whole seconds (the kernel's valid_lft), not "${v}"`)
  return ms / 1000
}

/** kubelet's --node-labels value: `k=v,k2=v2` (an empty value is allowed, a key is not). */
export function parseNodeLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of text.split(',')) {
    if (!part.trim()) continue
    const eq = part.indexOf('=')
    if (eq <= 0) throw new Error(`--node-labels: "${part}" is not key=value`)
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}
