// Pure: the names a pod's processes see (upstream's GeneratePodHostNameAndDomain and
// GetNodenameForKernel): the kernel hostname of its UTS namespace, the domain that
// spec.subdomain makes (`<subdomain>.<namespace>.svc.<clusterDomain>`), and the FQDN
// written into its managed /etc/hosts. StatefulSet pods rely on these.
import type { Pod } from '../api/types.js'

/** The Linux nodename field holds 64 characters (65 with its NUL). */
export const FQDN_MAX_LEN = 64
const HOSTNAME_MAX_LEN = 63

export interface PodNames {
  /** The short hostname: spec.hostname, else the pod name (truncated to 63). */
  hostname: string
  /** `<subdomain>.<ns>.svc.<domain>` when spec.subdomain is set. */
  domain?: string
  /** What `hostname` prints inside the pod: the FQDN with setHostnameAsFQDN, else the short name. */
  kernelHostname: string
}

export class HostnameError extends Error {}

/** A name longer than a DNS label is cut to 63 characters, without a trailing '-' or '.'. */
function truncateHostname(name: string): string {
  if (name.length <= HOSTNAME_MAX_LEN) return name
  return name.slice(0, HOSTNAME_MAX_LEN).replace(/[-.]+$/, '')
}

export function podNames(pod: Pod, clusterDomain: string): PodNames {
  const hostname = truncateHostname(pod.spec.hostname || pod.metadata.name!)
  const domain = pod.spec.subdomain ? `${pod.spec.subdomain}.${pod.metadata.namespace ?? 'default'}.svc.${clusterDomain}` : undefined
  let kernelHostname = hostname
  if (domain && pod.spec.setHostnameAsFQDN) {
    const fqdn = `${hostname}.${domain}`
    if (fqdn.length > FQDN_MAX_LEN) {
      throw new HostnameError(
        `failed to construct FQDN from pod hostname and cluster domain, FQDN ${fqdn} is too long (${FQDN_MAX_LEN} characters is the max, ${fqdn.length} characters requested)`,
      )
    }
    kernelHostname = fqdn
  }
  return { hostname, ...(domain ? { domain } : {}), kernelHostname }
}
