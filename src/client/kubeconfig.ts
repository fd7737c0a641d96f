// kubeconfig → ClientConfig. Reads the files kubectl writes (YAML or JSON): the context
// (current-context unless named), its cluster (server, CA inline or by path, insecure flag)
// and its user (token inline or by file). Relative file paths resolve against the
// kubeconfig's own directory, as kubectl does.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import type { ClientConfig } from './interfaces.js'
import { parse as parseYaml } from 'yaml'

type YamlValue = unknown
type Obj = { [k: string]: YamlValue }

export class KubeconfigError extends Error {
  constructor(msg: string) {
    super(msg)
    this.name = 'KubeconfigError'
  }
}

function isObj(v: YamlValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str(v: YamlValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return undefined
}

/** Finds `name` in a kubeconfig list (clusters/contexts/users) and returns its inner `key` object. */
function named(doc: Obj, list: string, key: string, name: string, file: string): Obj {
  const items = doc[list]
  if (Array.isArray(items)) {
    for (const it of items) {
      if (isObj(it) && str(it.name) === name) {
        const inner = it[key]
        return isObj(inner) ? inner : {}
      }
    }
  }
  throw new KubeconfigError(`${file}: no ${list.replace(/s$/, '')} named "${name}"`)
}

function onlyEntry(doc: Obj, list: string, key: string): Obj | undefined {
  const items = doc[list]
  if (Array.isArray(items) && items.length === 1 && isObj(items[0]) && isObj(items[0][key])) return items[0][key] as Obj
  return undefined
}

/** Parses kubeconfig text; `baseDir` resolves relative certificate/token paths. */
export function parseKubeconfig(text: string, opts: { context?: string; baseDir?: string; file?: string } = {}): ClientConfig {
  const file = opts.file ?? 'kubeconfig'
  const baseDir = opts.baseDir ?? process.cwd()
  let doc: YamlValue
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new KubeconfigError(`${file}: ${(err as Error).message}`)
  }
  if (!isObj(doc)) throw new KubeconfigError(`${file}: not a kubeconfig (top level is not a mapping)`)

  const ctxName = opts.context ?? str(doc['current-context'])
  let cluster: Obj | undefined
  let user: Obj | undefined
  if (ctxName) {
    const ctx = named(doc, 'contexts', 'context', ctxName, file)
    const clusterName = str(ctx.cluster)
    if (!clusterName) throw new KubeconfigError(`${file}: context "${ctxName}" names no cluster`)
    cluster = named(doc, 'clusters', 'cluster', clusterName, file)
    const userName = str(ctx.user)
    user = userName ? named(doc, 'users', 'user', userName, file) : {}
  } else {
    // No context at all: a file with exactly one cluster (and at most one user) is unambiguous.
    cluster = onlyEntry(doc, 'clusters', 'cluster')
    user = onlyEntry(doc, 'users', 'user') ?? {}
    if (!cluster) throw new KubeconfigError(`${file}: no current-context and no --context given`)
  }

  const server = str(cluster.server)
  if (!server) throw new KubeconfigError(`${file}: cluster has no server`)
  const cfg: ClientConfig = { server }

  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p))
  const caData = str(cluster['certificate-authority-data'])
  const caFile = str(cluster['certificate-authority'])
  if (caData) cfg.caPem = Buffer.from(caData, 'base64').toString('utf8')
  else if (caFile) cfg.caPem = readFileSync(abs(caFile), 'utf8')
  if (cluster['insecure-skip-tls-verify'] === true || cluster['insecure-skip-tls-verify'] === 'true') cfg.insecureSkipTLSVerify = true

  const token = str(user.token)
  const tokenFile = str(user.tokenFile) ?? str(user['token-file'])
  if (token) cfg.token = token
  else if (tokenFile) cfg.token = readFileSync(abs(tokenFile), 'utf8').trim()
  // Client certificate, inline (…-data, base64) or by path, as kubectl reads them.
  const pem = (dataKey: string, fileKey: string): string | undefined => {
    const data = str(user[dataKey])
    if (data) return Buffer.from(data, 'base64').toString('utf8')
    const f = str(user[fileKey])
    return f ? readFileSync(abs(f), 'utf8') : undefined
  }
  const certPem = pem('client-certificate-data', 'client-certificate')
  const keyPem = pem('client-key-data', 'client-key')
  if ((certPem === undefined) !== (keyPem === undefined)) throw new KubeconfigError(`${file}: user has a client certificate without its key (or a key without its certificate)`)
  if (certPem && keyPem) {
    cfg.certPem = certPem
    cfg.keyPem = keyPem
  }
  return cfg
}

