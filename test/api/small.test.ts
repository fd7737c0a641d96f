// quantity, intstr, meta helpers, name checks, field error rendering.
import t from 'tap'
import { duplicate, forbidden, formatFieldErrors, invalid, notSupported, required, tooLong } from '../../src/api/field-errors.js'
import { isPercent, resolveIntOrPercent } from '../../src/api/intstr.js'
import { controllerRef, getCondition, isControlledBy, isPodTerminal, newControllerRef, podIsAvailable, podIsReady, serviceKeyOf, setCondition, sliceServiceKey } from '../../src/api/meta.js'
import { isConfigMapKey, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidCIDR, isValidIP, isValidLabelValue, isValidPortName } from '../../src/api/names.js'
import { QuantityError, formatQuantity, parseQuantity } from '../../src/api/quantity.js'
import type { Condition, EndpointSlice, Pod } from '../../src/api/types.js'

t.test('parseQuantity', async (t) => {
  const cases: [string, number][] = [
    ['100m', 0.1],
    ['1', 1],
    ['2.5', 2.5],
    ['0.5', 0.5],
    ['1500m', 1.5],
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1Ki', 1024],
    ['2Ti', 2 * 2 ** 40],
    ['1k', 1000],
    ['1M', 1e6],
    ['1G', 1e9],
    ['1e3', 1000],
    ['1E3', 1000],
    ['12e-3', 0.012],
    ['500u', 0.0005],
    ['10n', 1e-8],
    ['.5', 0.5],
    ['+1', 1],
    ['-1', -1],
    ['110', 110],
  ]
  for (const [q, want] of cases) t.ok(Math.abs(parseQuantity(q) - want) < 1e-12 * Math.max(1, Math.abs(want)), `${q} → ${want} (got ${parseQuantity(q)})`)
  t.equal(parseQuantity('100m'), 0.1, 'exact')
  for (const bad of ['', 'abc', '1Qi', '1 Gi', 'Mi', '1.2.3', '1mi', '1KB']) t.throws(() => parseQuantity(bad), QuantityError, bad)
})

t.test('formatQuantity', async (t) => {
  const cases: [number, 'BinarySI' | 'DecimalSI' | undefined, string][] = [
    [0, undefined, '0'],
    [0.1, undefined, '100m'],
    [1.5, undefined, '1500m'],
    [2, undefined, '2'],
    [2000, undefined, '2k'],
    [1500, undefined, '1500'],
    [128 * 2 ** 20, 'BinarySI', '128Mi'],
    [2 ** 30, 'BinarySI', '1Gi'],
    [1000, 'BinarySI', '1000'],
  ]
  for (const [n, f, want] of cases) t.equal(formatQuantity(n, f), want, `${n} ${f}`)
  for (const q of ['100m', '128Mi', '3Gi', '2k', '250m']) t.equal(parseQuantity(formatQuantity(parseQuantity(q), q.endsWith('i') ? 'BinarySI' : 'DecimalSI')), parseQuantity(q), `round trip ${q}`)
})

t.test('resolveIntOrPercent (deployment surge/unavailable maths)', async (t) => {
  t.equal(resolveIntOrPercent('25%', 10, true, 0), 3)
  t.equal(resolveIntOrPercent('25%', 10, false, 0), 2)
  t.equal(resolveIntOrPercent('25%', 1, true, 0), 1)
  t.equal(resolveIntOrPercent('25%', 1, false, 0), 0)
  t.equal(resolveIntOrPercent(2, 10, true, 0), 2)
  t.equal(resolveIntOrPercent(undefined, 4, true, '25%'), 1)
  t.equal(resolveIntOrPercent(undefined, 4, false, 1), 1)
  t.equal(resolveIntOrPercent('100%', 3, false, 0), 3)
  t.equal(resolveIntOrPercent('3', 10, false, 0), 3)
  t.throws(() => resolveIntOrPercent('abc', 10, false, 0))
  t.equal(isPercent('5%'), true)
  t.equal(isPercent(5), false)
})

t.test('conditions keep lastTransitionTime while status is unchanged', async (t) => {
  const t0 = new Date('2026-11-28T10:00:00Z')
  const t1 = new Date('2026-11-28T11:00:00Z')
  let conds: Condition[] = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Starting' }, t0)
  t.same(conds, [{ type: 'Ready', status: 'False', reason: 'Starting', lastTransitionTime: '2026-11-28T10:00:00Z' }])
  conds = setCondition(conds, { type: 'Ready', status: 'False', reason: 'StillStarting', lastTransitionTime: '2026-11-28T10:30:00Z' }, t1)
  t.equal(conds[0]!.lastTransitionTime, '2026-11-28T10:00:00Z', 'kept')
  t.equal(conds[0]!.reason, 'StillStarting', 'other fields updated')
  conds = setCondition(conds, { type: 'Ready', status: 'True' }, t1)
  t.equal(conds[0]!.lastTransitionTime, '2026-11-28T11:00:00Z', 'moved on a status change')
  conds = setCondition(conds, { type: 'Available', status: 'True' }, t1)
  t.equal(conds.length, 2)
  t.equal(getCondition(conds, 'Available')?.status, 'True')
  t.equal(getCondition(conds, 'Nope'), undefined)
})

