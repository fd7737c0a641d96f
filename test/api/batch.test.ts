// batch/v1 Job and CronJob: defaults, validation (field paths and upstream texts), printer
// columns and the schedule grammar, as tables.
import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.js'
import { formatFieldErrors } from '../../src/api/field-errors.js'
import { resourceFor } from '../../src/api/resources.js'
import { toTable } from '../../src/api/table.js'
import type { CronJob, Job, KubeObject } from '../../src/api/types.js'
import { validateCreate, validateUpdate } from '../../src/api/validation.js'
import { parseSchedule, scheduleError } from '../../src/api/cron.js'
import { generateJobSelector } from '../../src/apiserver/strategy.js'
import { base } from './fixtures/manifests.js'

type Mut = (o: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any
const R = { jobs: resourceFor('jobs'), cronjobs: resourceFor('cronjobs') }

function make(plural: 'jobs' | 'cronjobs', mut?: Mut): KubeObject {
  const o = base[plural]!() as KubeObject
  mut?.(o)
  applyDefaults(R[plural], o)
  return o
}

t.test('Job defaults (SetDefaults_Job) and the generated selector', async (t) => {
  const j = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'pi', namespace: 'd', uid: 'u-1' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } } as Job
  generateJobSelector(j)
  applyDefaults(R.jobs, j)
  t.same([j.spec.completions, j.spec.parallelism, j.spec.backoffLimit, j.spec.completionMode, j.spec.suspend, j.spec.podReplacementPolicy], [1, 1, 6, 'NonIndexed', false, 'TerminatingOrFailed'])
  t.same(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u-1' } })
  t.same(j.spec.template.metadata?.labels, { 'job-name': 'pi', 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': 'u-1', 'batch.kubernetes.io/controller-uid': 'u-1' })
  t.same(j.metadata.labels, j.spec.template.metadata?.labels, 'an unlabelled Job takes its template labels')
  t.same(validateCreate(R.jobs, j), [])
  const p = { ...structuredClone(j), spec: { ...structuredClone(j.spec), completions: undefined, parallelism: 3 } } as Job
  applyDefaults(R.jobs, p)
  t.equal(p.spec.completions, undefined, 'a work-queue Job (parallelism only) keeps completions unset')

  const cj = make('cronjobs') as CronJob
  t.same([cj.spec.concurrencyPolicy, cj.spec.suspend, cj.spec.successfulJobsHistoryLimit, cj.spec.failedJobsHistoryLimit], ['Forbid', false, 3, 1])
  t.equal(cj.spec.jobTemplate.spec.backoffLimit, undefined, 'the job template is not defaulted as a Job')
  t.equal(cj.spec.jobTemplate.spec.template.spec.dnsPolicy, 'ClusterFirst', 'its pod template is')
})

t.test('Job and CronJob validation: field paths and upstream texts', async (t) => {
  const cases: { plural: 'jobs' | 'cronjobs'; what: string; mut: Mut; want: string }[] = [
    { plural: 'jobs', what: 'completions < 0', mut: (o) => (o.spec.completions = -1), want: 'Job.batch "pi" is invalid: spec.completions: Invalid value: -1: must be greater than or equal to 0' },
    { plural: 'jobs', what: 'parallelism < 0', mut: (o) => (o.spec.parallelism = -2), want: 'Job.batch "pi" is invalid: spec.parallelism: Invalid value: -2: must be greater than or equal to 0' },
    { plural: 'jobs', what: 'backoffLimit < 0', mut: (o) => (o.spec.backoffLimit = -1), want: 'spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0' },
    { plural: 'jobs', what: 'unknown completionMode', mut: (o) => (o.spec.completionMode = 'Sometimes'), want: 'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"' },
    { plural: 'jobs', what: 'Indexed needs completions', mut: (o) => ((o.spec.completionMode = 'Indexed'), delete o.spec.completions), want: 'spec.completions: Required value: when completion mode is Indexed' },
    { plural: 'jobs', what: 'restartPolicy Always', mut: (o) => (o.spec.template.spec.restartPolicy = 'Always'), want: 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"' },
    { plural: 'jobs', what: 'restartPolicy missing (defaults to Always)', mut: (o) => delete o.spec.template.spec.restartPolicy, want: 'spec.template.spec.restartPolicy: Unsupported value: "Always"' },
    {
      plural: 'jobs',
      what: 'selector not generated',
      mut: (o) => ((o.metadata.uid = 'j-1'), delete o.spec.manualSelector, (o.spec.selector = { matchLabels: { app: 'pi' } })),
      want: 'spec.selector: Invalid value: {"matchLabels":{"app":"pi"}}: `selector` not auto-generated',
    },
    {
      plural: 'jobs',
      what: "another Job's uid in the template labels",
      mut: (o) => ((o.metadata.uid = 'j-1'), delete o.spec.manualSelector, (o.spec.template.metadata.labels['controller-uid'] = 'j-0'), (o.spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': 'j-1' } })),
      want: 'spec.template.metadata.labels: Invalid value: {"app":"pi","controller-uid":"j-0"}: must have matching uid',
    },
    { plural: 'jobs', what: 'manual selector not matching the template', mut: (o) => (o.spec.selector = { matchLabels: { app: 'other' } }), want: 'spec.template.metadata.labels: Invalid value: {"app":"pi"}: `selector` does not match template `labels`' },
    { plural: 'jobs', what: 'ttlSecondsAfterFinished < 0', mut: (o) => (o.spec.ttlSecondsAfterFinished = -5), want: 'spec.ttlSecondsAfterFinished: Invalid value: -5: must be greater than or equal to 0' },
    { plural: 'cronjobs', what: 'bad schedule', mut: (o) => (o.spec.schedule = 'every minute'), want: 'CronJob.batch "hello" is invalid: spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]' },
    { plural: 'cronjobs', what: 'minute out of range', mut: (o) => (o.spec.schedule = '0-70 * * * *'), want: 'spec.schedule: Invalid value: "0-70 * * * *": end of range (70) above maximum (59): 0-70' },
    { plural: 'cronjobs', what: 'not a number', mut: (o) => (o.spec.schedule = 'x * * * *'), want: 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax' },
    { plural: 'cronjobs', what: 'CRON_TZ in the schedule', mut: (o) => (o.spec.schedule = 'CRON_TZ=UTC 0 * * * *'), want: 'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead' },
    { plural: 'cronjobs', what: 'unknown time zone', mut: (o) => (o.spec.timeZone = 'Mars/Olympus'), want: 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus' },
    { plural: 'cronjobs', what: 'Local time zone', mut: (o) => (o.spec.timeZone = 'Local'), want: 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones' },
    { plural: 'cronjobs', what: 'concurrencyPolicy', mut: (o) => (o.spec.concurrencyPolicy = 'Sometimes'), want: 'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"' },
    { plural: 'cronjobs', what: 'name too long', mut: (o) => (o.metadata.name = 'c'.repeat(53)), want: 'metadata.name: Invalid value: "ccccc' },
    { plural: 'cronjobs', what: 'selector in the job template', mut: (o) => (o.spec.jobTemplate.spec.selector = { matchLabels: { a: 'b' } }), want: 'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` will be auto-generated' },
    { plural: 'cronjobs', what: 'history limit < 0', mut: (o) => (o.spec.failedJobsHistoryLimit = -1), want: 'spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0' },
  ]
  for (const c of cases) {
    const o = make(c.plural, c.mut)
    const msg = formatFieldErrors(c.plural === 'jobs' ? 'Job.batch' : 'CronJob.batch', o.metadata.name ?? '', validateCreate(R[c.plural], o))
    t.match(msg, c.want, c.what)
  }
  t.same(validateCreate(R.cronjobs, make('cronjobs', (o) => (o.spec.timeZone = 'Europe/Berlin'))), [], 'an IANA zone is fine')
})

t.test('Job updates: selector, template and completionMode are immutable', async (t) => {
  const old = make('jobs')
  const upd = (mut: Mut): string[] => {
    const n = structuredClone(old)
    mut(n)
    return validateUpdate(R.jobs, n, old).map((e) => `${e.field}: ${e.message}`)
  }
  t.same(upd((o) => (o.spec.parallelism = 5)), [], 'parallelism may change')
  t.same(upd((o) => (o.spec.suspend = true)), [], 'suspend may change')
  t.match(upd((o) => (o.spec.selector.matchLabels.x = 'y')).join('\n'), /spec\.selector: Invalid value: .*field is immutable/)
  t.match(upd((o) => (o.spec.template.spec.containers[0].image = 'perl:6')).join('\n'), /spec\.template: Invalid value: .*field is immutable/)
  t.match(upd((o) => (o.spec.completions = 9)).join('\n'), /spec\.completions: Invalid value: 9: field is immutable/)
  t.match(upd((o) => (o.spec.completionMode = 'Indexed')).join('\n'), /spec\.completionMode: Invalid value: "Indexed": field is immutable/)
  // A suspended Job that never started may still change where its pods go.
  const sus = structuredClone(old)
  ;(sus as Job).spec.suspend = true
  const moved = structuredClone(sus)
  ;(moved as Job).spec.template.spec.nodeSelector = { zone: 'a' }
  t.same(validateUpdate(R.jobs, moved, sus), [])
})

t.test('kubectl get: upstream columns and cells', async (t) => {
  const now = new Date('2026-01-01T01:00:00Z')
  const j = make('jobs') as Job
  j.metadata.creationTimestamp = '2026-01-01T00:00:00Z'
  j.status = { startTime: '2026-01-01T00:00:00Z', completionTime: '2026-01-01T00:00:42Z', succeeded: 5, conditions: [{ type: 'Complete', status: 'True' }] }
  const tbl = toTable(R.jobs, [j], { now })
  t.same(tbl.columnDefinitions.map((c) => `${c.name}${c.priority ? '*' : ''}`), ['Name', 'Status', 'Completions', 'Duration', 'Age', 'Containers*', 'Images*', 'Selector*'])
  t.same(tbl.rows[0]!.cells, ['pi', 'Complete', '5/5', '42s', '60m', 'pi', 'perl:5.34.0', 'app=pi'])
  const running = { ...j, spec: { ...j.spec, completions: undefined, parallelism: 3 }, status: { startTime: '2026-01-01T00:59:00Z', succeeded: 0 } } as unknown as Job
  t.same(toTable(R.jobs, [running], { now }).rows[0]!.cells.slice(1, 4), ['Running', '0/1 of 3', '60s'])
  const failing = { ...j, status: { conditions: [{ type: 'FailureTarget', status: 'True' }] } } as Job
  t.equal(toTable(R.jobs, [failing], { now }).rows[0]!.cells[1], 'FailureTarget')

  const cj = make('cronjobs') as CronJob
  cj.metadata.creationTimestamp = '2026-01-01T00:00:00Z'
  cj.status = { lastScheduleTime: '2026-01-01T00:55:00Z', active: [{ name: 'hello-1' }] }
  const ct = toTable(R.cronjobs, [cj], { now })
  t.same(ct.columnDefinitions.filter((c) => !c.priority).map((c) => c.name), ['Name', 'Schedule', 'Timezone', 'Suspend', 'Active', 'Last Schedule', 'Age'])
  t.same(ct.rows[0]!.cells.slice(0, 7), ['hello', '*/5 * * * *', '<none>', 'False', 1, '5m', '60m'])
})

t.test('schedules: robfig spellings, next times from croner', async (t) => {
  const next = (s: string, after: string, tz?: string): string | undefined => parseSchedule(s, tz).next(new Date(after))?.toISOString()
  t.equal(next('*/1 * * * *', '2026-01-01T00:00:30Z'), '2026-01-01T00:01:00.000Z')
  t.equal(next('@hourly', '2026-01-01T00:00:30Z'), '2026-01-01T01:00:00.000Z')
  t.equal(next('@daily', '2026-01-01T00:00:30Z'), '2026-01-02T00:00:00.000Z')
  t.equal(next('@weekly', '2026-01-01T00:00:30Z'), '2026-01-04T00:00:00.000Z', 'Sunday midnight')
  t.equal(next('0 9 * * *', '2026-01-01T00:00:00Z', 'Europe/Berlin'), '2026-01-01T08:00:00.000Z', 'timeZone: 09:00 in Berlin is 08:00 UTC')
  t.equal(next('0 0 1 * 1', '2026-01-01T00:00:30Z'), '2026-01-05T00:00:00.000Z', 'day-of-month OR day-of-week, as Vixie cron')
  t.equal(next('@every 90s', '2026-01-01T00:00:00Z'), '2026-01-01T00:01:30.000Z')
  t.equal(next('0 0 31 2 *', '2026-01-01T00:00:00Z'), undefined, 'never')
  const errs: [string, string][] = [
    ['', 'empty spec string'],
    ['* * * *', 'expected exactly 5 fields, found 4: [* * * *]'],
    ['* * * * * *', 'expected exactly 5 fields, found 6: [* * * * * *]'],
    ['@fortnightly', 'unrecognized descriptor: @fortnightly'],
    ['* 24 * * *', 'end of range (24) above maximum (23): 24'],
    ['* * 0 * *', 'beginning of range (0) below minimum (1): 0'],
    ['5-1 * * * *', 'beginning of range (5) beyond end of range (1): 5-1'],
    ['*/0 * * * *', 'step of range should be a positive number: */0'],
    ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
    ['* * * foo *', 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'],
  ]
  for (const [s, want] of errs) t.equal(scheduleError(s), want, JSON.stringify(s))
  t.equal(scheduleError('0 12 * JAN-MAR mon-fri'), undefined, 'names, any case')
})
