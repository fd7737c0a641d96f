// The admin kubeconfig the server writes into its state directory (`kubectl --kubeconfig`
// uses it as is). Written as JSON, which is valid YAML and what kubectl parses either way.
import { renameSync, writeFileSync } from 'node:fs'

/** A bearer token, or a client certificate and its key (PEM). */
export type KubeconfigCredential = string | { certPem: string; keyPem: string } | { tokenFile: string }

export function renderKubeconfig(server: string, caPem: string, cred: KubeconfigCredential, user = 'admin'): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  const userEntry =
    typeof cred === 'string' ? { token: cred } : 'tokenFile' in cred ? { tokenFile: cred.tokenFile } : { 'client-certificate-data': b64(cred.certPem), 'client-key-data': b64(cred.keyPem) }
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'netkube', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: user, user: userEntry }],
    contexts: [{ name: `${user}@netkube`, context: { cluster: 'netkube', user } }],
    'current-context': `${user}@netkube`,
    preferences: {},
  }
  return JSON.stringify(cfg, null, 2) + '\n'
}

/** Written whole and renamed into place: a reader (the lab, a DNS pod starting) never sees half a file. */
export function writeKubeconfig(path: string, server: string, caPem: string, cred: KubeconfigCredential, user?: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, renderKubeconfig(server, caPem, cred, user), { mode: 0o600 })
  renameSync(tmp, path)
}
