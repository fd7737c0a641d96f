// A minimal ReplicaSet (app=NAME pods of one container) and its live pods: what tests that
// only need "a controller acted" create and count.
import type { Pod, ReplicaSet } from '../../src/api/types.js'
import type { Client } from '../../src/client/interfaces.js'
import { R } from '../../src/controllers/informers.js'

export function replicaSet(name: string, replicas: number, namespace = 'default'): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } },
  }
}

/** Pods labelled app=NAME that are not being deleted. */
export async function livePods(client: Client, app: string, namespace = 'default'): Promise<Pod[]> {
  return (await client.resource<Pod>(R.pods, namespace).list({ labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp)
}
