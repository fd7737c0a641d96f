// `netkube ingress-controller [--kubeconfig F] [--http-port 80] [--https-port 443]
//   [--publish-service kube-system/netkube-ingress] [--metrics-listen 0.0.0.0:10254] …`
// The ingress controller as its pods run it (image netkube/ingress): informers → model →
// HAProxy, which it starts, reloads and restarts itself. State (config, certs, admin socket)
// lives in a private directory removed on exit.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { startStatusServer } from '../util/status-server.js'
import { startIngressController } from './controller.js'
import { ensureDefaultCert } from './haproxy-process.js'
import { CONTROLLER_NAME } from './model.js'

const USAGE = `usage: netkube ingress-controller [flags]

  --kubeconfig FILE              apiserver credentials (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --http-port N                  plain HTTP listener (default 80)
  --https-port N                 TLS listener (default 443)
  --bind-address IP              listen address (default all)
  --controller NAME              the IngressClass spec.controller served (default ${CONTROLLER_NAME})
  --publish-service NS/NAME      the controller's Service: its address goes into Ingress status
  --publish-status-address A,..  fixed addresses for Ingress status instead
  --metrics-listen HOST:PORT     /healthz, /readyz, /metrics (default 0.0.0.0:10254)
  --threads N                    HAProxy worker threads (default 2)
  --haproxy PATH                 the HAProxy binary (default /usr/sbin/haproxy)
`

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return 0
  }
  const log = logger('ingress-controller')
  const bind = flagValue(argv, 'bind-address') ?? ''
  const at = (port: string): string => (bind.includes(':') ? `[${bind}]:${port}` : `${bind || '*'}:${port}`)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-ingress-'))
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const client = createClient(clientConfigFromEnv(argv))
  const publish = flagValue(argv, 'publish-status-address')
  const ctl = startIngressController({
    client,
    registry,
    controller: flagValue(argv, 'controller') ?? CONTROLLER_NAME,
    ...(flagValue(argv, 'publish-service') ? { publishService: flagValue(argv, 'publish-service')! } : {}),
    ...(publish ? { publishStatusAddress: publish.split(',').filter(Boolean) } : {}),
    ...(process.env.POD_NAME || process.env.HOSTNAME ? { instance: (process.env.POD_NAME ?? process.env.HOSTNAME)! } : {}),
    haproxy: {
      http: at(flagValue(argv, 'http-port') ?? '80'),
      https: at(flagValue(argv, 'https-port') ?? '443'),
      dir,
      adminSocket: join(dir, 'admin.sock'),
      defaultCertFile: await ensureDefaultCert(dir),
      threads: Number(flagValue(argv, 'threads') ?? 2),
      ...(flagValue(argv, 'haproxy') ? { bin: flagValue(argv, 'haproxy')! } : {}),
    },
  })
  const [mh, mp] = (flagValue(argv, 'metrics-listen') ?? '0.0.0.0:10254').split(/:(?=\d+$)/)
  const status = await startStatusServer({
    component: 'ingress-controller',
    host: mh || '0.0.0.0',
    port: Number(mp),
    registry,
    checks: {
      healthz: [{ name: 'haproxy', check: () => (ctl.dataplane.proc.running() || !ctl.model() ? undefined : 'haproxy is not running') }],
      readyz: [{ name: 'synced-and-serving', check: () => (ctl.ready() ? undefined : 'not synced or haproxy not serving yet') }],
    },
  })
  process.stdout.write(`netkube ingress-controller: HTTP ${at(flagValue(argv, 'http-port') ?? '80')}, HTTPS ${at(flagValue(argv, 'https-port') ?? '443')}, status on ${mh}:${status.port}\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  log.info('ingress controller stopping')
  await ctl.stop()
  await status.close()
  rmSync(dir, { recursive: true, force: true })
  return 0
}
