// ServiceAccounts controller shell: a namespace appears (or its `default` ServiceAccount is
// deleted) → queue the namespace → create what missingServiceAccounts says.
import type { Namespace, ServiceAccount } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isForbidden, isNotFound } from '../client/errors.js'
import { QueueController } from './base.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { missingServiceAccounts } from './serviceaccounts-core.js'

export class ServiceAccountsController extends QueueController {
  private readonly namespaces
  private readonly sas

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics) {
    super('serviceaccount', metrics)
    this.namespaces = f.get<Namespace>(R.namespaces)
    this.sas = f.get<ServiceAccount>(R.serviceaccounts)
    this.namespaces.addEventHandler({ onAdd: (n) => this.enqueue(n.metadata.name!), onUpdate: (_o, n) => this.enqueue(n.metadata.name!) })
    this.sas.addEventHandler({ onDelete: (s) => this.enqueue(s.metadata.namespace!) })
  }

  protected async sync(ns: string): Promise<void> {
    const want = missingServiceAccounts(this.namespaces.store.get(ns), this.sas.store.byIndex(BY_NAMESPACE, ns))
    for (const sa of want) {
      try {
        await this.client.resource<ServiceAccount>(R.serviceaccounts, ns).create(sa)
      } catch (err) {
        // Created meanwhile, or the namespace went away / started terminating.
        if (!isAlreadyExists(err) && !isNotFound(err) && !isForbidden(err)) throw err
      }
    }
  }
}
