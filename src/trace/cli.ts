// `netkube trace FROM TO [--port P] [--proto tcp|udp] [--probe] [-o json] [--kubeconfig F]`.
import { parseArgs } from 'node:util'
import { trace, traceContextFromKubeconfig, TraceError } from './trace.js'
import { renderText } from './render.js'
import type { TraceRequest } from './types.js'

const USAGE = `usage: netkube trace FROM TO [--port P] [--proto tcp|udp] [--probe] [-o json] [--kubeconfig F]
  FROM  ns/pod | node name | outside
  TO    a name (resolved as the pod resolves it) | ns/service | ns/pod | an IP (ClusterIP, pod, node, LoadBalancer)
`

export async function main(argv: string[]): Promise<number> {
  let v: { port?: string; proto?: string; probe?: boolean; output?: string; kubeconfig?: string; help?: boolean }
  let pos: string[]
  try {
    const r = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { port: { type: 'string' }, proto: { type: 'string' }, probe: { type: 'boolean' }, output: { type: 'string', short: 'o' }, kubeconfig: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
    v = r.values
    pos = r.positionals
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (v.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (pos.length !== 2) {
    process.stderr.write(USAGE)
    return 2
  }
  const port = v.port !== undefined ? Number(v.port) : undefined
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    process.stderr.write(`--port must be 1-65535, not "${v.port}"\n`)
    return 2
  }
  if (v.proto !== undefined && v.proto !== 'tcp' && v.proto !== 'udp') {
    process.stderr.write(`--proto must be tcp or udp, not "${v.proto}"\n`)
    return 2
  }
  if (v.output !== undefined && v.output !== 'json' && v.output !== 'text') {
    process.stderr.write(`-o must be json or text, not "${v.output}"\n`)
    return 2
  }
  const kubeconfig = v.kubeconfig ?? process.env.KUBECONFIG
  if (!kubeconfig) {
    process.stderr.write('netkube trace: no kubeconfig (--kubeconfig or KUBECONFIG)\n')
    return 2
  }
  const req: TraceRequest = { from: pos[0]!, to: pos[1]!, ...(port !== undefined ? { port } : {}), ...(v.proto ? { proto: v.proto as 'tcp' | 'udp' } : {}), ...(v.probe ? { probe: true } : {}) }
  try {
    const ctx = traceContextFromKubeconfig(kubeconfig)
    const result = req.probe ? await (await import('./probe.js')).traceWithProbe(req, ctx) : await trace(req, ctx)
    process.stdout.write(v.output === 'json' ? JSON.stringify(result, null, 2) + '\n' : renderText(result))
    return result.outcome === 'delivered' ? 0 : 1
  } catch (err) {
    if (err instanceof TraceError) {
      process.stderr.write(`netkube trace: ${err.message}\n`)
      return 2
    }
    throw err
  }
}
