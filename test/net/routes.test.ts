// routeFor: the kernel's choice out of a listed table (longest prefix, then lowest metric).
import t from 'tap'
import { routeFor } from '../../src/net/routes.js'
import type { RouteInfo } from '../../src/net/types.js'

const r = (dst: string, dev: string, extra: Partial<RouteInfo> = {}): RouteInfo => ({
  dst, dev, onlink: false, scope: 'universe', table: 254, protocol: 0, type: 1, family: dst.includes(':') ? 6 : 4, ...extra,
})

const table = [
  r('0.0.0.0/0', 'eth0'),
  r('10.0.0.0/8', 'wide'),
  r('10.96.0.0/12', 'svc', { metric: 100 }),
  r('10.96.0.0/12', 'svc-low', { metric: 10 }),
  r('10.96.5.0/24', 'narrow'),
  r('10.123.0.0/16', 'x', { type: 7 }),
  r('::/0', 'eth6'),
]

const cases: [string, string | undefined][] = [
  ['10.96.5.9', 'narrow'], // longest prefix wins
  ['10.96.0.1', 'svc-low'], // same prefix: lowest metric
  ['10.1.2.3', 'wide'],
  ['192.168.1.1', 'eth0'], // default route
  ['10.123.4.5', 'x'], // an unreachable route is still the match (callers check the type)
  ['2001:db8::1', 'eth6'], // families do not mix
]
for (const [ip, dev] of cases) t.equal(routeFor(table, ip)?.dev, dev, `${ip} → ${dev}`)
t.equal(routeFor(table.filter((x) => x.dst !== '0.0.0.0/0'), '192.168.1.1'), undefined, 'no default route: no match')