/** Reads one kubeconfig file. `context` overrides current-context. */
export function loadKubeconfig(path: string, context?: string): ClientConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(err as Error).message}`)
  }
  const opts: { context?: string; baseDir: string; file: string } = { baseDir: dirname(resolve(path)), file: path }
  if (context !== undefined) opts.context = context
  const cfg = parseKubeconfig(text, opts)
  // The file may be rewritten under a running client (a rotated node certificate): new
  // connections pick the current credentials up; an unreadable or half-written file keeps the old.
  let last: Pick<ClientConfig, 'token' | 'certPem' | 'keyPem'> = { ...(cfg.token ? { token: cfg.token } : {}), ...(cfg.certPem ? { certPem: cfg.certPem, keyPem: cfg.keyPem! } : {}) }
  cfg.reload = () => {
    try {
      const now = parseKubeconfig(readFileSync(path, 'utf8'), opts)
      last = { ...(now.token ? { token: now.token } : {}), ...(now.certPem ? { certPem: now.certPem, keyPem: now.keyPem! } : {}) }
    } catch {
      // keep the last good credentials
    }
    return last
  }
  return cfg
}

/** Value of `--name=value` or `--name value` in argv. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!
    if (a === '--') break
    if (a === `--${name}`) return argv[k + 1]
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3)
  }
  return undefined
}

/**
 * `--api-servers URL,URL,…`: the apiservers of one control plane (same CA and credentials as
 * the kubeconfig's), replacing the kubeconfig's server; the client fails over among them.
 */
export function withApiServers(cfg: ClientConfig, list: string | undefined): ClientConfig {
  if (list === undefined) return cfg
  const servers = list.split(',').map((s) => s.trim()).filter(Boolean)
  if (servers.length === 0) throw new KubeconfigError('--api-servers: no server given')
  for (const s of servers) {
    let u: URL
    try {
      u = new URL(s)
    } catch {
      throw new KubeconfigError(`--api-servers: "${s}" is not a URL`)
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new KubeconfigError(`--api-servers: "${s}": want https:// or http://`)
  }
  return { ...cfg, server: servers[0]!, servers }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/**
 * rest.InClusterConfig: inside a pod (KUBERNETES_SERVICE_HOST/PORT and the kubelet's projected
 * token, ca.crt), the apiserver through the `kubernetes` Service. The token file is re-read
 * (the kubelet refreshes it), so a long-running client keeps a valid token. Undefined outside a pod.
 */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): ClientConfig | undefined {
  const tokenPath = join(dir, 'token')
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT || !existsSync(tokenPath)) return undefined
  const host = env.KUBERNETES_SERVICE_HOST.includes(':') ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST
  let token = readFileSync(tokenPath, 'utf8').trim()
  const cfg: ClientConfig = {
    server: `https://${host}:${env.KUBERNETES_SERVICE_PORT}`,
    token,
    reload: () => {
      try {
        token = readFileSync(tokenPath, 'utf8').trim() || token
      } catch {
        // keep the last token
      }
      return { token }
    },
  }
  if (existsSync(join(dir, 'ca.crt'))) cfg.caPem = readFileSync(join(dir, 'ca.crt'), 'utf8')
  return cfg
}

/**
 * The client config a program should use. `--kubeconfig` flag first; inside a pod with neither
 * the flag nor $KUBECONFIG, the in-cluster config (client-go's BuildConfigFromFlags("", ""), what
 * CoreDNS and ingress controllers do); otherwise kubectl's precedence: $KUBECONFIG (first
 * existing file of the list), then ~/.kube/config, then in-cluster.
 * `--context`, `--server`, `--api-servers` and `--token` flags override.
 */
export function clientConfigFromEnv(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): ClientConfig {
  const context = flagValue(argv, 'context')
  let cfg: ClientConfig | undefined
  const flagPath = flagValue(argv, 'kubeconfig')
  if (flagPath) {
    cfg = loadKubeconfig(flagPath, context)
  } else if (!env.KUBECONFIG && inClusterConfig(env)) {
    cfg = inClusterConfig(env)
  } else {
    const candidates = (env.KUBECONFIG ?? '').split(':').filter((p) => p !== '')
    const home = env.HOME ?? homedir()
    if (candidates.length === 0) candidates.push(join(home, '.kube', 'config'))
    const found = candidates.find((p) => existsSync(p))
    if (found) cfg = loadKubeconfig(found, context)
    else cfg = inClusterConfig(env)
  }
  const server = flagValue(argv, 'server')
  const token = flagValue(argv, 'token')
  if (!cfg) {
    if (!server) throw new KubeconfigError('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config')
    cfg = { server }
  }
  if (server) cfg.server = server
  cfg = withApiServers(cfg, flagValue(argv, 'api-servers'))
  if (token) cfg.token = token
  if (flagValue(argv, 'insecure-skip-tls-verify') === 'true' || argv.includes('--insecure-skip-tls-verify')) cfg.insecureSkipTLSVerify = true
  return cfg
}
