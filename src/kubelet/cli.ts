// `netkube kubelet`: the node agent that runs pods, alone (the agent also embeds it).
import { parseArgs } from 'node:util'
import { hostname } from 'node:os'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { startKubelet } from './kubelet.js'
import { loadKubeletTLS } from './tls.js'
import { join } from 'node:path'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'

export const KUBELET_FLAGS = {
  kubeconfig: { type: 'string' },
  'node-name': { type: 'string' },
  'node-ip': { type: 'string' },
  'pod-cidr': { type: 'string' },
  'state-dir': { type: 'string' },
  'netns-prefix': { type: 'string' },
  'cni-bin-dir': { type: 'string' },
  'cni-conf-dir': { type: 'string' },
  'cluster-dns': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'kubelet-port': { type: 'string' },
  'cert-dir': { type: 'string' },
  'tls-cert-file': { type: 'string' },
  'tls-private-key-file': { type: 'string' },
  'client-ca-file': { type: 'string' },
} as const

export async function main(argv: string[]): Promise<number | void> {
  const { values: v } = parseArgs({ args: argv, options: KUBELET_FLAGS })
  if (!v.kubeconfig || !v['node-ip']) {
    process.stderr.write('usage: netkube kubelet --kubeconfig FILE --node-ip IP [--node-name N] [--pod-cidr CIDR] [--state-dir D] [--netns-prefix P] [--cni-bin-dir D] [--cni-conf-dir D] [--cluster-dns IP] [--kubelet-port 10250] [--cert-dir D] [--tls-cert-file F --tls-private-key-file F] [--client-ca-file F]\n')
    return 2
  }
  const nodeName = v['node-name'] ?? hostname()
  const stateDir = v['state-dir'] ?? `/var/lib/netkube/kubelet/${nodeName}`
  const cfg = loadKubeconfig(v.kubeconfig)
  const tls = loadKubeletTLS({
    certDir: v['cert-dir'] ?? join(stateDir, 'pki'),
    ...(v['tls-cert-file'] ? { tlsCertFile: v['tls-cert-file'] } : {}),
    ...(v['tls-private-key-file'] ? { tlsPrivateKeyFile: v['tls-private-key-file'] } : {}),
    ...(v['client-ca-file'] ? { clientCaFile: v['client-ca-file'] } : {}),
    ...(cfg.caPem ? { kubeconfigCaPem: cfg.caPem } : {}),
  })
  const kubelet = await startKubelet({
    client: createClient(cfg),
    tls,
    nodeName,
    nodeIP: v['node-ip'],
    ...(v['pod-cidr'] ? { podCIDR: v['pod-cidr'] } : {}),
    stateDir,
    netnsPrefix: v['netns-prefix'] ?? `nk-${nodeName}-`,
    cniBinDirs: (v['cni-bin-dir'] ?? '/opt/cni/bin').split(':'),
    cniConfDir: v['cni-conf-dir'] ?? '/etc/cni/net.d',
    clusterDNS: (v['cluster-dns'] ?? '10.96.0.10').split(',').filter(Boolean),
    clusterDomain: v['cluster-domain'] ?? 'cluster.local',
    port: Number(v['kubelet-port'] ?? 10250),
  })
  await waitForSignal()
  logger('kubelet').info('shutting down')
  await kubelet.stop()
}
