// Bearer-token authentication from a static token file in kube-apiserver's CSV format:
//   token,user,uid,"group1,group2"
// On first start an admin token (group system:masters) is generated. Paths that
// kube-apiserver's default RBAC opens to system:unauthenticated stay open here too.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/** Who sent a request, as upstream's user.Info: the authenticators produce it, authorizers read it. */
export interface UserInfo {
  name: string
  uid: string
  groups: string[]
  extra?: Record<string, string[]>
}

/** The identity of a request that carries no credentials (allowed only on isAnonymousPath today). */
export const ANONYMOUS: UserInfo = { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'] }

/** One CSV line into fields, honouring double quotes (groups are a quoted list). */
function splitCsv(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"'
        i++
      } else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      out.push(cur)
      cur = ''
    } else cur += c
  }
  out.push(cur)
  return out.map((s) => s.trim())
}

export function parseTokenFile(text: string): Map<string, UserInfo> {
  const users = new Map<string, UserInfo>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const [token, name, uid, groups] = splitCsv(line)
    if (!token || !name) continue
    users.set(token, { name, uid: uid ?? '', groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [] })
  }
  return users
}

/** Make sure the token file exists with an admin entry; returns the admin token. */
export function ensureTokenFile(path: string): string {
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8')
    for (const [token, u] of parseTokenFile(text)) if (u.groups.includes('system:masters')) return token
    const token = randomBytes(24).toString('hex')
    writeFileSync(path, `${text.endsWith('\n') || !text ? text : text + '\n'}${token},kubernetes-admin,kubernetes-admin,"system:masters"\n`, { mode: 0o600 })
    return token
  }
  const token = randomBytes(24).toString('hex')
  writeFileSync(path, `${token},kubernetes-admin,kubernetes-admin,"system:masters"\n`, { mode: 0o600 })
  return token
}

const ANONYMOUS_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/'])

export function isAnonymousPath(path: string): boolean {
  return ANONYMOUS_PATHS.has(path) || path.startsWith('/healthz/') || path.startsWith('/livez/') || path.startsWith('/readyz/')
}

export class TokenAuthenticator {
  constructor(private users: Map<string, UserInfo>) {}

  static fromFile(path: string): TokenAuthenticator {
    return new TokenAuthenticator(parseTokenFile(readFileSync(path, 'utf8')))
  }

  /** The user behind an Authorization header, or undefined. */
  authenticate(header: string | undefined): UserInfo | undefined {
    if (!header) return undefined
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!m) return undefined
    const given = Buffer.from(m[1]!)
    for (const [token, user] of this.users) {
      const want = Buffer.from(token)
      if (want.length === given.length && timingSafeEqual(want, given)) return user
    }
    return undefined
  }
}
