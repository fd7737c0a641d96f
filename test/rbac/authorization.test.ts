// Authorization against a real apiserver on a real etcd: identities (static tokens standing in for
// h-authn's certificates) × verbs × resources → allowed?, with upstream's 403 texts; the node
// authorizer and NodeRestriction; a ServiceAccount's RoleBinding; escalation; impersonation.
import t from 'tap'
import { withApiServer, type TestApiServer } from '../helpers/apiserver.js'
import { inj } from '../apiserver/util.js'

const ID = {
  kcm: { token: 'tok-kcm', user: 'system:kube-controller-manager' },
  sched: { token: 'tok-sched', user: 'system:kube-scheduler' },
  proxy: { token: 'tok-proxy', user: 'system:kube-proxy' },
  node2: { token: 'tok-node2', user: 'system:node:node2', groups: ['system:nodes'] },
  node3: { token: 'tok-node3', user: 'system:node:node3', groups: ['system:nodes'] },
  agent: { token: 'tok-agent', user: 'system:netkube:agent:node2', groups: ['system:netkube:agents'] },
  dns: { token: 'tok-dns', user: 'system:serviceaccount:kube-system:coredns', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system'] },
  ingress: { token: 'tok-ing', user: 'system:serviceaccount:kube-system:netkube-ingress', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system'] },
  sa: { token: 'tok-sa', user: 'system:serviceaccount:team-a:x', groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a'] },
  bob: { token: 'tok-bob', user: 'bob', groups: [] as string[] },
}
type Who = keyof typeof ID

let srv: TestApiServer
t.before(async () => {
  srv = await withApiServer(t, { tokens: Object.values(ID) })
})

const as = (who: Who | 'admin' | 'anonymous') => (who === 'admin' ? undefined : who === 'anonymous' ? null : ID[who].token)
const req = (who: Who | 'admin' | 'anonymous', method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, contentType?: string) =>
  inj(srv, method, url, body, { token: as(who), ...(contentType ? { contentType } : {}) })

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })

t.test('setup objects', async (t) => {
  for (const n of ['team-a', 'team-b']) t.equal((await req('admin', 'POST', '/api/v1/namespaces', ns(n))).status, 201)
  for (const n of ['node2', 'node3'])
    t.equal((await req('admin', 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: n } })).status, 201)
  for (const s of ['s2', 's3', 'unused'])
    t.equal((await req('admin', 'POST', '/api/v1/namespaces/team-a/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: s }, data: { k: 'dg==' } })).status, 201)
  const mkPod = (name: string, node: string, secret: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'v', secret: { secretName: secret } }] },
  })
  t.equal((await req('admin', 'POST', '/api/v1/namespaces/team-a/pods', mkPod('p2', 'node2', 's2'))).status, 201)
  t.equal((await req('admin', 'POST', '/api/v1/namespaces/team-a/pods', mkPod('p3', 'node3', 's3'))).status, 201)
})

