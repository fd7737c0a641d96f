// Pure: what the chaos loop may kill, as data, and the seeded order it kills them in.
// A target is eligible only while the lab supervises it (its pidfile exists): killing an
// unsupervised daemon would end the cluster, not test it. So when the lab starts supervising
// etcd, the relays or a second apiserver (`lab up --ha`), they join the kill-set by name
// without a change here.

export type KillTarget =
  /** kill -9 the supervised child whose PID is in componentPidfile(stateDir, role, node) */
  | { name: string; kind: 'pid'; role: string; node: string }
  /** a DNS server pod: delete it with grace 0 ('delete') or kill -9 its processes ('kill') */
  | { name: string; kind: 'dns-pod'; how: 'delete' | 'kill' }

/** Every target a lab of these nodes could have; the runner keeps those that exist. */
export function candidateTargets(nodes: readonly string[]): KillTarget[] {
  const pid = (role: string, node: string): KillTarget => ({ name: `${role}/${node}`, kind: 'pid', role, node })
  return [
    ...nodes.map((n) => pid('server', n)),
    ...nodes.map((n) => pid('etcd', n)),
    ...nodes.map((n) => pid('agent', n)),
    // the relay in each apiserver's node (unix socket → apiserver) and the host's (→ those sockets)
    ...nodes.map((n) => pid('relay', n)),
    pid('relay', 'host'),
    pid('dnsmasq', 'underlay'),
    { name: 'dns-pod/delete', kind: 'dns-pod', how: 'delete' },
    { name: 'dns-pod/kill', kind: 'dns-pod', how: 'kill' },
  ]
}

/** A seeded generator (xoshiro128**): the same seed gives the same chaos on every machine. */
export function seededRandom(seed: number): () => number {
  // splitmix32 spreads the one seed over the four words of state
  let z = seed >>> 0
  const next = (): number => {
    z = (z + 0x9e3779b9) >>> 0
    let x = z
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0
    return (x ^ (x >>> 16)) >>> 0
  }
  const s = [next(), next(), next(), next()]
  return () => {
    const r = Math.imul(((Math.imul(s[1]!, 5) << 7) | (Math.imul(s[1]!, 5) >>> 25)) >>> 0, 9) >>> 0
    const t = (s[1]! << 9) >>> 0
    s[2]! ^= s[0]!
    s[3]! ^= s[1]!
    s[1]! ^= s[2]!
    s[0]! ^= s[3]!
    s[2]! ^= t
    s[3] = ((s[3]! << 11) | (s[3]! >>> 21)) >>> 0
    return r / 2 ** 32
  }
}

/**
 * The kill order: rounds, each a seeded shuffle of every target, so a bounded run still
 * kills each target once before any twice. `gapMs` between a recovery and the next kill.
 */
export function killSchedule(seed: number, targets: readonly KillTarget[], gapMs: { min: number; max: number }): () => { target: KillTarget; gapMs: number } {
  if (targets.length === 0) throw new Error('no kill targets')
  const rnd = seededRandom(seed)
  let round: KillTarget[] = []
  return () => {
    if (round.length === 0) {
      round = [...targets]
      for (let i = round.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1))
        ;[round[i], round[j]] = [round[j]!, round[i]!]
      }
    }
    const target = round.shift()!
    return { target, gapMs: Math.round(gapMs.min + rnd() * (gapMs.max - gapMs.min)) }
  }
}
