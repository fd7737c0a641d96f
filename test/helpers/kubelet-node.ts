// One real kubelet (node `n1`) registered with a test apiserver and reachable by it: HTTPS on
// loopback with a serving certificate from the apiserver's CA, pods in real namespaces wired by
// the reference CNI plugins. Stopped with its pods on teardown.
import { join } from 'node:path'
import type { Test } from 'tap'
import { createClient } from '../../src/client/rest.js'
import type { Client } from '../../src/client/interfaces.js'
import { startKubelet, type Kubelet, type KubeletOptions } from '../../src/kubelet/kubelet.js'
import type { TestApiServer } from './apiserver.js'
import { withCniNode } from './cni-node.js'
import { kubeletTLSFromApiServer } from './kubelet-pki.js'
import { RUN_PREFIX } from './netns.js'

export async function withKubeletNode(t: Test, api: TestApiServer, subnet: string, extra: Partial<KubeletOptions> = {}): Promise<{ client: Client; kubelet: Kubelet; dir: string }> {
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const { netns, dir, confDir } = await withCniNode(t, subnet)
  const kubelet = await startKubelet({
    client,
    nodeName: 'n1',
    // The apiserver reaches the kubelet at the node's InternalIP: loopback here.
    nodeIP: '127.0.0.1',
    stateDir: join(dir, 'kubelet'),
    netnsPrefix: `${RUN_PREFIX}-p-`,
    cniBinDirs: ['/usr/lib/cni'],
    cniConfDir: confDir,
    cniNetns: netns,
    clusterDNS: ['10.96.0.10'],
    clusterDomain: 'cluster.local',
    port: 0,
    listenHost: '127.0.0.1',
    syncIntervalMs: 200,
    tls: await kubeletTLSFromApiServer(api.stateDir, dir, 'n1'),
    ...extra,
  })
  t.teardown(() => kubelet.stop({ killPods: true }))
  return { client, kubelet, dir }
}
