// Pure: a TraceResult as the readable text `netkube trace` prints, hop by hop, grouped by stage.
import type { Endpoint, TraceResult } from './types.js'

export function endpointText(e: Endpoint): string {
  switch (e.kind) {
    case 'pod':
      return `pod ${e.namespace}/${e.name}${e.ip ? ` (${e.ip}${e.node ? ` on ${e.node}` : ''})` : ''}`
    case 'node':
      return `node ${e.name}${e.ip ? ` (${e.ip})` : ''}`
    case 'outside':
      return `outside${e.ip ? ` (${e.ip})` : ''}`
    case 'service':
      return `service ${e.namespace}/${e.name}${e.clusterIP ? ` (${e.clusterIP})` : ' (headless)'}`
    case 'ip':
      return e.ip
  }
}

const STAGE: Record<string, string> = { dns: 'DNS', source: 'Source', wire: 'Wire', destination: 'Destination' }

export function renderText(r: TraceResult): string {
  const lines: string[] = [`trace ${endpointText(r.from)} → ${endpointText(r.to)}${r.request.port ? ` port ${r.request.port}` : ''}${r.request.proto ? `/${r.request.proto}` : ''}`]
  let stage = ''
  let n = 0
  for (const h of r.hops) {
    if (h.stage !== stage) {
      stage = h.stage
      lines.push('', `${STAGE[stage] ?? stage}:`)
    }
    n++
    const v = h.verdict && h.verdict !== 'pass' ? ` [${h.verdict.toUpperCase()}]` : ''
    lines.push(`  ${String(n).padStart(2)}. ${h.node ? `${h.node} ` : ''}${h.kind}: ${h.summary}${v}`)
    if (h.object) for (const o of h.object.split('\n').slice(0, 6)) lines.push(`        │ ${o}`)
  }
  lines.push('', `outcome: ${r.outcome}`)
  if (r.probe) {
    lines.push('', `probe: ${r.probe.events.length} trace event${r.probe.events.length === 1 ? '' : 's'}, ${r.probe.matched ? 'match the predicted hops' : 'DO NOT match the prediction'}`)
    for (const e of r.probe.events) lines.push(`  ${e.node} ${e.line.replace(/^trace id \S+ /, '')}`)
    for (const m of r.probe.mismatches) lines.push(`  mismatch: ${m}`)
  }
  return lines.join('\n') + '\n'
}
