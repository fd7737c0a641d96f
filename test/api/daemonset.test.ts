// apps/v1 DaemonSet: defaults, validation (field paths and upstream texts), the printer, and
// the strategy's generation / template-generation rules, as tables.
import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.js'
import { formatFieldErrors } from '../../src/api/field-errors.js'
import { resourceFor } from '../../src/api/resources.js'
import { toTable } from '../../src/api/table.js'
import type { DaemonSet } from '../../src/api/types.js'
import { validateCreate, validateStatusUpdate, validateUpdate } from '../../src/api/validation.js'
import { ANNOTATION_DS_TEMPLATE_GENERATION, prepareForCreate, prepareForUpdate, updateGeneration } from '../../src/apiserver/strategy.js'

type Mut = (o: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any
const R = resourceFor('daemonsets')

function ds(mut?: Mut): DaemonSet {
  const o: DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'd' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } },
  }
  mut?.(o)
  applyDefaults(R, o)
  return o
}

t.test('catalogue: served as upstream (short name, category, status subresource)', async (t) => {
  t.same([R.group, R.version, R.kind, R.namespaced, R.shortNames, R.subresources, R.categories, R.etcdPrefix], ['apps', 'v1', 'DaemonSet', true, ['ds'], ['status'], ['all'], 'daemonsets'])
})

t.test('defaults (SetDefaults_DaemonSet)', async (t) => {
  const o = ds()
  t.same(o.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } })
  t.equal(o.spec.revisionHistoryLimit, 10)
  t.equal(o.spec.template.spec.restartPolicy, 'Always', 'the pod template is defaulted')
  const od = ds((o) => (o.spec.updateStrategy = { type: 'OnDelete' }))
  t.same(od.spec.updateStrategy, { type: 'OnDelete' }, 'OnDelete gets no rollingUpdate')
  const surge = ds((o) => (o.spec.updateStrategy = { rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } }))
  t.same(surge.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } })
  t.same(validateCreate(R, o), [])
  t.same(validateCreate(R, surge), [])
})

t.test('validation: upstream paths and texts', async (t) => {
  const cases: [string, Mut, string | RegExp][] = [
    ['selector does not match the template', (o) => (o.spec.template.metadata.labels = { app: 'other' }), /^DaemonSet\.apps "agent" is invalid: spec\.template\.metadata\.labels: Invalid value: .*: `selector` does not match template `labels`$/],
    ['empty selector', (o) => (o.spec.selector = {}), /^DaemonSet\.apps "agent" is invalid: spec\.selector: Invalid value: .*: empty selector is invalid for daemonset$/],
    ['no selector', (o) => delete o.spec.selector, 'DaemonSet.apps "agent" is invalid: spec.selector: Required value'],
    ['both zero', (o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } }), 'DaemonSet.apps "agent" is invalid: spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0'],
    ['both set', (o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } }), 'DaemonSet.apps "agent" is invalid: spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero'],
    ['over 100%', (o) => (o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '150%', maxSurge: 0 } }), 'DaemonSet.apps "agent" is invalid: spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%'],
    ['restartPolicy Never', (o) => (o.spec.template.spec.restartPolicy = 'Never'), 'DaemonSet.apps "agent" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ['activeDeadlineSeconds', (o) => (o.spec.template.spec.activeDeadlineSeconds = 5), 'DaemonSet.apps "agent" is invalid: spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in DaemonSet is not Supported'],
    ['negative history', (o) => (o.spec.revisionHistoryLimit = -1), 'DaemonSet.apps "agent" is invalid: spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0'],
    ['negative minReadySeconds', (o) => (o.spec.minReadySeconds = -1), 'DaemonSet.apps "agent" is invalid: spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0'],
  ]
  for (const [what, mut, msg] of cases) {
    const o = ds(mut)
    const got = formatFieldErrors('DaemonSet.apps', 'agent', validateCreate(R, o))
    if (typeof msg === 'string') t.equal(got, msg, what)
    else t.match(got, msg, what)
  }
  const bad = ds((o) => (o.spec.updateStrategy = { type: 'Rolling' }))
  t.match(formatFieldErrors('DaemonSet.apps', 'agent', validateCreate(R, bad)), /spec\.updateStrategy: Unsupported value: .*supported values: "RollingUpdate", "OnDelete"/)
  // Junk never throws.
  for (const junk of [null, 7, 'x', [], { spec: 1 }, { spec: { selector: 'x', template: [] , updateStrategy: 3 } }]) {
    t.doesNotThrow(() => validateCreate(R, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'j' }, ...(junk as object) } as never))
  }
})

