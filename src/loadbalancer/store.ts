// Allocation records in etcd, one key per address, like the apiserver's ClusterIPs
// (/registry/ranges/loadbalancerips/<ip> → {namespace, name, uid}). A claim is a transaction
// "create if absent" (or "already mine"), a release "delete if still mine": two controllers
// (a leader handover, a split brain) can never both hand out one address.
import { Etcd3 } from 'etcd3'
import type { Owner } from './allocate-core.js'

export const LB_IP_PREFIX = '/registry/ranges/loadbalancerips/'

export interface AllocationStore {
  list(): Promise<Map<string, Owner>>
  /** true when the address is now held by `owner` (newly or already). */
  claim(ip: string, owner: Owner): Promise<boolean>
  /** Delete the record if `owner` (same uid) still holds it. */
  release(ip: string, owner: Owner): Promise<void>
  close(): void
}

const encode = (o: Owner): string => JSON.stringify({ namespace: o.namespace, name: o.name, uid: o.uid })

export class EtcdAllocationStore implements AllocationStore {
  private readonly etcd: Etcd3
  constructor(endpoints: string[]) {
    this.etcd = new Etcd3({ hosts: endpoints })
  }

  async list(): Promise<Map<string, Owner>> {
    const all = await this.etcd.getAll().prefix(LB_IP_PREFIX).strings()
    const out = new Map<string, Owner>()
    for (const [k, v] of Object.entries(all)) {
      try {
        out.set(k.slice(LB_IP_PREFIX.length), JSON.parse(v) as Owner)
      } catch {
        /* not ours to judge: left for an operator */
      }
    }
    return out
  }

  async claim(ip: string, owner: Owner): Promise<boolean> {
    const key = LB_IP_PREFIX + ip
    const r = await this.etcd.if(key, 'Create', '==', 0).then(this.etcd.put(key).value(encode(owner))).else(this.etcd.get(key)).commit()
    if (r.succeeded) return true
    const held = r.responses[0]?.response_range?.kvs[0]?.value?.toString()
    return held === encode(owner)
  }

  async release(ip: string, owner: Owner): Promise<void> {
    const key = LB_IP_PREFIX + ip
    await this.etcd.if(key, 'Value', '==', encode(owner)).then(this.etcd.delete().key(key)).commit()
  }

  close(): void {
    this.etcd.close()
  }
}

/** In memory, the same semantics (unit tests of the controller). */
export class MemoryAllocationStore implements AllocationStore {
  readonly held = new Map<string, Owner>()
  async list(): Promise<Map<string, Owner>> {
    return new Map(this.held)
  }
  async claim(ip: string, owner: Owner): Promise<boolean> {
    const h = this.held.get(ip)
    if (!h) {
      this.held.set(ip, { ...owner })
      return true
    }
    return encode(h) === encode(owner)
  }
  async release(ip: string, owner: Owner): Promise<void> {
    const h = this.held.get(ip)
    if (h && encode(h) === encode(owner)) this.held.delete(ip)
  }
  close(): void {}
}
