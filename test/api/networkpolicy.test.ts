// networking.k8s.io/v1 NetworkPolicy: defaulting, validation (field paths and upstream wording),
// the Table printer, and its catalogue entry.
import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.js'
import { formatFieldErrors } from '../../src/api/field-errors.js'
import { findResourceByKind, resourceFor } from '../../src/api/resources.js'
import { toTable } from '../../src/api/table.js'
import type { KubeObject, NetworkPolicy } from '../../src/api/types.js'
import { validateCreate } from '../../src/api/validation.js'
import { base } from './fixtures/manifests.js'

const r = resourceFor('networkpolicies')
type Mut = (o: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any
const make = (mut?: Mut): NetworkPolicy => {
  const o = base.networkpolicies!()
  mut?.(o)
  applyDefaults(r, o as KubeObject)
  return o as NetworkPolicy
}

t.test('catalogue: networking.k8s.io/v1, namespaced, short name netpol, etcd key as kube-apiserver', async (t) => {
  t.equal(findResourceByKind('networking.k8s.io/v1', 'NetworkPolicy'), r)
  t.same(r.shortNames, ['netpol'])
  t.equal(r.namespaced, true)
  t.equal(r.etcdPrefix, 'networkpolicies')
})

t.test('defaults: policyTypes from the rules given, ports TCP, empty spec is deny-all ingress', async (t) => {
  t.same(make().spec.policyTypes, ['Ingress', 'Egress'])
  t.same(make((o) => delete o.spec.egress).spec.policyTypes, ['Ingress'])
  t.same(make((o) => (o.spec.egress = [])).spec.policyTypes, ['Ingress'], 'an empty egress list is no egress rule')
  t.same(make((o) => (o.spec.policyTypes = ['Egress'])).spec.policyTypes, ['Egress'], 'given policyTypes are kept')
  t.equal(make().spec.ingress![0]!.ports![0]!.protocol, 'TCP')
  t.equal(make().spec.ingress![0]!.ports![1]!.protocol, 'UDP')
  const empty = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'x' } } as KubeObject
  applyDefaults(r, empty)
  t.same(empty.spec, { podSelector: {}, policyTypes: ['Ingress'] })
  t.same(validateCreate(r, empty), [])
  const again = structuredClone(empty)
  applyDefaults(r, again)
  t.same(again, empty, 'idempotent')
})

