// `netkube apiserver`: the API server alone, on an existing etcd (`netkube server`, in
// src/server, runs it together with etcd, the controllers and the scheduler).
import { logger } from '../util/log.js'
import { parseDuration } from '../util/duration.js'
import { waitForSignal } from '../util/signals.js'
import { startApiServer, type ApiServer, type ApiServerOptions } from './server.js'

const log = logger('apiserver')

interface Flag {
  name: string
  help: string
  default?: string
}

const COMMON_FLAGS: Flag[] = [
  { name: 'state-dir', help: 'certificates, tokens.csv, admin.kubeconfig', default: '/var/lib/netkube/server' },
  { name: 'etcd-servers', help: 'comma-separated etcd client URLs (required)' },
  { name: 'bind-address', help: 'listen address', default: '127.0.0.1' },
  { name: 'secure-port', help: 'HTTPS port', default: '6443' },
  { name: 'advertise-address', help: 'address put in the kubernetes endpoints and the kubeconfig' },
  { name: 'service-cluster-ip-range', help: 'ClusterIP range', default: '10.96.0.0/12' },
  { name: 'endpoint-lease-ttl', help: 'seconds a dead apiserver stays in the kubernetes endpoints', default: '15' },
  { name: 'event-ttl', help: 'how long events are kept after their last write (Go duration)', default: '1h0m0s' },
  { name: 'authorization-mode', help: 'ordered authorizers: Node, RBAC, AlwaysAllow, AlwaysDeny', default: 'Node,RBAC' },
  { name: 'audit-log-path', help: 'write audit.k8s.io/v1 events as JSON lines here (- = stdout); off when unset' },
  { name: 'audit-policy-file', help: 'audit.k8s.io/v1 Policy deciding each request\'s level (None, Metadata, Request)' },
  { name: 'v', help: 'log level (debug, info, warn)', default: 'info' },
]

export function parseFlags(argv: string[], flags: Flag[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of flags) if (f.default !== undefined) out[f.name] = f.default
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '-h' || a === '--help') {
      out.help = 'true'
      continue
    }
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a)
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(a)}`)
    const name = m[1]!
    if (!flags.some((f) => f.name === name)) throw new Error(`unknown flag --${name}`)
    const value = m[2] ?? argv[++i]
    if (value === undefined) throw new Error(`flag --${name} needs a value`)
    out[name] = value
  }
  return out
}

function usage(cmd: string, flags: Flag[]): string {
  return `usage: netkube ${cmd} [flags]\n\n${flags.map((f) => `  --${f.name.padEnd(28)} ${f.help}${f.default ? ` (default ${f.default})` : ''}`).join('\n')}\n`
}

function apiOptions(f: Record<string, string>, etcdEndpoints: string[]): ApiServerOptions {
  const o: ApiServerOptions = {
    etcdEndpoints,
    stateDir: f['state-dir']!,
    host: f['bind-address']!,
    port: Number(f['secure-port']),
    serviceCIDR: f['service-cluster-ip-range']!,
    logLevel: f.v!,
    endpointLeaseTtlSeconds: Number(f['endpoint-lease-ttl']),
    eventTtlSeconds: Math.max(1, Math.round(parseDuration(f['event-ttl']!) / 1000)),
  }
  if (f['advertise-address']) o.advertiseAddress = f['advertise-address']
  o.authorizationMode = f['authorization-mode']!
  if (f['audit-log-path']) o.auditLogPath = f['audit-log-path']
  if (f['audit-policy-file']) o.auditPolicyFile = f['audit-policy-file']
  return o
}


function announce(api: ApiServer): void {
  process.stdout.write(`netkube apiserver at ${api.url}\nkubeconfig: ${api.kubeconfigPath}\n`)
}

export async function main(argv: string[]): Promise<number> {
  return runApiserver(argv)
}

export async function runApiserver(argv: string[]): Promise<number> {
  const f = parseFlags(argv, COMMON_FLAGS)
  if (f.help) {
    process.stdout.write(usage('apiserver', COMMON_FLAGS))
    return 0
  }
  if (!f['etcd-servers']) throw new Error('--etcd-servers is required (or use `netkube server`, which starts its own etcd)')
  const api = await startApiServer(apiOptions(f, f['etcd-servers'].split(',')))
  announce(api)
  const sig = await waitForSignal()
  log.info({ sig }, 'shutting down')
  await api.close()
  return 0
}
