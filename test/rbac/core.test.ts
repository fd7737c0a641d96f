// The pure cores: rule matching, request attributes, escalation coverage and its message, the
// node graph, aggregation and reconciliation of the bootstrap policy, audit policy levels.
import t from 'tap'
import { ruleAllows, uncovered } from '../../src/rbac/rules.js'
import { requestAttributes } from '../../src/rbac/request-info.js'
import { escalationMessage } from '../../src/rbac/escalation.js'
import { NodeGraph } from '../../src/rbac/node.js'
import { aggregationPlan } from '../../src/rbac/aggregation.js'
import { bootstrapClusterRoles, reconcilePolicyObject, AUTOUPDATE } from '../../src/rbac/bootstrap-policy.js'
import { PolicyIndex } from '../../src/rbac/policy.js'
import { auditLevel, parseAuditPolicy, AuditPolicyError } from '../../src/audit/audit.js'
import type { Pod, PolicyRule } from '../../src/api/types.js'

const bob = { name: 'bob', uid: '', groups: ['system:authenticated'] }
const attrs = (method: string, url: string) => requestAttributes(method, url, bob)

t.test('request attributes, as RequestInfoFactory', async (t) => {
  const pick = (a: ReturnType<typeof attrs>) => [a.resourceRequest, a.verb, a.apiGroup, a.namespace, a.resource, a.subresource, a.name]
  t.same(pick(attrs('GET', '/api/v1/namespaces/a/pods')), [true, 'list', '', 'a', 'pods', '', ''])
  t.same(pick(attrs('GET', '/api/v1/namespaces/a/pods?watch=true')), [true, 'watch', '', 'a', 'pods', '', ''])
  t.same(pick(attrs('GET', '/api/v1/watch/namespaces/a/pods/p')), [true, 'watch', '', 'a', 'pods', '', 'p'])
  t.same(pick(attrs('GET', '/api/v1/namespaces/a/pods/p/log')), [true, 'get', '', 'a', 'pods', 'log', 'p'])
  t.same(pick(attrs('GET', '/api/v1/namespaces/a')), [true, 'get', '', 'a', 'namespaces', '', 'a'])
  t.same(pick(attrs('PUT', '/api/v1/namespaces/a/finalize')), [true, 'update', '', 'a', 'namespaces', 'finalize', 'a'])
  t.same(pick(attrs('DELETE', '/apis/apps/v1/namespaces/a/deployments')), [true, 'deletecollection', 'apps', 'a', 'deployments', '', ''])
  t.same(pick(attrs('PATCH', '/apis/apps/v1/namespaces/a/deployments/web/scale')), [true, 'patch', 'apps', 'a', 'deployments', 'scale', 'web'])
  t.same(pick(attrs('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dn1')), [true, 'list', '', '', 'nodes', '', 'n1'], 'a list of one name carries the name')
  t.same(pick(attrs('GET', '/apis/apps/v1')), [false, 'get', '', '', '', '', ''], 'discovery is a non-resource path')
  t.equal(attrs('POST', '/openapi/v2').verb, 'post')
})

