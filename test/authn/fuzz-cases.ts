// The authentication fuzz's case generator: seeded, so a failing case is replayed by its seed.
// Every Authorization header it makes must be refused (401): where a case starts from a
// genuine credential, the mutation is one the server cannot read as the same credential (no
// case toggles a digit, no flip lands on a base64url segment's last character, whose low bits
// may be unused padding).
import { createHash } from 'node:crypto'

/** The apiserver fuzz's seeded generator (mulberry32), shared. */
export { prng as rng } from '../apiserver/fuzz-cases.js'

export class Gen {
  constructor(readonly rnd: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1))
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!
  }
  chance(p: number): boolean {
    return this.rnd() < p
  }
  str(n: number, alphabet: string): string {
    let s = ''
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.rnd() * alphabet.length)]
    return s
  }
  /** Random code points from odd corners of Unicode (combining marks, RTL, emoji, CJK, BOM, replacement). */
  unicode(n: number): string {
    const ranges: [number, number][] = [[0xa0, 0x24f], [0x300, 0x36f], [0x590, 0x6ff], [0x200b, 0x202e], [0x3040, 0x30ff], [0x4e00, 0x4fff], [0xfeff, 0xfeff], [0xfffd, 0xfffd], [0x1f300, 0x1f6ff], [0x10000, 0x1007f]]
    let s = ''
    for (let i = 0; i < n; i++) {
      const [lo, hi] = this.pick(ranges)
      s += String.fromCodePoint(this.int(lo, hi))
    }
    return s
  }
}

export const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const PRINTABLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('')
/** What an HTTP header value may carry on the wire (RFC 9110 field-vchar, obs-text, SP, HTAB). */
const WIRE = `\t ${PRINTABLE}${Array.from({ length: 128 }, (_, i) => String.fromCharCode(128 + i)).join('')}`

export const b64u = (s: string | Buffer): string => Buffer.from(s).toString('base64url')
/** A header value as Node's HTTP client sends it byte for byte (latin1): UTF-8 text becomes its raw bytes. */
export const wire = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')

export interface FuzzContext {
  /** The static token file's admin token. */
  adminToken: string
  /** A genuine ServiceAccount token (it authenticates: the mutations below must not). */
  saToken: string
  /** Tokens signed with foreign keys or algorithms: alg none, HS256 keyed with the public key, … */
  forged: { what: string; token: string }[]
  /** Tokens signed with the apiserver's own key whose claims are wrong: expired, another audience, … */
  badClaims: { what: string; token: string }[]
}

export interface HeaderCase {
  family: string
  /** The Authorization header as sent (latin1: bytes ≥ 0x80 are sent raw). */
  authorization: string
}

/** Replace the character at `i` by a different one of `alphabet`. */
function substitute(g: Gen, s: string, i: number, alphabet: string): string {
  let c = g.str(1, alphabet)
  while (c === s[i]) c = g.str(1, alphabet)
  return s.slice(0, i) + c + s.slice(i + 1)
}

/** A position in a JWT that is not a segment's last character and not a dot. */
function innerPosition(g: Gen, jwt: string): number {
  const segs = jwt.split('.')
  const seg = g.int(0, segs.length - 1)
  const len = segs[seg]!.length
  const start = segs.slice(0, seg).reduce((a, s) => a + s.length + 1, 0)
  return start + g.int(0, Math.max(0, len - 2))
}

function mutateJwt(g: Gen, jwt: string): { what: string; token: string } {
  const [h, p, s] = jwt.split('.') as [string, string, string]
  switch (g.int(0, 11)) {
    case 0:
      return { what: 'truncated', token: jwt.slice(0, g.int(1, jwt.length - 1)) }
    case 1: {
      const i = innerPosition(g, jwt)
      return { what: 'one character changed', token: substitute(g, jwt, i, B64U) }
    }
    case 2: {
      const i = innerPosition(g, jwt)
      return { what: 'bad base64url character', token: jwt.slice(0, i) + g.pick(['+', '/', '=', '!', '%', '~', '*', '$']) + jwt.slice(i + 1) }
    }
    case 3:
      return { what: 'a fourth segment', token: `${jwt}.${g.str(g.int(0, 40), B64U)}` }
    case 4:
      return { what: 'signature dropped', token: g.chance(0.5) ? `${h}.${p}.` : `${h}.${p}` }
    case 5:
      return { what: 'header alg none, signature kept', token: `${b64u(JSON.stringify({ alg: g.pick(['none', 'None', 'NONE', 'nOnE']), typ: 'JWT' }))}.${p}.${g.chance(0.5) ? s : ''}` }
    case 6:
      return { what: 'payload re-encoded with a claim changed', token: `${h}.${editClaims(g, p)}.${s}` }
    case 7:
      return { what: 'standard base64 instead of base64url', token: [h, p, s].map((x) => Buffer.from(x, 'base64url').toString('base64')).join('.') }
    case 8:
      return { what: 'segments swapped', token: g.chance(0.5) ? `${p}.${h}.${s}` : `${h}.${s}.${p}` }
    case 9:
      return { what: 'signature of another token', token: `${h}.${p}.${g.str(s.length, B64U)}` }
    case 10:
      return { what: 'whitespace inside', token: `${jwt.slice(0, 20)}${g.pick(['\t', ' ', '  '])}${jwt.slice(20)}` }
    default:
      return { what: 'doubled', token: `${jwt}${g.pick(['', '.', ' ', ','])}${jwt}` }
  }
}