t.test('owner references', async (t) => {
  const rs = { metadata: { name: 'web-1', uid: 'u-1' } }
  const ref = newControllerRef(rs, 'apps/v1', 'ReplicaSet')
  t.same(ref, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u-1', controller: true, blockOwnerDeletion: true })
  const pod = { metadata: { name: 'p', ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'u-0' }, ref] } }
  t.same(controllerRef(pod), ref)
  t.equal(isControlledBy(pod, rs), true)
  t.equal(isControlledBy(pod, { metadata: { name: 'web-1', uid: 'u-2' } }), false)
  t.equal(isControlledBy({ metadata: { name: 'orphan' } }, rs), false)
})

t.test('pod readiness, availability, terminal', async (t) => {
  const now = new Date('2026-11-28T12:00:00Z')
  const p = (status: Pod['status']): Pod => ({ metadata: { name: 'p' }, spec: { containers: [] }, status })
  const ready = p({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-28T11:59:50Z' }] })
  t.equal(podIsReady(ready), true)
  t.equal(podIsAvailable(ready, 0, now), true)
  t.equal(podIsAvailable(ready, 5, now), true)
  t.equal(podIsAvailable(ready, 30, now), false)
  t.equal(podIsReady(p({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] })), false)
  t.equal(podIsReady(p(undefined)), false)
  t.equal(isPodTerminal(p({ phase: 'Succeeded' })), true)
  t.equal(isPodTerminal(p({ phase: 'Failed' })), true)
  t.equal(isPodTerminal(p({ phase: 'Running' })), false)
})

t.test('name and value checks', async (t) => {
  const ok = (msgs: string[]) => msgs.length === 0
  t.ok(ok(isDNS1123Subdomain('web.default.svc')))
  t.notOk(ok(isDNS1123Subdomain('Web')))
  t.notOk(ok(isDNS1123Subdomain('web-')))
  t.notOk(ok(isDNS1123Subdomain('')))
  t.ok(ok(isDNS1123Label('123-abc')))
  t.notOk(ok(isDNS1123Label('a.b')))
  t.notOk(ok(isDNS1123Label('a'.repeat(64))))
  t.ok(ok(isDNS1035Label('web-1')))
  t.notOk(ok(isDNS1035Label('1web')))
  t.ok(ok(isQualifiedName('app.kubernetes.io/name')))
  t.ok(ok(isQualifiedName('MyName')))
  t.notOk(ok(isQualifiedName('/name')))
  t.notOk(ok(isQualifiedName('a/')))
  t.notOk(ok(isQualifiedName('a/b/c')))
  t.ok(ok(isValidLabelValue('')))
  t.ok(ok(isValidLabelValue('v1.2_3-x')))
  t.notOk(ok(isValidLabelValue('x_')))
  t.ok(ok(isConfigMapKey('.env')))
  t.notOk(ok(isConfigMapKey('..')))
  t.ok(ok(isValidPortName('http-alt')))
  t.notOk(ok(isValidPortName('8080')))
  t.notOk(ok(isValidPortName('-http')))
  for (const ip of ['10.0.0.1', '::1', 'fd00::5', '255.255.255.255']) t.ok(ok(isValidIP(ip)), ip)
  for (const ip of ['10.0.0', '010.0.0.1', '1.2.3.4.5', 'fe80::1%eth0', 'x', '0x0a.0.0.1', '10.0.0.256']) t.notOk(ok(isValidIP(ip)), ip)
  t.ok(ok(isValidCIDR('10.244.0.0/16')))
  t.ok(ok(isValidCIDR('fd00::/64')))
  t.notOk(ok(isValidCIDR('10.244.0.0')))
  t.notOk(ok(isValidCIDR('10.244.0.0/33')))
})

t.test('field error bodies read like k8s', async (t) => {
  t.equal(required('spec.x').message, 'Required value')
  t.equal(required('metadata.name', 'name or generateName is required').message, 'Required value: name or generateName is required')
  t.equal(invalid('spec.replicas', -1, 'must be greater than or equal to 0').message, 'Invalid value: -1: must be greater than or equal to 0')
  t.equal(invalid('metadata.name', 'Web', 'bad').message, 'Invalid value: "Web": bad')
  t.equal(notSupported('spec.type', 'X', ['A', 'B']).message, 'Unsupported value: "X": supported values: "A", "B"')
  t.equal(duplicate('spec.ports[1].name', 'http').message, 'Duplicate value: "http"')
  t.equal(forbidden('spec', 'nope').message, 'Forbidden: nope')
  t.match(tooLong('metadata.annotations', '', 262144).message, /^Too long: .*262144 bytes$/)
  t.equal(formatFieldErrors('ConfigMap', 'c', []), 'ConfigMap "c" is invalid')
})

t.test('a slice belongs to the Service its service-name label names, in its own namespace', async (t) => {
  const slice = (ns: string | undefined, labels?: Record<string, string>): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abc', ...(ns ? { namespace: ns } : {}), ...(labels ? { labels } : {}) },
    addressType: 'IPv4',
    endpoints: [],
  })
  t.equal(sliceServiceKey(slice('prod', { 'kubernetes.io/service-name': 'web' })), 'prod/web')
  t.equal(sliceServiceKey(slice(undefined, { 'kubernetes.io/service-name': 'web' })), 'default/web')
  t.equal(sliceServiceKey(slice('prod', { app: 'web' })), undefined, 'no label: no service')
  t.equal(sliceServiceKey(slice('prod')), undefined)
  // The same key as the Service itself: that is what matches the two up.
  t.equal(serviceKeyOf({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'prod', name: 'web' }, spec: {} }), 'prod/web')
  t.equal(serviceKeyOf({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: {} }), 'default/web')
})
