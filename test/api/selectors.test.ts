import t from 'tap'
import {
  SelectorError,
  formatLabelSelector,
  isSelectableField,
  labelSelectorFromApi,
  labelSelectorMatches,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  selectableFields,
  selectorMatchesNothing,
  unsupportedFields,
  type Requirement,
} from '../../src/api/selectors.js'
import { resourceFor } from '../../src/api/resources.js'

const res = resourceFor

t.test('parseLabelSelector: grammar', async (t) => {
  const cases: [string, Requirement[]][] = [
    ['', []],
    ['   ', []],
    ['app=web', [{ key: 'app', operator: '=', values: ['web'] }]],
    ['app==web', [{ key: 'app', operator: '==', values: ['web'] }]],
    ['app!=web', [{ key: 'app', operator: '!=', values: ['web'] }]],
    ['app = web , tier', [{ key: 'app', operator: '=', values: ['web'] }, { key: 'tier', operator: 'exists', values: [] }]],
    ['!canary', [{ key: 'canary', operator: '!', values: [] }]],
    ['env in (prod, staging)', [{ key: 'env', operator: 'in', values: ['prod', 'staging'] }]],
    ['env notin (dev)', [{ key: 'env', operator: 'notin', values: ['dev'] }]],
    ['env in (a,a,b)', [{ key: 'env', operator: 'in', values: ['a', 'b'] }]],
    ['env in (a,)', [{ key: 'env', operator: 'in', values: ['a', ''] }]],
    ['app=', [{ key: 'app', operator: '=', values: [''] }]],
    ['x>5,y<10', [{ key: 'x', operator: 'gt', values: ['5'] }, { key: 'y', operator: 'lt', values: ['10'] }]],
    ['example.com/app=web', [{ key: 'example.com/app', operator: '=', values: ['web'] }]],
    ['app=in', [{ key: 'app', operator: '=', values: ['in'] }]],
    ['a=b,!c,d in (e),f notin (g),h', [
      { key: 'a', operator: '=', values: ['b'] },
      { key: 'c', operator: '!', values: [] },
      { key: 'd', operator: 'in', values: ['e'] },
      { key: 'f', operator: 'notin', values: ['g'] },
      { key: 'h', operator: 'exists', values: [] },
    ]],
  ]
  for (const [s, want] of cases) t.same(parseLabelSelector(s), want, JSON.stringify(s))
})

