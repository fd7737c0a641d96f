// `netkube lab up|down|status|forward`.
import { parseArgs } from 'node:util'
import { labUp, labDown, labStatus } from './lab.js'

const USAGE = `usage:
  netkube lab up [--nodes 3] [--ha] [--name lab] [--state-dir D] [--api-port 6443] [--zones zone-a,zone-b]
      (nodes take the zones in turn as topology.kubernetes.io/zone; --zones '' labels none)
  netkube lab status [--name lab]
  netkube lab down [--name lab]
  netkube lab node restart NAME [--name lab] [--agent-only | --reboot] [--wait 60s]
  netkube lab node add NAME [--name lab] [--wait 60s]
  netkube lab node remove NAME [--name lab] [--wait 60s]
`

export async function main(argv: string[]): Promise<number | void> {
  const [verb, ...rest] = argv
  if (verb === 'forward') return (await import('./forward.js')).main(rest)
  if (verb === 'supervise') return (await import('./supervise.js')).main(rest)
  if (verb === 'node' && (rest[0] === 'add' || rest[0] === 'remove')) return (await import('./node-add.js')).main(rest[0], rest.slice(1))
  if (verb === 'node') return (await import('./node-restart.js')).main(rest)
  const { values: v } = parseArgs({
    args: rest,
    options: {
      nodes: { type: 'string' },
      name: { type: 'string' },
      'state-dir': { type: 'string' },
      'api-port': { type: 'string' },
      ha: { type: 'boolean' },
      zones: { type: 'string' },
    },
  })
  const common = { ...(v.name ? { name: v.name } : {}), ...(v['state-dir'] ? { stateDir: v['state-dir'] } : {}) }
  switch (verb) {
    case 'up': {
      const zones = v.zones === undefined ? {} : { zones: v.zones.split(',').map((z) => z.trim()).filter(Boolean) }
      const state = await labUp({ ...common, nodes: Number(v.nodes ?? 3), ha: v.ha ?? false, ...zones, ...(v['api-port'] ? { apiPort: Number(v['api-port']) } : {}) })
      process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\n`)
      return 0
    }
    case 'down':
      await labDown(common)
      return 0
    case 'status':
      process.stdout.write(labStatus(common))
      return 0
    default:
      process.stderr.write(USAGE)
      return 2
  }
}
