// Feeding the read model from the apiserver: one informer for Services, one for
// EndpointSlices (discovery.k8s.io/v1). Handlers only copy objects into the model; the
// model decides whether anything visible changed. `synced` turns true once both initial
// lists are in, so names are never answered NXDOMAIN from a half-filled model.
// Pod records need no informer: the "pods insecure" mode answers from the name itself.
import { sliceServiceKey } from '../api/meta.js'
import type { EndpointSlice, Service } from '../api/types.js'
import { findResource } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { createInformer, type Informer } from '../client/informer.js'
import { logger } from '../util/log.js'
import { DnsModel } from './model.js'

const log = logger('dns-feed')

export interface DnsFeed {
  model: DnsModel
  /** Resolves when both informers have listed (the model is then synced). */
  synced: Promise<void>
  stop(): void
}

export function startDnsModelFromClient(client: Client, model = new DnsModel()): DnsFeed {
  const services: Informer<Service> = createInformer<Service>(client.resource<Service>(findResource('', 'v1', 'services')!), { name: 'dns-services' })
  const slices: Informer<EndpointSlice> = createInformer<EndpointSlice>(
    client.resource<EndpointSlice>(findResource('discovery.k8s.io', 'v1', 'endpointslices')!),
    { name: 'dns-endpointslices' },
  )
  services.addEventHandler({
    onAdd: (s) => model.upsertService(s),
    onUpdate: (_o, s) => model.upsertService(s),
    onDelete: (s) => model.deleteService(s.metadata.namespace ?? 'default', s.metadata.name ?? ''),
  })
  slices.addEventHandler({
    onAdd: (s) => model.upsertEndpointSlice(s),
    onUpdate: (o, s) => {
      // A slice re-labelled to another service must leave the old one.
      if (sliceServiceKey(o) !== sliceServiceKey(s)) model.deleteEndpointSlice(o)
      model.upsertEndpointSlice(s)
    },
    onDelete: (s) => model.deleteEndpointSlice(s),
  })
  const synced = Promise.all([services.start(), slices.start()]).then(() => {
    // start() also resolves when stopped before the first list: check.
    if (!services.hasSynced() || !slices.hasSynced()) return
    model.setSynced(true)
    log.info({ services: services.store.keys().length, endpointslices: slices.store.keys().length }, 'dns model synced')
  })
  synced.catch((err: unknown) => log.error({ err: String(err) }, 'dns informers failed to start'))
  return {
    model,
    synced,
    stop() {
      services.stop()
      slices.stop()
    },
  }
}