// identity × verb × path → expected status (403 = forbidden by authorization; anything else = let through)
const TABLE: [Who | 'anonymous', 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string, boolean][] = [
  ['anonymous', 'GET', '/healthz', true],
  ['anonymous', 'GET', '/version', true],
  ['bob', 'GET', '/api', true],
  ['bob', 'GET', '/apis/apps/v1', true],
  ['bob', 'GET', '/api/v1/namespaces/default/pods', false],
  ['bob', 'GET', '/metrics', false],
  ['kcm', 'GET', '/api/v1/pods', true],
  ['kcm', 'GET', '/apis/apps/v1/deployments', true],
  ['kcm', 'POST', '/apis/apps/v1/namespaces/team-a/replicasets', true],
  ['kcm', 'DELETE', '/api/v1/namespaces/team-a/pods/nope', true],
  ['kcm', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager', true],
  ['kcm', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler', false],
  ['kcm', 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', false],
  ['sched', 'GET', '/api/v1/nodes', true],
  ['sched', 'POST', '/api/v1/namespaces/team-a/pods/p2/binding', true],
  ['sched', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler', true],
  ['sched', 'POST', '/api/v1/namespaces/team-a/pods', false],
  ['sched', 'GET', '/api/v1/namespaces/team-a/secrets', false],
  ['proxy', 'GET', '/api/v1/services?watch=true&timeoutSeconds=1', true],
  ['proxy', 'GET', '/apis/discovery.k8s.io/v1/endpointslices', true],
  ['proxy', 'GET', '/api/v1/namespaces/team-a/secrets/s2', false],
  ['proxy', 'DELETE', '/api/v1/nodes/node2', false],
  ['node2', 'GET', '/api/v1/namespaces/team-a/secrets/s2', true],
  ['node2', 'GET', '/api/v1/namespaces/team-a/secrets/s3', false],
  ['node2', 'GET', '/api/v1/namespaces/team-a/secrets', false],
  ['node2', 'GET', '/api/v1/pods', true],
  ['node2', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node2', true],
  ['node2', 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node3', false],
  ['node2', 'DELETE', '/apis/apps/v1/namespaces/team-a/deployments/x', false],
  ['agent', 'GET', '/apis/networking.k8s.io/v1/networkpolicies', true],
  ['agent', 'GET', '/api/v1/pods', true],
  ['agent', 'POST', '/api/v1/persistentvolumes', true],
  ['agent', 'GET', '/api/v1/namespaces/team-a/secrets/s2', false],
  ['agent', 'POST', '/api/v1/namespaces/team-a/pods', false],
  ['dns', 'GET', '/apis/discovery.k8s.io/v1/endpointslices?watch=1&timeoutSeconds=1', true],
  ['dns', 'GET', '/api/v1/services', true],
  ['dns', 'GET', '/api/v1/namespaces/kube-system/secrets', false],
  ['ingress', 'GET', '/apis/networking.k8s.io/v1/ingresses', true],
  ['ingress', 'PATCH', '/apis/networking.k8s.io/v1/namespaces/team-a/ingresses/web/status', true],
  ['ingress', 'GET', '/api/v1/secrets', true],
  ['ingress', 'PATCH', '/apis/networking.k8s.io/v1/namespaces/team-a/ingresses/web', false],
  ['sa', 'GET', '/api/v1/namespaces/team-a/pods', false],
]

t.test('identity × verb × resource → allowed?', async (t) => {
  for (const [who, method, url, allowed] of TABLE) {
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? {} : undefined
    const res = await req(who, method, url, body, method === 'PATCH' ? 'application/merge-patch+json' : undefined)
    if (allowed) t.not(res.status, 403, `${who} ${method} ${url} is allowed (${res.status} ${res.body?.message ?? ''})`)
    else t.equal(res.status, 403, `${who} ${method} ${url} is forbidden`)
    if (url.includes('watch') && res.status === 200) continue
  }
})

t.test("upstream's 403 wording", async (t) => {
  const cases: [Who, 'GET' | 'POST' | 'DELETE', string, string][] = [
    ['sa', 'GET', '/api/v1/namespaces/team-a/pods', 'pods is forbidden: User "system:serviceaccount:team-a:x" cannot list resource "pods" in API group "" in the namespace "team-a"'],
    ['bob', 'GET', '/api/v1/nodes/node2', 'nodes "node2" is forbidden: User "bob" cannot get resource "nodes" in API group "" at the cluster scope'],
    ['bob', 'GET', '/apis/apps/v1/namespaces/team-a/deployments/web/scale', 'deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments/scale" in API group "apps" in the namespace "team-a"'],
    ['bob', 'GET', '/metrics', 'forbidden: User "bob" cannot get path "/metrics"'],
    ['node2', 'GET', '/api/v1/namespaces/team-a/secrets/s3', `secrets "s3" is forbidden: User "system:node:node2" cannot get resource "secrets" in API group "" in the namespace "team-a": no relationship found between node 'node2' and this object`],
  ]
  for (const [who, method, url, msg] of cases) {
    const res = await req(who, method, url)
    t.equal(res.status, 403, url)
    t.equal(res.body.message, msg)
    t.equal(res.body.reason, 'Forbidden')
  }
  const anon = await req('anonymous', 'GET', '/api/v1/pods')
  t.equal(anon.status, 401, 'no credentials beyond the public paths: 401 (authentication)')
})

t.test('node2 vs node3: patch, secrets, pod status', async (t) => {
  const patch = (url: string, body: unknown) => req('node2', 'PATCH', url, body, 'application/merge-patch+json')
  const other = await patch('/api/v1/nodes/node3', { metadata: { labels: { a: 'b' } } })
  t.equal(other.status, 403)
  t.equal(other.body.message, 'nodes "node3" is forbidden: node "node2" is not allowed to modify node "node3"')
  t.equal((await patch('/api/v1/nodes/node2', { metadata: { labels: { a: 'b' } } })).status, 200, 'its own node')
  const label = await patch('/api/v1/nodes/node2', { metadata: { labels: { 'node-restriction.kubernetes.io/pool': 'x' } } })
  t.equal(label.status, 403)
  t.equal(label.body.message, 'nodes "node2" is forbidden: node "node2" is not allowed to modify labels: node-restriction.kubernetes.io/pool')
  t.equal((await patch('/api/v1/namespaces/team-a/pods/p2/status', { status: { phase: 'Running' } })).status, 200, 'its own pod status')
  const st = await patch('/api/v1/namespaces/team-a/pods/p3/status', { status: { phase: 'Running' } })
  t.equal(st.status, 403)
  t.equal(st.body.message, 'pods "p3" is forbidden: node "node2" can only update pod status for pods with spec.nodeName set to itself')
  t.equal((await req('node2', 'GET', '/api/v1/namespaces/team-a/secrets/s2')).status, 200, 'a secret of its own pod')
  t.equal((await req('node3', 'GET', '/api/v1/namespaces/team-a/secrets/s3')).status, 200)
  t.equal((await req('node2', 'GET', '/api/v1/namespaces/team-a/secrets/unused')).status, 403, 'a secret no pod uses')
  // A pod moved onto node2 makes its secret readable there (the graph follows the watch).
  const p = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p4' }, spec: { nodeName: 'node2', containers: [{ name: 'c', image: 'busybox', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'unused', key: 'k' } } }] }] } }
  t.equal((await req('admin', 'POST', '/api/v1/namespaces/team-a/pods', p)).status, 201)
  t.equal((await req('node2', 'GET', '/api/v1/namespaces/team-a/secrets/unused')).status, 200, 'readable once a pod on node2 references it')
})

t.test('a ServiceAccount with a RoleBinding lists pods in its namespace only', async (t) => {
  const rb = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'x-view' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'ServiceAccount', name: 'x', namespace: 'team-a' }],
  }
  t.equal((await req('admin', 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', rb)).status, 201)
  t.equal((await req('sa', 'GET', '/api/v1/namespaces/team-a/pods')).status, 200, 'its own namespace')
  const other = await req('sa', 'GET', '/api/v1/namespaces/team-b/pods')
  t.equal(other.status, 403)
  t.equal(other.body.message, 'pods is forbidden: User "system:serviceaccount:team-a:x" cannot list resource "pods" in API group "" in the namespace "team-b"')
  t.equal((await req('sa', 'GET', '/api/v1/namespaces/team-a/secrets')).status, 403, 'view does not read secrets')
})

t.test('escalation through a RoleBinding to cluster-admin is refused', async (t) => {
  // bob may manage RoleBindings in team-a (via admin), but holds nothing close to cluster-admin.
  const adminRb = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'bob-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' }],
  }
  t.equal((await req('admin', 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', adminRb)).status, 201)
  const esc = await req('bob', 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', {
    ...adminRb,
    metadata: { name: 'bob-root' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
  })
  t.equal(esc.status, 403)
  t.match(esc.body.message, /^rolebindings\.rbac\.authorization\.k8s\.io "bob-root" is forbidden: user "bob" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n/)
  t.match(esc.body.message, /\{APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]\}/)
  // Binding `view` (held through admin) in team-a is fine; a Role with more than bob holds is not.
  const ok = await req('bob', 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings', { ...adminRb, metadata: { name: 'bob-view' }, roleRef: { ...adminRb.roleRef, name: 'view' } })
  t.equal(ok.status, 201, ok.text)
  const role = await req('bob', 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'nodes' },
    rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }, { apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
  })
  t.equal(role.status, 403)
  t.equal(
    role.body.message,
    'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}',
  )
})

t.test('impersonation needs the impersonate verb', async (t) => {
  // bob is admin in team-a (edit aggregates `impersonate serviceaccounts`), nothing in team-b.
  const res = await srv.server.app.inject({ method: 'GET', url: '/api/v1/namespaces/team-b/pods', headers: { authorization: `Bearer ${ID.bob.token}`, 'impersonate-user': 'system:serviceaccount:team-b:y' } })
  t.equal(res.statusCode, 403)
  t.equal(JSON.parse(res.body).message, 'serviceaccounts "y" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-b"')
  const sa = await srv.server.app.inject({ method: 'GET', url: '/api/v1/namespaces/team-a/pods', headers: { authorization: `Bearer ${ID.bob.token}`, 'impersonate-user': 'system:serviceaccount:team-a:x' } })
  t.equal(sa.statusCode, 200, 'a ServiceAccount of team-a, which bob administers')
  const user = await srv.server.app.inject({ method: 'GET', url: '/api/v1/pods', headers: { authorization: `Bearer ${ID.bob.token}`, 'impersonate-user': 'jane' } })
  t.equal(JSON.parse(user.body).message, 'users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope')
  const admin = await srv.server.app.inject({ method: 'GET', url: '/api/v1/namespaces/team-b/pods', headers: { authorization: `Bearer ${srv.token}`, 'impersonate-user': 'system:serviceaccount:team-a:x' } })
  t.equal(admin.statusCode, 403, 'the admin acting as the ServiceAccount gets its rights, not the admin’s')
  t.match(JSON.parse(admin.body).message, /User "system:serviceaccount:team-a:x" cannot list/)
})
