// RBAC through real kubectl 1.27 and 1.33 against a real apiserver + etcd: Tables of roles and
// bindings, `create role/rolebinding`, `auth can-i` (+ `--list`, `--as`), `auth whoami`.
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { kubectlRunner } from '../helpers/kubectl.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

t.test('kubectl: RBAC, can-i, whoami', async (t) => {
  const srv = await withApiServer(t)
  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `r-${c.name.replace(/\W/g, '')}`
      const { k, ok } = kubectlRunner(t, c.path, srv.kubeconfigPath)
      await ok('create', 'namespace', ns)
      const roles = await ok('get', 'clusterroles')
      t.match(roles, /^NAME\s+CREATED AT\n/)
      t.match(roles, /\ncluster-admin\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/)
      t.match(roles, /\nsystem:node-proxier\s+/)
      t.match(await ok('get', 'clusterrolebindings', 'cluster-admin', '-o', 'wide'), /^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\ncluster-admin\s+ClusterRole\/cluster-admin\s+\S+\s+system:masters\s*\n/)
      t.match(await ok('create', 'role', 'pod-reader', '-n', ns, '--verb=get,list,watch', '--resource=pods,pods/log'), 'role.rbac.authorization.k8s.io/pod-reader created')
      t.match(await ok('create', 'rolebinding', 'x-reads', '-n', ns, '--role=pod-reader', `--serviceaccount=${ns}:x`), 'rolebinding.rbac.authorization.k8s.io/x-reads created')
      t.match(await ok('get', 'rolebindings', '-n', ns, '-o', 'wide'), new RegExp(`\\nx-reads\\s+Role/pod-reader\\s+\\S+\\s+${ns}/x\\n`))
      const bad = await k('create', 'rolebinding', 'broken', '-n', ns, '--role=pod-reader')
      t.equal(bad.code, 0, 'a binding without subjects is valid')
      const sa = `system:serviceaccount:${ns}:x`
      // The policy cache follows etcd's watch; a denied check waits for it to catch up.
      t.equal((await ok('auth', 'can-i', 'list', 'pods', '-n', ns, `--as=${sa}`)).trim(), 'yes')
      t.equal((await ok('auth', 'can-i', 'get', 'pods', '--subresource=log', '-n', ns, `--as=${sa}`)).trim(), 'yes')
      const no = await k('auth', 'can-i', 'delete', 'pods', '-n', ns, `--as=${sa}`)
      t.equal(no.code, 1)
      t.equal(no.stdout.trim(), 'no')
      t.equal((await k('auth', 'can-i', 'list', 'pods', '-n', 'default', `--as=${sa}`)).stdout.trim(), 'no')
      t.equal((await ok('auth', 'can-i', '*', '*')).trim(), 'yes', 'the admin can do anything')
      const list = await ok('auth', 'can-i', '--list', '-n', ns, `--as=${sa}`)
      t.match(list, /^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs\n/)
      t.match(list, /\npods\s+\[\]\s+\[\]\s+\[get list watch\]\n/)
      t.match(list, /\npods\/log\s+\[\]\s+\[\]\s+\[get list watch\]\n/)
      t.match(list, /selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/)
      t.match(list, /\s+\[\/api\/\*\]\s+\[\]\s+\[get\]\n/)
      // 1.27 has `auth whoami` as a beta command (authentication.k8s.io/v1beta1), 1.28+ asks v1.
      const who = await k('auth', 'whoami')
      t.equal(who.code, 0, `whoami: ${who.stderr}`)
      t.match(who.stdout, /Username\s+kubernetes-admin\n/)
      t.match(who.stdout, /Groups\s+\[system:masters system:authenticated\]/)
      const whoSa = await k('auth', 'whoami', `--as=${sa}`)
      t.match(whoSa.stdout, new RegExp(`Username\\s+${sa}`))
      t.match(whoSa.stdout, new RegExp(`Groups\\s+\\[system:serviceaccounts system:serviceaccounts:${ns} system:authenticated\\]`))
      const denied = await k('get', 'pods', '-n', 'default', `--as=${sa}`)
      t.equal(denied.code, 1)
      t.match(denied.stderr, `Error from server (Forbidden): pods is forbidden: User "${sa}" cannot list resource "pods" in API group "" in the namespace "default"`)
    })
  }
})
