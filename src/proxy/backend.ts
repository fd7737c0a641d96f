// What a proxy mode implements. The proxier hands it the current ServicePorts of every
// Service (already filtered and sorted) and which Services changed; the backend turns that
// into one kernel update.
import type { ServicePortInfo } from './serviceport.js'

export interface SyncInput {
  /** Rebuild everything (first sync, after a failure, periodically). */
  full: boolean
  /** Every Service key → its ports (empty array: nothing to program). */
  ports: ReadonlyMap<string, readonly ServicePortInfo[]>
  /** Keys whose ports changed since the last successful sync (ignored when full). */
  changed: ReadonlySet<string>
  /** Local addresses NodePorts answer on (--nodeport-addresses); undefined = every local address. */
  nodePortIPs?: readonly string[]
}

export interface SyncStats {
  rules: number
  chains: number
  /** Size of what was sent to the kernel (ops or lines). */
  written: number
}

export interface ProxyBackend {
  readonly mode: 'nftables' | 'iptables' | 'ipvs'
  sync(input: SyncInput): Promise<SyncStats>
  /** Release kernel sockets (a netlink runner's). */
  close?(): void
}
