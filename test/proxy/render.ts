// Test helper: render what one or more Services contribute to the nft table as readable text,
// with the 8-character name hashes replaced by `H` (tests for hashing are separate).
import type { EndpointSlice, Service } from '../../src/api/types.js'
import { buildFragment, type Fragment } from '../../src/proxy/nftables.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { NODE } from './fixtures.js'

export const unhash = (s: string): string => s.replace(/(service|local|external|firewall|endpoint|affinity)-[A-Z2-7]{8}-/g, '$1-H-')

export function fragmentText(f: Fragment): string {
  const blocks: string[] = []
  for (const [name, rules] of f.chains) blocks.push(unhash([`chain ${name}`, ...rules.map((r) => `  ${r}`)].join('\n')))
  for (const [name, s] of f.sets) blocks.push(unhash(`set ${name} ${s.type} ${s.flags?.join(',')} ${s.timeout}s`))
  const elems = [...f.elements.values()].map((e) => unhash(`${e.map}: ${e.key} : ${e.value}`))
  return [...blocks.sort(), ...elems.sort()].join('\n') + '\n'
}

export function renderService(s: Service, slices: EndpointSlice[], node = NODE.name): string {
  return fragmentText(buildFragment(buildServicePorts(s, slices, node), { clusterCIDR: NODE.clusterCIDR }))
}