const cases: { what: string; mut: Mut; want: [string, string, string][] }[] = [
  { what: 'bad cidr', mut: (o) => (o.spec.ingress[0].from[1].ipBlock.cidr = '10.0.0.0/33'), want: [['spec.ingress[0].from[1].ipBlock.cidr', 'FieldValueInvalid', 'Invalid value: "10.0.0.0/33": must be a valid CIDR value']] },
  { what: 'missing cidr', mut: (o) => (o.spec.ingress[0].from[1].ipBlock = { except: ['10.1.0.0/16'] }), want: [['spec.ingress[0].from[1].ipBlock.cidr', 'FieldValueRequired', 'Required value']] },
  { what: 'except outside cidr', mut: (o) => (o.spec.ingress[0].from[1].ipBlock.except = ['192.168.0.0/24']), want: [['spec.ingress[0].from[1].ipBlock.except[0]', 'FieldValueInvalid', 'Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`']] },
  { what: 'except equal to cidr', mut: (o) => (o.spec.ingress[0].from[1].ipBlock.except = ['10.0.0.0/8']), want: [['spec.ingress[0].from[1].ipBlock.except[0]', 'FieldValueInvalid', 'must be a strict subset of `cidr`']] },
  { what: 'bad except', mut: (o) => (o.spec.ingress[0].from[1].ipBlock.except = ['10.1.0.0']), want: [['spec.ingress[0].from[1].ipBlock.except[0]', 'FieldValueInvalid', 'must be a valid CIDR value']] },
  { what: 'endPort < port', mut: (o) => (o.spec.ingress[0].ports[1].endPort = 7000), want: [['spec.ingress[0].ports[1].endPort', 'FieldValueInvalid', 'Invalid value: 8000: must be greater than or equal to `port`']] },
  { what: 'named port with endPort', mut: (o) => (o.spec.ingress[0].ports[0].endPort = 90), want: [['spec.ingress[0].ports[0].endPort', 'FieldValueInvalid', 'Invalid value: 90: may not be specified when `port` is non-numeric']] },
  { what: 'endPort without port', mut: (o) => (o.spec.ingress[0].ports[0] = { endPort: 90 }), want: [['spec.ingress[0].ports[0].endPort', 'FieldValueInvalid', 'may not be specified when `port` is not specified']] },
  { what: 'port out of range', mut: (o) => (o.spec.egress[0].ports[0].port = 70000), want: [['spec.egress[0].ports[0].port', 'FieldValueInvalid', 'must be between 1 and 65535, inclusive']] },
  { what: 'bad port name', mut: (o) => (o.spec.ingress[0].ports[0].port = 'http-'), want: [['spec.ingress[0].ports[0].port', 'FieldValueInvalid', 'Invalid value: "http-"']] },
  { what: 'protocol', mut: (o) => (o.spec.ingress[0].ports[0].protocol = 'ICMP'), want: [['spec.ingress[0].ports[0].protocol', 'FieldValueNotSupported', 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"']] },
  { what: 'empty peer', mut: (o) => (o.spec.egress[0].to = [{}]), want: [['spec.egress[0].to[0]', 'FieldValueRequired', 'Required value: must specify a peer']] },
  { what: 'ipBlock with a selector', mut: (o) => (o.spec.egress[0].to = [{ podSelector: {}, ipBlock: { cidr: '10.0.0.0/8' } }]), want: [['spec.egress[0].to[0]', 'FieldValueForbidden', 'Forbidden: may not specify both ipBlock and another peer']] },
  { what: 'bad pod selector', mut: (o) => (o.spec.podSelector = { matchExpressions: [{ key: 'app', operator: 'Like' }] }), want: [['spec.podSelector.matchExpressions[0].operator', 'FieldValueInvalid', 'not a valid selector operator']] },
  { what: 'bad peer namespace selector', mut: (o) => (o.spec.ingress[0].from[0].namespaceSelector = { matchLabels: { 'a b': 'x' } }), want: [['spec.ingress[0].from[0].namespaceSelector.matchLabels', 'FieldValueInvalid', 'Invalid value: "a b"']] },
  { what: 'policy type', mut: (o) => (o.spec.policyTypes = ['Ingress', 'Sideways']), want: [['spec.policyTypes[1]', 'FieldValueNotSupported', 'Unsupported value: "Sideways": supported values: "Ingress", "Egress"']] },
  { what: 'three policy types', mut: (o) => (o.spec.policyTypes = ['Ingress', 'Egress', 'Ingress']), want: [['spec.policyTypes', 'FieldValueInvalid', 'may not specify more than two policyTypes']] },
]

t.test('valid manifest has no errors', async (t) => t.same(validateCreate(r, make()), []))

t.test('invalid policies: field paths and upstream wording', async (t) => {
  for (const c of cases) {
    const errs = validateCreate(r, make(c.mut))
    for (const [field, type, msg] of c.want) {
      const hit = errs.find((e) => e.field === field && e.type === type && e.message.includes(msg))
      t.ok(hit, `${c.what}: ${field} ${type} "${msg}" in ${JSON.stringify(errs)}`)
    }
    t.equal(errs.length, c.want.length, `${c.what}: exactly the expected errors`)
  }
  const errs = validateCreate(r, make(cases[0]!.mut))
  t.equal(formatFieldErrors('NetworkPolicy.networking.k8s.io', 'allow-web', errs), 'NetworkPolicy.networking.k8s.io "allow-web" is invalid: spec.ingress[0].from[1].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')
})

t.test('table: NAME POD-SELECTOR AGE', async (t) => {
  const now = new Date('2026-12-01T12:00:00Z')
  const a = make((o) => (o.metadata.creationTimestamp = '2026-12-01T11:59:55Z'))
  const b = make((o) => {
    o.metadata.name = 'deny-all'
    o.metadata.creationTimestamp = '2026-12-01T11:00:00Z'
    o.spec = {}
  })
  const c = make((o) => (o.spec.podSelector = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }))
  const tab = toTable(r, [a, b, c], { now })
  t.same(tab.columnDefinitions.map((d) => d.name), ['Name', 'Pod-Selector', 'Age'])
  t.same(tab.rows[0]!.cells, ['allow-web', 'app=web', '5s'])
  t.same(tab.rows[1]!.cells, ['deny-all', '<none>', '60m'])
  t.equal(tab.rows[2]!.cells[1], 'app=web,tier notin (db)')
})