t.test('rule matching', async (t) => {
  const r = (rule: PolicyRule, method: string, url: string) => ruleAllows(attrs(method, url), rule)
  t.ok(r({ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, 'GET', '/api/v1/namespaces/a/pods/p'))
  t.notOk(r({ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, 'GET', '/api/v1/namespaces/a/pods/p/log'), 'pods does not cover pods/log')
  t.ok(r({ verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, 'GET', '/api/v1/namespaces/a/pods/p/log'))
  t.ok(r({ verbs: ['get'], apiGroups: ['apps'], resources: ['*/scale'] }, 'GET', '/apis/apps/v1/namespaces/a/deployments/w/scale'))
  t.notOk(r({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['other'] }, 'GET', '/apis/apps/v1/namespaces/a/deployments/w'))
  t.notOk(r({ verbs: ['list'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['w'] }, 'GET', '/apis/apps/v1/namespaces/a/deployments'), 'a named rule does not allow listing all')
  t.ok(r({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, 'DELETE', '/apis/apps/v1/namespaces/a/deployments'))
  t.notOk(r({ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, 'GET', '/apis/apps/v1/namespaces/a/pods'), 'the group matters')
  t.ok(r({ verbs: ['get'], nonResourceURLs: ['/healthz/*'] }, 'GET', '/healthz/etcd'))
  t.notOk(r({ verbs: ['get'], nonResourceURLs: ['/healthz'] }, 'GET', '/healthz/etcd'))
  t.notOk(r({ verbs: ['get'], nonResourceURLs: ['*'] }, 'GET', '/api/v1/pods'), 'URL rules do not cover resources')
})

t.test('escalation coverage and message', async (t) => {
  const held: PolicyRule[] = [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }, { verbs: ['*'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }]
  t.same(uncovered(held, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]), [])
  t.same(uncovered(held, [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }]), [])
  t.same(uncovered(held, [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }]).length, 1, 'a named grant does not cover all names')
  const missing = uncovered(held, [{ verbs: ['get', 'delete', 'watch'], apiGroups: [''], resources: ['pods', 'secrets'] }])
  t.equal(
    escalationMessage(bob, missing),
    'user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete" "watch"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete" "watch"]}',
  )
})

t.test('node graph', async (t) => {
  const pod = (name: string, node: string, spec: Record<string, unknown>) => ({ metadata: { name, namespace: 'a' }, spec: { nodeName: node, containers: [], ...spec } }) as unknown as Pod
  const g = new NodeGraph(
    [
      pod('p1', 'n1', { volumes: [{ name: 'v', secret: { secretName: 's1' } }, { name: 'c', persistentVolumeClaim: { claimName: 'claim' } }, { name: 'pr', projected: { sources: [{ configMap: { name: 'cm1' } }] } }] }),
      pod('p2', 'n2', { imagePullSecrets: [{ name: 'pull' }], containers: [{ name: 'x', envFrom: [{ secretRef: { name: 's2' } }] }] }),
      pod('p3', '', { volumes: [{ name: 'v', secret: { secretName: 'unbound' } }] }),
    ],
    [{ metadata: { name: 'claim', namespace: 'a' }, spec: { volumeName: 'pv-1' } } as never],
  )
  t.ok(g.related('n1', 'secret', 'a', 's1'))
  t.notOk(g.related('n2', 'secret', 'a', 's1'))
  t.ok(g.related('n1', 'configmap', 'a', 'cm1'), 'projected sources count')
  t.ok(g.related('n1', 'pvc', 'a', 'claim'))
  t.ok(g.related('n1', 'pv', '', 'pv-1'), 'the claim’s volume')
  t.ok(g.related('n2', 'secret', 'a', 'pull'))
  t.ok(g.related('n2', 'secret', 'a', 's2'))
  t.notOk(g.related('n1', 'secret', 'a', 'unbound'), 'an unscheduled pod gives nothing')
  t.notOk(g.related('n1', 'secret', 'b', 's1'), 'namespaces matter')
})

t.test('aggregation and reconciliation of the bootstrap policy', async (t) => {
  const roles = bootstrapClusterRoles()
  // view → edit → admin: each pass (the controller runs again on its own write) goes one level up.
  let passes = 0
  for (let plan = aggregationPlan(roles); plan.length; plan = aggregationPlan(roles), passes++) {
    for (const p of plan) roles.find((r) => r.metadata.name === p.name)!.rules = p.rules
    if (passes > 5) break
  }
  t.ok(passes <= 3, `converges in ${passes} passes`)
  const idx = new PolicyIndex({ clusterRoles: roles, roles: [], clusterRoleBindings: [], roleBindings: [{ metadata: { name: 'b', namespace: 'a' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'User', name: 'bob' }] } as never] })
  const can = (method: string, url: string) => {
    const a = attrs(method, url)
    return idx.rulesFor(bob, a.namespace).some((r) => ruleAllows(a, r))
  }
  t.ok(can('GET', '/api/v1/namespaces/a/pods'), 'admin ⊇ view')
  t.ok(can('DELETE', '/apis/apps/v1/namespaces/a/deployments/x'), 'admin ⊇ edit')
  t.ok(can('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings'), 'admin: bindings')
  t.notOk(can('GET', '/api/v1/namespaces/b/pods'), 'only in its namespace')
  const view = roles.find((r) => r.metadata.name === 'system:aggregate-to-view')!
  const edited = structuredClone(view)
  edited.rules = [edited.rules![0]!, { verbs: ['get'], apiGroups: ['x'], resources: ['y'] }]
  const fixed = reconcilePolicyObject(view, edited)!
  t.equal(fixed.rules!.length, view.rules!.length + 1, 'missing rules come back, the user’s extra stays')
  edited.metadata.annotations = { [AUTOUPDATE]: 'false' }
  t.equal(reconcilePolicyObject(view, edited), undefined, 'autoupdate=false is left alone')
  t.equal(reconcilePolicyObject(view, view), undefined, 'no change, no write')
})

t.test('audit policy', async (t) => {
  const p = parseAuditPolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
- level: None
  nonResourceURLs: [/healthz*]
- level: Request
  resources: [{group: "", resources: [configmaps]}]
  namespaces: [audited]
- level: Metadata
`)
  const lvl = (user: string, method: string, url: string) => auditLevel(p, requestAttributes(method, url, { name: user, uid: '', groups: [] })).level
  t.equal(lvl('system:kube-proxy', 'GET', '/api/v1/services'), 'None')
  t.equal(lvl('bob', 'GET', '/healthz'), 'None')
  t.equal(lvl('bob', 'POST', '/api/v1/namespaces/audited/configmaps'), 'Request')
  t.equal(lvl('bob', 'POST', '/api/v1/namespaces/other/configmaps'), 'Metadata')
  t.same(auditLevel(p, attrs('GET', '/api')).omitStages, ['RequestReceived'])
  t.throws(() => parseAuditPolicy('rules: [{level: Loud}]'), /rules\[0\]\.level: Unsupported value: "Loud"/)
  t.ok(new AuditPolicyError('x') instanceof Error)
  t.throws(() => parseAuditPolicy('kind: Policy'), /at least one rule/)
})