t.test('parseLabelSelector: errors', async (t) => {
  const bad = [
    'app=web,', // trailing comma
    ',app',
    'app in ()', // empty set
    'app in (a', // unterminated
    'app in a', // no paren
    'app=a=b',
    'app web',
    '!app=web',
    'x>abc', // non-integer
    'x>', // no value
    'Bad Key=1',
    '-app=x', // invalid key
    'app=-bad-', // invalid value
    'app=' + 'v'.repeat(64), // value too long
    'a/b/c=1',
    '(',
    'app!',
  ]
  for (const s of bad) t.throws(() => parseLabelSelector(s), SelectorError, JSON.stringify(s))
  const err = (() => {
    try {
      parseLabelSelector('app in ()')
    } catch (e) {
      return (e as Error).message
    }
    return ''
  })()
  t.match(err, /values set can't be empty/)
})

t.test('matchesLabels', async (t) => {
  const labels = { app: 'web', env: 'prod', n: '7' }
  const cases: [string, Record<string, string> | undefined, boolean][] = [
    ['', labels, true],
    ['', undefined, true],
    ['app=web', labels, true],
    ['app=db', labels, false],
    ['app!=db', labels, true],
    ['missing!=x', labels, true], // != matches absent keys
    ['env notin (dev)', labels, true],
    ['missing notin (dev)', labels, true],
    ['env in (dev,prod)', labels, true],
    ['env in (dev)', labels, false],
    ['app', labels, true],
    ['missing', labels, false],
    ['!missing', labels, true],
    ['!app', labels, false],
    ['n>5', labels, true],
    ['n>7', labels, false],
    ['n<8', labels, true],
    ['app>1', labels, false], // non-integer label
    ['missing>1', labels, false],
    ['app=web,env=dev', labels, false],
    ['app=web', undefined, false],
  ]
  for (const [s, l, want] of cases) t.equal(matchesLabels(parseLabelSelector(s), l), want, `${s} on ${JSON.stringify(l)}`)
  // A stored `labels: null` (accepted on write, as Go decodes it to a nil map) means no labels.
  const none = null as unknown as Record<string, string>
  for (const [s, want] of [['!app', true], ['app', false], ['app!=x', true], ['app=web', false]] as const)
    t.equal(matchesLabels(parseLabelSelector(s), none), want, `${s} on labels: null`)
})

t.test('LabelSelector API form: nil matches nothing, {} matches everything', async (t) => {
  t.equal(labelSelectorMatches(undefined, { a: 'b' }), false)
  t.equal(labelSelectorMatches({}, { a: 'b' }), true)
  t.equal(labelSelectorMatches({}, undefined), true)
  t.equal(matchesLabels(labelSelectorFromApi(undefined), {}), false)
  t.equal(labelSelectorFromApi(undefined), selectorMatchesNothing)
  const ls = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['fe', 'be'] }, { key: 'old', operator: 'DoesNotExist' as const }] }
  t.equal(labelSelectorMatches(ls, { app: 'web', tier: 'fe' }), true)
  t.equal(labelSelectorMatches(ls, { app: 'web', tier: 'db' }), false)
  t.equal(labelSelectorMatches(ls, { app: 'web', tier: 'fe', old: '1' }), false)
  t.throws(() => labelSelectorFromApi({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), SelectorError)
  t.throws(() => labelSelectorFromApi({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), SelectorError)
  t.throws(() => labelSelectorFromApi({ matchExpressions: [{ key: 'a', operator: 'Bogus' as 'In', values: ['x'] }] }), SelectorError)
  t.equal(labelSelectorMatches({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, { a: 'x' }), false, 'invalid selector matches nothing')
})

t.test('formatLabelSelector round-trips through the parser', async (t) => {
  const cases: [Parameters<typeof formatLabelSelector>[0], string][] = [
    [{}, ''],
    [{ matchLabels: { app: 'web' } }, 'app=web'],
    [{ matchLabels: { tier: 'fe', app: 'web' } }, 'app=web,tier=fe'],
    [
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev', 'ci'] }, { key: 'canary', operator: 'DoesNotExist' }, { key: 'zone', operator: 'Exists' }] },
      'app=web,!canary,env notin (ci,dev),zone', // sorted by key; DoesNotExist prints as !key
    ],
  ]
  for (const [ls, want] of cases) {
    const s = formatLabelSelector(ls)
    t.equal(s, want)
    const sets: Record<string, string>[] = [{ app: 'web', zone: 'a' }, { app: 'web', env: 'dev', zone: 'a' }, { app: 'x' }, {}]
    for (const labels of sets) {
      t.equal(matchesLabels(parseLabelSelector(s), labels), labelSelectorMatches(ls, labels), `${s} vs ${JSON.stringify(labels)}`)
    }
  }
})

t.test('field selectors', async (t) => {
  t.same(parseFieldSelector(''), [])
  t.same(parseFieldSelector('metadata.name=web'), [{ key: 'metadata.name', operator: '=', values: ['web'] }])
  t.same(parseFieldSelector('spec.nodeName==n1,status.phase!=Running'), [
    { key: 'spec.nodeName', operator: '==', values: ['n1'] },
    { key: 'status.phase', operator: '!=', values: ['Running'] },
  ])
  t.same(parseFieldSelector('spec.nodeName='), [{ key: 'spec.nodeName', operator: '=', values: [''] }])
  t.same(parseFieldSelector('metadata.name=a\\,b'), [{ key: 'metadata.name', operator: '=', values: ['a,b'] }])
  for (const bad of ['metadata.name', 'metadata.name in (a)', '=x', 'a=b=c']) t.throws(() => parseFieldSelector(bad), SelectorError, bad)

  const pods = res('pods')
  const pod = { metadata: { name: 'p', namespace: 'default' }, spec: { nodeName: 'n1', containers: [] }, status: { phase: 'Running', podIP: '10.0.0.5' } }
  const f = selectableFields(pods, pod)
  t.equal(f['metadata.name'], 'p')
  t.equal(f['metadata.namespace'], 'default')
  t.equal(f['spec.nodeName'], 'n1')
  t.equal(f['status.phase'], 'Running')
  t.equal(f['status.podIP'], '10.0.0.5')
  t.equal(matchesFields(parseFieldSelector('spec.nodeName=n1,status.phase=Running'), f), true)
  t.equal(matchesFields(parseFieldSelector('spec.nodeName!=n1'), f), false)
  t.equal(matchesFields(parseFieldSelector('status.nominatedNodeName='), f), true, 'absent field compares as empty')
  // unscheduled pods: spec.nodeName= selects them (what the scheduler and kubelet ask for)
  t.equal(matchesFields(parseFieldSelector('spec.nodeName='), selectableFields(pods, { metadata: { name: 'q' }, spec: {} })), true)

  t.equal(isSelectableField(pods, 'spec.nodeName'), true)
  t.equal(isSelectableField(pods, 'spec.bogus'), false)
  t.equal(isSelectableField(res('configmaps'), 'metadata.name'), true)
  t.equal(isSelectableField(res('services'), 'spec.clusterIP'), true)
  t.equal(isSelectableField(res('nodes'), 'spec.unschedulable'), true)
  t.same(unsupportedFields(pods, parseFieldSelector('metadata.name=a,spec.foo=b')), ['spec.foo'])
  const nodeFields = selectableFields(res('nodes'), { metadata: { name: 'n1' }, spec: { unschedulable: true } })
  t.equal(nodeFields['spec.unschedulable'], 'true')
  t.equal(nodeFields['metadata.namespace'], '')
})
