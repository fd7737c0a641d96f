// The lab's per-node credentials: each agent's kubelet, kube-proxy and network loops get a
// kubeconfig of their own (client certificates from the cluster CA, src/authn/identities.ts),
// written into the node's state directory before its agent starts. The lab holds the CA
// because it is the installer (kubeadm's role); the admin kubeconfig is for the human and tests.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadClusterCA } from '../authn/pki.js'
import { agentIdentity, ensureIdentityKubeconfig, IDENTITIES, kubeletIdentity } from '../authn/identities.js'

export interface NodeKubeconfigs {
  kubelet: string
  proxy: string
  network: string
}

export function nodeKubeconfigPaths(nodeDir: string): NodeKubeconfigs {
  return { kubelet: join(nodeDir, 'kubelet.kubeconfig'), proxy: join(nodeDir, 'kube-proxy.kubeconfig'), network: join(nodeDir, 'agent.kubeconfig') }
}

/** Writes (or keeps) the three kubeconfigs of `nodeName` under `nodeDir`, for `server`. */
/** `kubelet: false`: a node that joins with a bootstrap token gets its kubelet certificate from the CSR flow. */
export async function ensureNodeKubeconfigs(pkiDir: string, nodeDir: string, nodeName: string, server: string, o: { kubelet?: boolean } = {}): Promise<NodeKubeconfigs> {
  const ca = await loadClusterCA(join(pkiDir, 'ca.crt'), join(pkiDir, 'ca.key'))
  const p = nodeKubeconfigPaths(nodeDir)
  mkdirSync(nodeDir, { recursive: true })
  if (o.kubelet !== false) await ensureIdentityKubeconfig(p.kubelet, server, ca, kubeletIdentity(nodeName))
  await ensureIdentityKubeconfig(p.proxy, server, ca, IDENTITIES.kubeProxy)
  await ensureIdentityKubeconfig(p.network, server, ca, agentIdentity(nodeName))
  return p
}

/** The agent flags that hand those kubeconfigs over. */
export function agentKubeconfigFlags(p: NodeKubeconfigs): string[] {
  return ['--kubeconfig', p.kubelet, '--proxy-kubeconfig', p.proxy, '--network-kubeconfig', p.network]
}
