// The audit log of a real apiserver: audit.k8s.io/v1 Events as JSON lines, levels from a policy file.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withApiServer } from '../helpers/apiserver.js'
import { inj } from '../apiserver/util.js'

t.test('audit log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-audit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const policy = join(dir, 'policy.yaml')
  const log = join(dir, 'audit.log')
  writeFileSync(
    policy,
    'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: None\n  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]\n- level: Request\n  resources: [{group: "", resources: [configmaps]}]\n- level: Metadata\n',
  )
  const srv = await withApiServer(t, { auditLogPath: log, auditPolicyFile: policy, tokens: [{ token: 'tok-bob', user: 'bob' }] })
  t.equal((await inj(srv, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'audited' }, data: { a: 'b' } })).status, 201)
  t.equal((await inj(srv, 'GET', '/api/v1/namespaces/default/secrets', undefined, { token: 'tok-bob' })).status, 403)
  t.equal((await inj(srv, 'GET', '/healthz', undefined, { token: null })).status, 200)
  await srv.stop()
  const events = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const create = events.find((e) => e.verb === 'create' && e.objectRef?.name === 'audited')
  t.ok(create, 'the create is logged')
  t.match(create, {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Request',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/configmaps',
    user: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
    objectRef: { resource: 'configmaps', namespace: 'default', name: 'audited', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestObject: { kind: 'ConfigMap', data: { a: 'b' } },
    annotations: { 'authorization.k8s.io/decision': 'allow' },
  })
  t.match(create.auditID, /^[0-9a-f-]{36}$/)
  t.match(create.stageTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  const denied = events.find((e) => e.user?.username === 'bob')
  t.match(denied, { level: 'Metadata', verb: 'list', responseStatus: { code: 403, reason: 'Forbidden' }, annotations: { 'authorization.k8s.io/decision': 'forbid' } })
  t.notOk('requestObject' in denied, 'Metadata carries no body')
  t.notOk(events.some((e) => e.requestURI === '/healthz'), 'level None is not logged')
  t.notOk(events.some((e) => e.stage === 'RequestReceived'), 'omitted stage')
})
