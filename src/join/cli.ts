// `netkube token create [TOKEN] [--ttl 24h] [--description D] [--print-join-command]` and
// `netkube token list`, as `kubeadm token`: with the admin kubeconfig (--kubeconfig, default
// $KUBECONFIG or /var/lib/netkube/server/admin.kubeconfig).
import { parseArgs } from 'node:util'
import { resourceFor } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { caCertHash } from '../authn/pki.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { parseDuration } from '../util/duration.js'
import { newToken, tokenFromSecret, tokenSecret, tokenString, tokenTable, TOKEN_NAMESPACE, type BootstrapToken } from './tokens.js'

const USAGE = 'usage: netkube token create [TOKEN] [--ttl 24h] [--description D] [--print-join-command] [--kubeconfig F]\n       netkube token list [--kubeconfig F]\n'

/** The command a node runs to join with `t` (kubeadm join's flags, on `netkube agent`). */
export function joinCommand(server: string, t: BootstrapToken, caPem: string): string {
  return `netkube agent --server ${server} --bootstrap-token ${tokenString(t)} --discovery-token-ca-cert-hash ${caCertHash(caPem)}`
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  const { values: v, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { kubeconfig: { type: 'string' }, ttl: { type: 'string' }, description: { type: 'string' }, 'print-join-command': { type: 'boolean' } },
  })
  // kubeadm token create [token]: a token chosen beforehand (e.g. by an installer that hands it to the nodes too)
  if ((verb !== 'create' && verb !== 'list') || positionals.length > (verb === 'create' ? 1 : 0)) {
    process.stderr.write(USAGE)
    return 2
  }
  const cfg = loadKubeconfig(v.kubeconfig ?? process.env.KUBECONFIG ?? '/var/lib/netkube/server/admin.kubeconfig')
  const secrets = createClient(cfg).resource<KubeObject>(resourceFor('secrets'), TOKEN_NAMESPACE)
  try {
    if (verb === 'list') {
      const tokens = (await secrets.list()).items.map((s) => tokenFromSecret(s as never)).filter((t): t is BootstrapToken => t !== undefined)
      process.stdout.write(tokenTable(tokens, new Date()))
      return 0
    }
    const t = newToken({ ...(v.ttl !== undefined ? { ttlMs: parseDuration(v.ttl) } : {}), ...(v.description ? { description: v.description } : {}), ...(positionals[0] !== undefined ? { token: positionals[0] } : {}) })
    await secrets.create(tokenSecret(t))
    if (v['print-join-command']) {
      if (!cfg.caPem) throw new Error('the kubeconfig names no certificate-authority: the join command needs the CA hash')
      process.stdout.write(`${joinCommand(cfg.servers?.[0] ?? cfg.server, t, cfg.caPem)}\n`)
    } else process.stdout.write(`${tokenString(t)}\n`)
    return 0
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`)
    return 1
  }
}