t.test('update: the selector is immutable; status counts are non-negative', async (t) => {
  const old = ds()
  const next = ds((o) => {
    o.spec.selector = { matchLabels: { app: 'agent', tier: 'x' } }
    o.spec.template.metadata.labels.tier = 'x'
  })
  t.match(formatFieldErrors('DaemonSet.apps', 'agent', validateUpdate(R, next, old)), /spec\.selector: Invalid value: .*: field is immutable/)
  const st = { ...old, status: { currentNumberScheduled: -1, numberMisscheduled: 0, desiredNumberScheduled: 1, numberReady: 0 } }
  t.equal(formatFieldErrors('DaemonSet.apps', 'agent', validateStatusUpdate(R, st, old)), 'DaemonSet.apps "agent" is invalid: status.currentNumberScheduled: Invalid value: -1: must be greater than or equal to 0')
})

t.test('strategy: generation moves on spec changes only; template generation on template changes', async (t) => {
  const a = ds()
  prepareForCreate(R, a, new Date())
  t.equal(a.metadata.generation, 1)
  t.equal(a.metadata.annotations?.[ANNOTATION_DS_TEMPLATE_GENERATION], '1')
  t.same(a.status, {})
  const labelsOnly = structuredClone(a)
  labelsOnly.metadata.labels = { x: 'y' }
  prepareForUpdate(R, labelsOnly, a)
  updateGeneration(R, labelsOnly, a)
  t.same([labelsOnly.metadata.generation, labelsOnly.metadata.annotations?.[ANNOTATION_DS_TEMPLATE_GENERATION]], [1, '1'], 'metadata: no bump')
  const strat = structuredClone(a)
  strat.spec.minReadySeconds = 5
  prepareForUpdate(R, strat, a)
  updateGeneration(R, strat, a)
  t.same([strat.metadata.generation, strat.metadata.annotations?.[ANNOTATION_DS_TEMPLATE_GENERATION]], [2, '1'], 'spec but not template: generation only')
  const tpl = structuredClone(strat)
  tpl.spec.template.spec.containers[0]!.image = 'agnhost:2'
  delete tpl.metadata.annotations
  prepareForUpdate(R, tpl, strat)
  updateGeneration(R, tpl, strat)
  t.same([tpl.metadata.generation, tpl.metadata.annotations?.[ANNOTATION_DS_TEMPLATE_GENERATION]], [3, '2'], 'template: both, and a client cannot drop the annotation')
})

t.test('printer: kubectl get ds columns (+ wide)', async (t) => {
  const o = ds((o) => (o.spec.template.spec.nodeSelector = { zone: 'b', disk: 'ssd' }))
  o.metadata.creationTimestamp = '2026-01-01T00:00:00Z'
  o.status = { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 1, numberAvailable: 2, numberMisscheduled: 0 }
  const tbl = toTable(R, [o], { now: new Date('2026-01-01T00:05:00Z') })
  t.same(tbl.columnDefinitions.map((c) => [c.name, c.priority]), [['Name', 0], ['Desired', 0], ['Current', 0], ['Ready', 0], ['Up-to-date', 0], ['Available', 0], ['Node Selector', 0], ['Age', 0], ['Containers', 1], ['Images', 1], ['Selector', 1]])
  t.same(tbl.rows[0]!.cells, ['agent', 3, 3, 2, 1, 2, 'disk=ssd,zone=b', '5m', 'c', 'agnhost', 'app=agent'])
  t.same(toTable(R, [ds()]).rows[0]!.cells.slice(1, 7), [0, 0, 0, 0, 0, '<none>'])
})
