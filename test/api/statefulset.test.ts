// apps/v1 StatefulSet: defaults, validation (create, update, status) and the table, as v1.33.
import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.js'
import { formatFieldErrors, type FieldError } from '../../src/api/field-errors.js'
import { resourceFor } from '../../src/api/resources.js'
import { toTable } from '../../src/api/table.js'
import type { KubeObject, StatefulSet } from '../../src/api/types.js'
import { validateCreate, validateStatusUpdate, validateUpdate } from '../../src/api/validation.js'
import { base } from './fixtures/manifests.js'

const R = resourceFor('statefulsets')
type Mut = (o: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any

function make(mut?: Mut): StatefulSet {
  const o = base.statefulsets!() as unknown as StatefulSet
  mut?.(o)
  applyDefaults(R, o)
  return o
}

t.test('catalogue: sts short name, status + scale, category all', async (t) => {
  t.same(R.shortNames, ['sts'])
  t.same(R.subresources, ['status', 'scale'])
  t.same(R.categories, ['all'])
  t.equal(R.etcdPrefix, 'statefulsets')
})

t.test('defaults as SetDefaults_StatefulSet', async (t) => {
  const o = { metadata: { name: 'web' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] } } as unknown as StatefulSet
  applyDefaults(R, o)
  t.equal(o.spec.podManagementPolicy, 'OrderedReady')
  t.same(o.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } })
  t.same(o.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' })
  t.equal(o.spec.replicas, 1)
  t.equal(o.spec.revisionHistoryLimit, 10)
  t.equal(o.spec.template.spec.restartPolicy, 'Always')
  const c = o.spec.volumeClaimTemplates![0]!
  t.same([c.apiVersion, c.kind, c.spec?.volumeMode, c.status], ['v1', 'PersistentVolumeClaim', 'Filesystem', { phase: 'Pending' }])
  const again = structuredClone(o)
  applyDefaults(R, again)
  t.same(again, o, 'idempotent')
  // OnDelete keeps no rollingUpdate; a given partition is kept.
  const od = make((x) => (x.spec.updateStrategy = { type: 'OnDelete' }))
  t.same(od.spec.updateStrategy, { type: 'OnDelete' })
  const p = make((x) => (x.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 2 } }))
  t.same(p.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 2 } })
})

const has = (errs: FieldError[], field: string, type: string, msg: string): boolean => errs.some((e) => e.field === field && e.type === type && e.message.includes(msg))

t.test('create: field paths and texts', async (t) => {
  t.same(validateCreate(R, make()), [])
  const cases: [string, Mut, string, string, string][] = [
    ['selector mismatch', (o) => (o.spec.template.metadata.labels = { app: 'other' }), 'spec.template.metadata.labels', 'FieldValueInvalid', '`selector` does not match template `labels`'],
    ['no selector', (o) => delete o.spec.selector, 'spec.selector', 'FieldValueRequired', 'Required value'],
    ['empty selector', (o) => (o.spec.selector = {}), 'spec.selector', 'FieldValueInvalid', 'empty selector is invalid for statefulset'],
    ['podManagementPolicy', (o) => (o.spec.podManagementPolicy = 'Random'), 'spec.podManagementPolicy', 'FieldValueInvalid', `Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`],
    ['strategy type', (o) => (o.spec.updateStrategy = { type: 'Recreate' }), 'spec.updateStrategy', 'FieldValueInvalid', "must be 'RollingUpdate' or 'OnDelete'"],
    ['OnDelete + rollingUpdate', (o) => (o.spec.updateStrategy = { type: 'OnDelete', rollingUpdate: { partition: 1 } }), 'spec.updateStrategy.rollingUpdate', 'FieldValueInvalid', "only allowed for updateStrategy 'RollingUpdate'"],
    ['negative partition', (o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: -1 } }), 'spec.updateStrategy.rollingUpdate.partition', 'FieldValueInvalid', 'must be greater than or equal to 0'],
    ['maxUnavailable 0', (o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } }), 'spec.updateStrategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid', 'must be greater than 0'],
    ['maxUnavailable 150%', (o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '150%' } }), 'spec.updateStrategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid', 'must not be greater than 100%'],
    ['negative replicas', (o) => (o.spec.replicas = -1), 'spec.replicas', 'FieldValueInvalid', 'Invalid value: -1: must be greater than or equal to 0'],
    ['retention', (o) => (o.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Keep' }), 'spec.persistentVolumeClaimRetentionPolicy.whenDeleted', 'FieldValueNotSupported', 'Unsupported value: "Keep": supported values: "Retain", "Delete"'],
    ['ordinals.start', (o) => (o.spec.ordinals = { start: -2 }), 'spec.ordinals.start', 'FieldValueInvalid', 'must be greater than or equal to 0'],
    ['restartPolicy', (o) => (o.spec.template.spec.restartPolicy = 'Never'), 'spec.template.spec.restartPolicy', 'FieldValueNotSupported', 'supported values: "Always"'],
    ['claim without modes', (o) => (o.spec.volumeClaimTemplates[0].spec.accessModes = []), 'spec.volumeClaimTemplates[0].spec.accessModes', 'FieldValueRequired', 'at least 1 access mode is required'],
    ['claim without storage', (o) => (o.spec.volumeClaimTemplates[0].spec.resources = {}), 'spec.volumeClaimTemplates[0].spec.resources[storage]', 'FieldValueRequired', 'Required value'],
    ['mount of an unknown volume', (o) => (o.spec.template.spec.containers[0].volumeMounts[0].name = 'nope'), 'spec.template.spec.containers[0].volumeMounts[0].name', 'FieldValueNotFound', 'Not found: "nope"'],
  ]
  for (const [what, mut, field, type, msg] of cases) {
    const errs = validateCreate(R, make(mut))
    t.ok(has(errs, field, type, msg), `${what}: ${JSON.stringify(errs)}`)
  }
  t.same(validateCreate(R, make((o) => (o.spec.podManagementPolicy = 'Parallel'))), [], 'Parallel')
  t.same(validateCreate(R, make((o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 2, maxUnavailable: '50%' } }))), [], 'partition + maxUnavailable')
  const e = validateCreate(R, make((o) => (o.spec.template.metadata.labels = { app: 'x' })))
  t.equal(formatFieldErrors('StatefulSet.apps', 'web', e), 'StatefulSet.apps "web" is invalid: spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`')
})

