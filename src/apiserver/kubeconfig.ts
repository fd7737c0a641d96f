// The admin kubeconfig the server writes into its state directory (`kubectl --kubeconfig`
// uses it as is). Written as JSON, which is valid YAML and what kubectl parses either way.
import { renameSync, writeFileSync } from 'node:fs'

export function renderKubeconfig(server: string, caPem: string, token: string, user = 'admin'): string {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'netkube', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@netkube`, context: { cluster: 'netkube', user } }],
    'current-context': `${user}@netkube`,
    preferences: {},
  }
  return JSON.stringify(cfg, null, 2) + '\n'
}

/** Written whole and renamed into place: a reader (the lab, a DNS pod starting) never sees half a file. */
export function writeKubeconfig(path: string, server: string, caPem: string, token: string, user?: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, renderKubeconfig(server, caPem, token, user), { mode: 0o600 })
  renameSync(tmp, path)
}