function editClaims(g: Gen, p: string): string {
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>
  const edits: ((c: Record<string, unknown>) => void)[] = [
    (c) => (c.sub = 'system:serviceaccount:kube-system:default'),
    (c) => (c.exp = Number(c.exp) + g.int(1, 10 ** 7)),
    (c) => (c.aud = ['https://kubernetes.default.svc.cluster.local', 'x']),
    (c) => (c.iss = g.unicode(4)),
    (c) => delete c['kubernetes.io'],
    (c) => (c.groups = ['system:masters']),
    (c) => (c.nbf = Number(c.nbf) - 1),
  ]
  g.pick(edits)(claims)
  return b64u(JSON.stringify(claims))
}

/** A JWT-shaped token made from scratch: header and payload of odd JSON, any signature. */
function jwtShape(g: Gen): { what: string; token: string } {
  const algs = ['none', 'HS256', 'HS512', 'RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', '', 'ES256K', null, 1, [], {}, 'RSA-OAEP']
  const headers: unknown[] = [
    { alg: g.pick(algs) },
    { alg: 'ES256', kid: g.pick([{ a: 1 }, '../../etc/passwd', '', 'x'.repeat(300), null]) },
    { alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: g.str(43, B64U), y: g.str(43, B64U) } },
    { alg: 'ES256', crit: ['exp'], exp: 1 },
    { alg: 'ES256', b64: false, crit: ['b64'] },
    { alg: 'HS256', jku: 'https://127.0.0.1/keys' },
    g.pick([[], 'x', 1, null, true]),
  ]
  const payloads: unknown[] = [
    { sub: 'system:serviceaccount:kube-system:default', 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'default', uid: '' } } },
    { iss: 'https://kubernetes.default.svc.cluster.local', aud: ['https://kubernetes.default.svc.cluster.local'], sub: 'admin', exp: 9_999_999_999 },
    { 'kubernetes.io': g.pick([null, 'x', [], { namespace: 1 }, { namespace: 'a', serviceaccount: 'b' }]) },
    g.pick([[], 'x', 1, null, {}]),
    JSON.parse('['.repeat(500) + ']'.repeat(500)),
  ]
  const seg = (v: unknown): string => (g.chance(0.1) ? b64u(g.str(g.int(0, 30), PRINTABLE)) : b64u(JSON.stringify(v)))
  return { what: 'odd JWT shape', token: `${seg(g.pick(headers))}.${seg(g.pick(payloads))}.${g.str(g.int(0, 90), B64U)}` }
}

function schemeWithToken(g: Gen, token: string): string {
  return `${g.pick(['Bearer', 'bearer', 'BEARER'])}${g.pick([' ', ' ', ' ', '  '])}${token}`
}