t.test('update: only replicas, ordinals, template, updateStrategy, retention, minReadySeconds may change', async (t) => {
  const old = make() as KubeObject
  const upd = (mut: Mut): FieldError[] => {
    const next = structuredClone(old) as StatefulSet
    mut(next)
    applyDefaults(R, next)
    return validateUpdate(R, next, old)
  }
  const FORBIDDEN =
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
  for (const [what, mut] of [
    ['replicas', (o) => (o.spec.replicas = 5)],
    ['template image', (o) => (o.spec.template.spec.containers[0].image = 'nginx:2')],
    ['strategy', (o) => (o.spec.updateStrategy = { type: 'OnDelete' })],
    ['partition', (o) => (o.spec.updateStrategy.rollingUpdate = { partition: 2 })],
    ['retention', (o) => (o.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Delete' })],
    ['minReadySeconds', (o) => (o.spec.minReadySeconds = 5)],
    ['ordinals', (o) => (o.spec.ordinals = { start: 1 })],
  ] as [string, Mut][])
    t.same(upd(mut), [], `${what} is mutable`)
  for (const [what, mut] of [
    ['selector', (o) => { o.spec.selector = { matchLabels: { app: 'nginx', x: 'y' } }; o.spec.template.metadata.labels.x = 'y' }],
    ['serviceName', (o) => (o.spec.serviceName = 'other')],
    ['claim templates', (o) => (o.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '2Gi')],
    ['podManagementPolicy', (o) => (o.spec.podManagementPolicy = 'Parallel')],
    ['revisionHistoryLimit', (o) => (o.spec.revisionHistoryLimit = 3)],
  ] as [string, Mut][]) {
    const errs = upd(mut)
    t.equal(formatFieldErrors('StatefulSet.apps', 'web', errs), `StatefulSet.apps "web" is invalid: ${FORBIDDEN}`, `${what} is frozen`)
  }
})

t.test('status: counts bounded by replicas, collisionCount never decremented', async (t) => {
  const old = make((o) => (o.status = { replicas: 3, collisionCount: 2 })) as KubeObject
  const st = (status: unknown): FieldError[] => validateStatusUpdate(R, { ...structuredClone(old), status } as KubeObject, old)
  t.same(st({ replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3, collisionCount: 2 }), [])
  t.ok(has(st({ replicas: 1, readyReplicas: 2, collisionCount: 2 }), 'status.readyReplicas', 'FieldValueInvalid', 'cannot be greater than status.replicas'))
  t.ok(has(st({ replicas: 3, readyReplicas: 1, availableReplicas: 2, collisionCount: 2 }), 'status.availableReplicas', 'FieldValueInvalid', 'cannot be greater than status.readyReplicas'))
  t.ok(has(st({ replicas: 3, collisionCount: 1 }), 'status.collisionCount', 'FieldValueInvalid', 'Invalid value: 1: cannot be decremented'))
  t.ok(has(st({ replicas: -1, collisionCount: 2 }), 'status.replicas', 'FieldValueInvalid', 'must be greater than or equal to 0'))
})

t.test('table: NAME READY AGE, wide CONTAINERS IMAGES', async (t) => {
  const now = new Date('2026-01-01T00:01:00Z')
  const o = make((x) => {
    x.metadata.creationTimestamp = '2026-01-01T00:00:00Z'
    x.status = { replicas: 3, readyReplicas: 2 }
  })
  const tab = toTable(R, [o], { now })
  t.same(tab.columnDefinitions.map((c) => [c.name, c.priority]), [['Name', 0], ['Ready', 0], ['Age', 0], ['Containers', 1], ['Images', 1]])
  t.same(tab.rows[0]!.cells, ['web', '2/3', '60s', 'nginx', 'registry.k8s.io/nginx-slim:0.24'])
})

t.test('strategic merge: containers merge by name (kubectl set image), claim templates are replaced', async (t) => {
  const { applyStrategicMergePatch } = await import('../../src/api/patch.js')
  const o = make()
  const out = applyStrategicMergePatch(R, o, { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:2' }] } }, volumeClaimTemplates: [{ metadata: { name: 'x' } }] } }) as StatefulSet
  const c = out.spec.template.spec.containers[0]!
  t.same([c.image, c.ports?.[0]?.containerPort, c.volumeMounts?.[0]?.name], ['nginx:2', 80, 'www'])
  t.same(out.spec.volumeClaimTemplates, [{ metadata: { name: 'x' } }])
  // kubectl rollout undo: the revision's template with `$patch: replace`.
  const undo = applyStrategicMergePatch(R, out, { spec: { template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1' }] }, $patch: 'replace' } } }) as StatefulSet
  t.same(undo.spec.template, { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1' }] } })
})
