// bench:api's server process for the authorization A/B rows: two apiservers on one etcd in one
// process — Node,RBAC and AlwaysAllow — so both share the process's JIT, heap and CPU share,
// and the bench's client load runs in another process. It counts the time spent inside the
// RBAC server's authorizer (the Node,RBAC union's authorize(), start to settled) and answers
// `stats` on stdin with a JSON line: process CPU µs, authorizer ns and calls so far.
// Usage (by bench/api.ts): node dist/bench/api-ab-servers.js ETCD RBAC_STATE_DIR ALLOW_STATE_DIR
import { createInterface } from 'node:readline'
import { startApiServer } from '../src/apiserver/server.js'
import { UnionAuthorizer } from '../src/rbac/authorizer.js'

let authzNs = 0n
let authzCalls = 0
const original = UnionAuthorizer.prototype.authorize
UnionAuthorizer.prototype.authorize = async function (this: UnionAuthorizer, a) {
  const t0 = process.hrtime.bigint()
  try {
    return await original.call(this, a)
  } finally {
    authzNs += process.hrtime.bigint() - t0
    authzCalls++
  }
}

async function main(): Promise<void> {
  const [etcd, rbacDir, allowDir] = process.argv.slice(2)
  if (!etcd || !rbacDir || !allowDir) throw new Error('usage: api-ab-servers ETCD RBAC_STATE_DIR ALLOW_STATE_DIR')
  // Advertised apart from the bench's main apiserver (127.0.0.1), so their `kubernetes` Endpoints leases do not fight.
  const rbac = await startApiServer({ etcdEndpoints: [etcd], stateDir: rbacDir, port: 0, logLevel: 'warn', advertiseAddress: '127.0.0.3' })
  const allow = await startApiServer({ etcdEndpoints: [etcd], stateDir: allowDir, port: 0, logLevel: 'warn', authorizationMode: 'AlwaysAllow', advertiseAddress: '127.0.0.2' })
  const stats = (): string => {
    const c = process.cpuUsage()
    return JSON.stringify({ cpuUs: c.user + c.system, authzNs: Number(authzNs), authzCalls })
  }
  process.stdout.write(`${JSON.stringify({ rbac: { url: rbac.url.replace('127.0.0.3', '127.0.0.1'), caPem: rbac.caPem }, allow: { url: allow.url.replace('127.0.0.2', '127.0.0.1'), caPem: allow.caPem } })}\n`)
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (l) => {
    if (l.trim() === 'stats') process.stdout.write(`${stats()}\n`)
  })
  // The bench closes stdin when it is done: stop both servers and exit.
  lines.on('close', () => {
    void Promise.all([rbac.close(), allow.close()]).finally(() => process.exit(0))
  })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
