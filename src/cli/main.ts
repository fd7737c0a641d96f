#!/usr/bin/env node
// netkube's single entry point. Each subcommand is loaded lazily so that short-lived
// invocations (the CNI plugin, `lab status`) do not pay for the modules they don't use.
import { VERSION } from '../version.js'

type CommandMain = (argv: string[]) => Promise<number | void>

interface Command {
  summary: string
  load: () => Promise<CommandMain>
}

const COMMANDS: Record<string, Command> = {
  version: { summary: 'print the version', load: async () => async () => void console.log(`netkube ${VERSION.gitVersion}`) },
  cni: { summary: 'CNI plugin: cni install --bin-dir D --conf-dir C | cni serve', load: async () => (await import('../../cni/cli.js')).main },
  apiserver: { summary: 'the API server on an existing etcd (--etcd-servers)', load: async () => (await import('../apiserver/cli.js')).runApiserver },
  server: { summary: 'the control plane: etcd + apiserver + controllers + scheduler + DNS add-on', load: async () => (await import('../server/cli.js')).main },
  'controller-manager': { summary: 'controllers: ReplicaSet, Deployment, Endpoints(Slices), node lifecycle, GC', load: async () => (await import('../controllers/cli.js')).main },
  scheduler: { summary: 'bind pending pods to nodes (filters, scores, pods/binding)', load: async () => (await import('../scheduler/cli.js')).main },
  token: { summary: 'bootstrap tokens for joining nodes: token create [--ttl] [--print-join-command] | token list', load: async () => (await import('../join/cli.js')).main },
  agent: { summary: 'a node: overlay + CNI + kubelet + kube-proxy + NetworkPolicy', load: async () => (await import('../agent/cli.js')).main },
  kubelet: { summary: 'run pods on this node (process runtime, CNI, probes)', load: async () => (await import('../kubelet/cli.js')).main },
  lab: { summary: 'a multi-node cluster on this machine: lab up|down|status', load: async () => (await import('../lab/cli.js')).main },
  agnhost: { summary: 'the built-in test image: serve the hostname over HTTP/TCP/UDP', load: async () => (await import('../agnhost/serve.js')).main },
  overlay: { summary: 'flannel-style overlay agent: subnet lease in etcd, VXLAN/host-gw routes', load: async () => (await import('../overlay/cli.js')).main },
  proxy: { summary: 'kube-proxy: Services to nftables/iptables/ipvs rules on this node', load: async () => (await import('../proxy/cli.js')).main },
  netpol: { summary: 'NetworkPolicy: Pods, Namespaces and policies to nftables sets on this node', load: async () => (await import('../netpol/cli.js')).main },
  dns: { summary: 'cluster DNS: Services/EndpointSlices to *.svc.<domain>, forwards the rest', load: async () => (await import('../dns/cli.js')).main },
  ui: { summary: 'a live map of the network in the browser (nodes, pods, Services, routes, traces)', load: async () => (await import('../ui/cli.js')).main },
  trace: { summary: 'explain a packet path hop by hop from the nodes kernel state (--probe sends one)', load: async () => (await import('../trace/cli.js')).main },
  'ingress-controller': { summary: 'Ingress controller: Ingresses to HAProxy (runtime API, seamless reloads)', load: async () => (await import('../ingress/cli.js')).main },
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(20)} ${c.summary}`)
  return `usage: netkube <command> [flags]\n\ncommands:\n${lines.join('\n')}\n`
}

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2)
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage())
    return
  }
  const cmd = COMMANDS[name]
  if (!cmd) {
    process.stderr.write(`netkube: unknown command "${name}"\n\n${usage()}`)
    process.exitCode = 2
    return
  }
  const code = await (await cmd.load())(rest)
  if (typeof code === 'number') process.exitCode = code
  // A daemon that has stopped is done, even if a socket it served (a relayed watch, a kept-alive
  // client) or a library's timer would keep the loop alive: lab down waited 5 s per daemon for that.
  // Not before stdout/stderr are flushed: a slow pipe reader must still get all of the output.
  const exitWhenFlushed = (): void => {
    if (process.stdout.writableLength > 0 || process.stderr.writableLength > 0) setTimeout(exitWhenFlushed, 50).unref()
    else process.exit()
  }
  setTimeout(exitWhenFlushed, 300).unref()
}

main().catch((err: unknown) => {
  process.stderr.write(`netkube: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
  // A daemon that failed half-way may hold handles (timers, sockets): do not linger.
  setTimeout(() => process.exit(1), 200).unref()
})
