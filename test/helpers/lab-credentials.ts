// Every credential a lab left on disk: the kubeconfigs the lab, the servers and the agents
// wrote (by name: `kubeconfig`, `*.kubeconfig`) and the ServiceAccount tokens the kubelets
// projected into pods (`pods/<uid>/volumes/kube-api-access/token`). The walk is by file name,
// not by a list of known paths, so a credential someone adds later is found too.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseKubeconfig } from '../../src/client/kubeconfig.js'
import { SA_MOUNT_PATH, SA_VOLUME_NAME } from '../../src/kubelet/serviceaccount.js'

export interface FoundCredential {
  /** Path relative to the lab's state directory. */
  file: string
  kind: 'client certificate' | 'token' | 'projected token file' | 'ServiceAccount token'
  token?: string
  certPem?: string
  keyPem?: string
  /** The kubeconfig skips server verification. */
  insecure?: boolean
}

const SKIP = new Set(['logs', 'run', 'rootfs', 'containers', 'storage', 'etcd'])

export function labCredentials(stateDir: string): FoundCredential[] {
  const out: FoundCredential[] = []
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = join(dir, e.name)
      const file = relative(stateDir, p)
      if (e.isDirectory()) {
        if (!SKIP.has(e.name) && !e.name.startsWith('etcd-')) walk(p, depth + 1)
        continue
      }
      // The kubelet's projected files are symlinks into its ..data directory (atomic writer).
      if (!e.isFile() && !e.isSymbolicLink()) continue
      if (e.name === 'kubeconfig' || e.name.endsWith('.kubeconfig')) {
        const text = readFileSync(p, 'utf8')
        const raw = JSON.parse(text) as { users?: { user?: Record<string, unknown> }[]; clusters?: { cluster?: Record<string, unknown> }[] }
        const insecure = raw.clusters?.some((c) => c.cluster?.['insecure-skip-tls-verify'] === true || c.cluster?.['insecure-skip-tls-verify'] === 'true') ?? false
        const user = raw.users?.[0]?.user ?? {}
        if (user.tokenFile === SA_MOUNT_PATH + '/token' && Object.keys(user).length === 1) {
          out.push({ file, kind: 'projected token file', insecure })
          continue
        }
        const cfg = parseKubeconfig(text, { baseDir: dir, file: p })
        if (cfg.certPem) out.push({ file, kind: 'client certificate', certPem: cfg.certPem, keyPem: cfg.keyPem!, insecure })
        else out.push({ file, kind: 'token', token: cfg.token ?? '', insecure })
      } else if (e.name === 'token' && dir.endsWith(join('volumes', SA_VOLUME_NAME))) {
        out.push({ file, kind: 'ServiceAccount token', token: readFileSync(p, 'utf8').trim() })
      }
    }
  }
  walk(stateDir, 0)
  return out.sort((a, b) => a.file.localeCompare(b.file))
}

/** Who a credential file should be, from where the lab keeps it (undefined: a credential nobody expects). */
export function expectedIdentity(file: string, nodes: string[]): { user: string | RegExp; groups: string[] } | undefined {
  const parts = file.split('/')
  const base = parts.at(-1)!
  const node = nodes.find((n) => parts[0] === n)
  if (base === 'kubeconfig' && parts.length === 1) return { user: 'kubernetes-admin', groups: ['system:masters'] }
  if (/^server(-node\d+)?$/.test(parts[0]!) && parts.length === 2) {
    const byFile: Record<string, string> = {
      'admin.kubeconfig': 'kubernetes-admin',
      'controller-manager.kubeconfig': 'system:kube-controller-manager',
      'scheduler.kubeconfig': 'system:kube-scheduler',
      'addon-manager.kubeconfig': 'system:netkube:addon-manager',
    }
    const user = byFile[base]
    return user ? { user, groups: user === 'kubernetes-admin' ? ['system:masters'] : [] } : undefined
  }
  if (node && parts.length === 2) {
    if (base === 'kubelet.kubeconfig') return { user: `system:node:${node}`, groups: ['system:nodes'] }
    if (base === 'kube-proxy.kubeconfig') return { user: 'system:kube-proxy', groups: [] }
    if (base === 'agent.kubeconfig') return { user: `system:netkube:agent:${node}`, groups: ['system:netkube:agents'] }
  }
  if (node && base === 'token') return { user: /^system:serviceaccount:[a-z0-9-]+:[a-z0-9-]+$/, groups: ['system:serviceaccounts'] }
  return undefined
}