/** One Authorization header that must not authenticate. */
export function headerCase(g: Gen, ctx: FuzzContext): HeaderCase {
  const bearer = (t: string): string => schemeWithToken(g, t)
  const r = g.int(0, 99)
  if (r < 10) return { family: 'random printable bearer', authorization: bearer(g.str(g.int(1, 300), PRINTABLE)) }
  if (r < 18) return { family: 'random header bytes', authorization: g.str(g.int(0, 200), WIRE) }
  if (r < 24) return { family: 'unicode', authorization: wire(g.chance(0.5) ? `Bearer ${g.unicode(g.int(1, 60))}` : `${g.unicode(g.int(1, 8))} ${g.str(g.int(1, 40), B64U)}`) }
  if (r < 30) {
    const user = g.pick(['admin', 'kubernetes-admin', 'system:masters', g.str(g.int(0, 20), PRINTABLE)])
    const pass = g.pick([ctx.adminToken, ctx.saToken, 'admin', g.str(g.int(0, 30), PRINTABLE)])
    return { family: 'Basic', authorization: `${g.pick(['Basic', 'basic'])} ${g.chance(0.9) ? Buffer.from(`${user}:${pass}`).toString('base64') : g.str(g.int(0, 60), PRINTABLE)}` }
  }
  if (r < 32) {
    // Up to a bit under Node's parser limit as the apiserver sets it (upstream's 1 MiB): large, still parsed.
    const n = g.chance(0.8) ? g.int(8_000, 64_000) : g.int(64_000, 900_000)
    return { family: 'huge', authorization: g.chance(0.5) ? `Bearer ${g.str(1, 'Ax')}${'A'.repeat(n)}` : `Bearer ${b64u(JSON.stringify({ alg: 'ES256' }))}.${'A'.repeat(n)}.${g.str(86, B64U)}` }
  }
  if (r < 42) {
    const t = ctx.adminToken
    const letters = [...t].flatMap((c, i) => (/[a-z]/i.test(c) ? [i] : []))
    const m = g.int(0, 6)
    const tok =
      m === 0 ? t.slice(0, g.int(1, t.length - 1))
      : m === 1 ? t + g.str(g.int(1, 5), PRINTABLE)
      : m === 2 ? substitute(g, t, g.int(0, t.length - 1), '0123456789abcdef')
      : m === 3 ? (() => { const i = g.pick(letters); return t.slice(0, i) + t[i]!.toUpperCase() + t.slice(i + 1) })()
      : m === 4 ? t.slice(1)
      : m === 5 ? g.str(t.length, '0123456789abcdef')
      : `${t},kubernetes-admin`
    if (g.chance(0.15)) return { family: 'admin token, wrong scheme', authorization: `${g.pick(['Token', 'Bearer:', 'Bearer\t', 'Bear er', 'Bearer Bearer', 'JWT', 'Negotiate', 'Digest', ''])} ${t}` }
    return { family: 'admin token mutated', authorization: bearer(tok) }
  }
  if (r < 54) {
    const f = g.pick(ctx.forged)
    return { family: `forged JWT: ${f.what}`, authorization: bearer(g.chance(0.3) ? mutateJwt(g, f.token).token : f.token) }
  }
  if (r < 66) {
    const f = g.pick(ctx.badClaims)
    return { family: `own key, bad claims: ${f.what}`, authorization: bearer(f.token) }
  }
  if (r < 82) {
    const m = mutateJwt(g, ctx.saToken)
    return { family: `genuine JWT mutated: ${m.what}`, authorization: bearer(m.token) }
  }
  if (r < 90) return { family: 'odd JWT shape', authorization: bearer(jwtShape(g).token) }
  const id = g.str(6, 'abcdefghijklmnopqrstuvwxyz0123456789')
  const secret = g.str(16, 'abcdefghijklmnopqrstuvwxyz0123456789')
  const shapes = [`${id}.${secret}`, `${id.toUpperCase()}.${secret}`, `${id}.${secret.slice(1)}`, `${id}${secret}`, `bootstrap-token-${id}.${secret}`, `${id}.${secret}.${secret}`, `${id}:${secret}`]
  return { family: 'bootstrap token shape', authorization: bearer(g.pick(shapes)) }
}

/** Subjects for client certificates: empty and odd CNs, many and odd Os, never exactly `system:masters`. */
export function oddSubject(g: Gen): { commonName: string; organizations: string[] } {
  const cn = g.pick([
    () => '',
    () => ' ',
    () => g.unicode(g.int(1, 30)),
    () => 'x'.repeat(g.int(200, 4000)),
    () => g.pick(['a\nO=system:masters', 'CN=admin, O=system:masters', 'admin/O=system:masters', 'system:masters', '"quoted"', '+=,;<>#\\', 'kubernetes-admin\u0000']),
    () => g.str(g.int(1, 64), PRINTABLE),
  ])()
  const masterish = ['system:masters\u0000', 'system:masters ', ' system:masters', 'System:Masters', 'system:masters,x', 'system:master', 'system:masters\n']
  const n = g.pick([0, 0, 1, 2, 5, g.int(10, 80)])
  const orgs = Array.from({ length: n }, () => (g.chance(0.2) ? g.pick(masterish) : g.chance(0.3) ? g.unicode(g.int(1, 10)) : g.str(g.int(0, 40), PRINTABLE)))
  return { commonName: cn, organizations: orgs }
}

/** A short stable digest of a case, for the failure message (the case itself may be 1 MB). */
export function digest(s: string): string {
  return createHash('sha256').update(s, 'latin1').digest('hex').slice(0, 12)
}
