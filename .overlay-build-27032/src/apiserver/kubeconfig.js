// The admin kubeconfig the server writes into its state directory (`kubectl --kubeconfig`
// uses it as is). Written as JSON, which is valid YAML and what kubectl parses either way.
import { writeFileSync } from 'node:fs';
export function renderKubeconfig(server, caPem, token, user = 'admin') {
    const cfg = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'netkube', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
        users: [{ name: user, user: { token } }],
        contexts: [{ name: `${user}@netkube`, context: { cluster: 'netkube', user } }],
        'current-context': `${user}@netkube`,
        preferences: {},
    };
    return JSON.stringify(cfg, null, 2) + '\n';
}
export function writeKubeconfig(path, server, caPem, token) {
    writeFileSync(path, renderKubeconfig(server, caPem, token), { mode: 0o600 });
}
