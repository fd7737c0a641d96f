// kube-controller-manager's bootstrapsigner and tokencleaner, one shell: any change to
// kube-system's Secrets or to cluster-info (and a timer, for expiries) re-signs cluster-info
// (cluster-info.ts decides what it holds) and deletes the bootstrap-token Secrets past their
// expiration. Runs with the controller manager, under its lease.
import type { Client } from '../client/interfaces.js'
import { createInformer, type Informer } from '../client/informer.js'
import { isConflict, isNotFound } from '../client/errors.js'
import { resourceFor } from '../api/resources.js'
import { deepEqual } from '../api/equal.js'
import type { ConfigMap, KubeObject } from '../api/types.js'
import { QueueController } from '../controllers/base.js'
import { ControllerMetrics } from '../controllers/metrics.js'
import { CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, signedClusterInfoData } from './cluster-info.js'
import { isExpired, tokenFromSecret, TOKEN_NAMESPACE, type BootstrapToken } from './tokens.js'

const KEY = 'cluster-info'

export class BootstrapSigner extends QueueController {
  private readonly secrets: Informer<KubeObject>
  private readonly configMaps: Informer<ConfigMap>
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly client: Client, metrics: ControllerMetrics, private readonly resyncMs = 15_000) {
    super('bootstrapsigner', metrics)
    this.secrets = createInformer(client.resource<KubeObject>(resourceFor('secrets'), TOKEN_NAMESPACE), { name: 'bootstrapsigner-secrets' })
    this.configMaps = createInformer(client.resource<ConfigMap>(resourceFor('configmaps'), CLUSTER_INFO_NAMESPACE), { name: 'bootstrapsigner-configmaps' })
    const kick = (): void => this.enqueue(KEY)
    this.secrets.addEventHandler({ onAdd: kick, onUpdate: kick, onDelete: kick })
    this.configMaps.addEventHandler({ onAdd: kick, onUpdate: kick })
  }

  async start(): Promise<void> {
    await Promise.all([this.secrets.start(), this.configMaps.start()])
    this.run(1)
    this.enqueue(KEY)
    this.timer = setInterval(() => this.enqueue(KEY), this.resyncMs)
    this.timer.unref()
  }

  private tokens(): { live: BootstrapToken[]; expired: string[] } {
    const now = new Date()
    const live: BootstrapToken[] = []
    const expired: string[] = []
    for (const s of this.secrets.store.list()) {
      const t = tokenFromSecret(s as never)
      if (!t) continue
      if (isExpired(t, now)) expired.push(s.metadata.name!)
      else live.push(t)
    }
    return { live, expired }
  }

  protected async sync(): Promise<void> {
    const { live, expired } = this.tokens()
    // tokencleaner: an expired token's Secret goes (the authenticator refuses it already).
    for (const name of expired) {
      await this.client.resource(resourceFor('secrets'), TOKEN_NAMESPACE).delete(name).catch((err) => {
        if (!isNotFound(err)) throw err
      })
      this.log.info({ secret: name }, 'expired bootstrap token deleted')
    }
    const cm = this.configMaps.store.get(`${CLUSTER_INFO_NAMESPACE}/${CLUSTER_INFO_NAME}`)
    if (!cm) return
    const data = signedClusterInfoData(cm.data, live, new Date())
    if (!data || deepEqual(data, cm.data ?? {})) return
    try {
      await this.client.resource<ConfigMap>(resourceFor('configmaps'), CLUSTER_INFO_NAMESPACE).update({ ...cm, data })
      this.log.info({ tokens: live.filter((t) => t.usages.includes('signing')).map((t) => t.id) }, 'cluster-info signed')
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err
      this.enqueue(KEY) // the informer brings the newer object
    }
  }

  override async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await super.stop()
    this.secrets.stop()
    this.configMaps.stop()
  }
}
