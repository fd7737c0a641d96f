// networking.k8s.io/v1 Ingress and IngressClass: catalogue entries, validation (field paths and
// upstream wording from pkg/apis/networking/validation), and the Table printers kubectl shows.
import t from 'tap'
import { formatFieldErrors } from '../../src/api/field-errors.js'
import type { Ingress, IngressClass } from '../../src/api/ingress.js'
import { findResourceByKind, resourceFor } from '../../src/api/resources.js'
import { toTable } from '../../src/api/table.js'
import type { KubeObject } from '../../src/api/types.js'
import { validateCreate, validateStatusUpdate, validateUpdate } from '../../src/api/validation.js'
import { base } from './fixtures/manifests.js'

const ri = resourceFor('ingresses')
const rc = resourceFor('ingressclasses')
type Mut = (o: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any
const ing = (mut?: Mut): Ingress => {
  const o = base.ingresses!()
  mut?.(o)
  return o as Ingress
}
const cls = (mut?: Mut): IngressClass => {
  const o = base.ingressclasses!()
  mut?.(o)
  return o as IngressClass
}

t.test('catalogue: ingresses (ing, status, /registry/ingress) and cluster-scoped ingressclasses', async (t) => {
  t.equal(findResourceByKind('networking.k8s.io/v1', 'Ingress'), ri)
  t.same(ri.shortNames, ['ing'])
  t.same(ri.subresources, ['status'])
  t.equal(ri.etcdPrefix, 'ingress')
  t.equal(rc.namespaced, false)
  t.equal(rc.etcdPrefix, 'ingressclasses')
})

const WILDCARD_MSG =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

const P0 = 'spec.rules[0].http.paths[0]'
const cases: { what: string; mut: Mut; want: [string, string, string][] }[] = [
  { what: 'no rules, no default', mut: (o) => (delete o.spec.rules, delete o.spec.defaultBackend), want: [['spec', 'FieldValueInvalid', 'either `defaultBackend` or `rules` must be specified']] },
  { what: 'host with capitals', mut: (o) => (o.spec.rules[0].host = 'A.example.com'), want: [['spec.rules[0].host', 'FieldValueInvalid', 'Invalid value: "A.example.com": a lowercase RFC 1123 subdomain']] },
  { what: 'host is an IP', mut: (o) => (o.spec.rules[0].host = '10.0.0.1'), want: [['spec.rules[0].host', 'FieldValueInvalid', 'must be a DNS name, not an IP address']] },
  { what: 'wildcard not leading', mut: (o) => (o.spec.rules[1].host = 'a.*.example.com'), want: [['spec.rules[1].host', 'FieldValueInvalid', `Invalid value: "a.*.example.com": ${WILDCARD_MSG}`]] },
  { what: 'bare wildcard', mut: (o) => (o.spec.rules[1].host = '*'), want: [['spec.rules[1].host', 'FieldValueInvalid', 'a wildcard DNS-1123 subdomain']] },
  { what: 'pathType missing', mut: (o) => delete o.spec.rules[0].http.paths[0].pathType, want: [[`${P0}.pathType`, 'FieldValueRequired', 'Required value: pathType must be specified']] },
  { what: 'pathType unknown', mut: (o) => (o.spec.rules[0].http.paths[0].pathType = 'Regex'), want: [[`${P0}.pathType`, 'FieldValueNotSupported', 'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"']] },
  { what: 'relative Prefix path', mut: (o) => (o.spec.rules[0].http.paths[0].path = 'api'), want: [[`${P0}.path`, 'FieldValueInvalid', 'Invalid value: "api": must be an absolute path']] },
  { what: 'empty Exact path', mut: (o) => (o.spec.rules[0].http.paths[1].path = ''), want: [['spec.rules[0].http.paths[1].path', 'FieldValueInvalid', 'Invalid value: "": must be an absolute path']] },
  { what: 'relative ImplementationSpecific path', mut: (o) => (o.spec.rules[1].http.paths[0].path = 'x'), want: [['spec.rules[1].http.paths[0].path', 'FieldValueInvalid', 'must be an absolute path']] },
  { what: 'path with //', mut: (o) => (o.spec.rules[0].http.paths[0].path = '/a//b'), want: [[`${P0}.path`, 'FieldValueInvalid', "must not contain '//'"]] },
  { what: 'path ending /..', mut: (o) => (o.spec.rules[0].http.paths[0].path = '/a/..'), want: [[`${P0}.path`, 'FieldValueInvalid', "cannot end with '/..'"]] },
  { what: 'no paths', mut: (o) => (o.spec.rules[0].http.paths = []), want: [['spec.rules[0].http.paths', 'FieldValueRequired', 'Required value']] },
  { what: 'service and resource', mut: (o) => (o.spec.rules[0].http.paths[0].backend.resource = { kind: 'Bucket', name: 'b' }), want: [[`${P0}.backend`, 'FieldValueInvalid', 'Invalid value: "": cannot set both resource and service backends']] },
  { what: 'no backend', mut: (o) => (o.spec.rules[0].http.paths[0].backend = {}), want: [[`${P0}.backend`, 'FieldValueInvalid', 'resource or service backend is required']] },
  { what: 'resource without kind', mut: (o) => (o.spec.defaultBackend = { resource: { name: 'b' } }), want: [['spec.defaultBackend.resource.kind', 'FieldValueRequired', 'Required value: kind is required']] },
  { what: 'port name and number', mut: (o) => (o.spec.rules[0].http.paths[0].backend.service.port = { name: 'http', number: 80 }), want: [[`${P0}.backend`, 'FieldValueInvalid', 'cannot set both port name & port number']] },
  { what: 'no port', mut: (o) => (o.spec.rules[0].http.paths[0].backend.service.port = {}), want: [[`${P0}.backend`, 'FieldValueRequired', 'Required value: port name or number is required']] },
  { what: 'port out of range', mut: (o) => (o.spec.defaultBackend.service.port.number = 70000), want: [['spec.defaultBackend.service.port.number', 'FieldValueInvalid', 'Invalid value: 70000: must be between 1 and 65535, inclusive']] },
  { what: 'bad port name', mut: (o) => (o.spec.rules[0].http.paths[1].backend.service.port.name = 'http_x'), want: [['spec.rules[0].http.paths[1].backend.service.port.name', 'FieldValueInvalid', 'Invalid value: "http_x"']] },
  { what: 'service name not DNS-1035', mut: (o) => (o.spec.rules[0].http.paths[0].backend.service.name = '1web'), want: [[`${P0}.backend.service.name`, 'FieldValueInvalid', 'a DNS-1035 label']] },
  { what: 'service name missing', mut: (o) => (o.spec.rules[0].http.paths[0].backend.service.name = ''), want: [[`${P0}.backend.service.name`, 'FieldValueRequired', 'Required value']] },
  { what: 'bad TLS host', mut: (o) => (o.spec.tls[0].hosts[0] = 'a_b.example.com'), want: [['spec.tls[0].hosts[0]', 'FieldValueInvalid', 'a lowercase RFC 1123 subdomain']] },
  { what: 'bad TLS wildcard', mut: (o) => (o.spec.tls[0].hosts[1] = '*b.example.com'), want: [['spec.tls[0].hosts[1]', 'FieldValueInvalid', 'a wildcard DNS-1123 subdomain']] },
  { what: 'bad TLS secret name', mut: (o) => (o.spec.tls[0].secretName = 'A'), want: [['spec.tls[0].secretName', 'FieldValueInvalid', 'Invalid value: "A"']] },
  { what: 'bad class name', mut: (o) => (o.spec.ingressClassName = 'Net_kube'), want: [['spec.ingressClassName', 'FieldValueInvalid', 'Invalid value: "Net_kube"']] },
  {
    what: 'class annotation disagrees',
    mut: (o) => (o.metadata.annotations = { 'kubernetes.io/ingress.class': 'nginx' }),
    want: [['annotations.kubernetes.io/ingress.class', 'FieldValueInvalid', 'Invalid value: "nginx": must match `ingressClassName` when both are specified']],
  },
]

t.test('valid manifests have no errors', async (t) => {
  t.same(validateCreate(ri, ing() as KubeObject), [])
  t.same(validateCreate(ri, ing((o) => delete o.spec.rules) as KubeObject), [], 'defaultBackend alone is enough')
  t.same(validateCreate(ri, ing((o) => (o.spec.rules[1].http.paths[0].path = '')) as KubeObject), [], 'ImplementationSpecific may have no path')
  t.same(validateCreate(rc, cls() as KubeObject), [])
})

t.test('invalid Ingresses: field paths and upstream wording', async (t) => {
  for (const c of cases) {
    const errs = validateCreate(ri, ing(c.mut) as KubeObject)
    for (const [field, type, msg] of c.want) {
      const hit = errs.find((e) => e.field === field && e.type === type && e.message.includes(msg))
      t.ok(hit, `${c.what}: ${field} ${type} "${msg}" in ${JSON.stringify(errs)}`)
    }
    t.equal(errs.length, c.want.length, `${c.what}: exactly the expected errors (${JSON.stringify(errs.map((e) => e.field))})`)
  }
  const errs = validateCreate(ri, ing(cases[7]!.mut) as KubeObject)
  t.equal(formatFieldErrors('Ingress.networking.k8s.io', 'web', errs), 'Ingress.networking.k8s.io "web" is invalid: spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path')
})

t.test('the class annotation is a create-only rule; status IPs are checked', async (t) => {
  const old = ing() as KubeObject
  const next = ing((o) => (o.metadata.annotations = { 'kubernetes.io/ingress.class': 'nginx' })) as KubeObject
  t.same(validateUpdate(ri, next, old), [], 'an update keeps what was accepted')
  const bad = ing((o) => (o.status.loadBalancer.ingress = [{ ip: '300.1.1.1' }, { hostname: '10.0.0.1' }])) as KubeObject
  t.same(
    validateStatusUpdate(ri, bad, old).map((e) => [e.field, e.message.split(':')[0]]),
    [
      ['status.loadBalancer.ingress[0].ip', 'Invalid value'],
      ['status.loadBalancer.ingress[1].hostname', 'Invalid value'],
    ],
  )
})

t.test('invalid IngressClasses', async (t) => {
  const errsOf = (mut: Mut): string[] => validateCreate(rc, cls(mut) as KubeObject).map((e) => `${e.field}: ${e.message}`)
  t.same(errsOf((o) => delete o.spec.controller), ['spec.controller: Required value'])
  t.same(errsOf((o) => (o.spec.controller = 'netkube')), ['spec.controller: Invalid value: "netkube": must be a domain-prefixed path (such as "acme.io/foo")'])
  t.match(errsOf((o) => (o.spec.controller = 'x'.repeat(251) + '/a'))[0], /^spec.controller: Too long: may not be more than 250/)
  t.same(errsOf((o) => (o.spec.parameters.scope = 'Namespace')), ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"])
  t.same(errsOf((o) => (o.spec.parameters.namespace = 'x')), ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"])
  t.same(errsOf((o) => delete o.spec.parameters.scope), ['spec.parameters.scope: Required value'])
  t.same(errsOf((o) => (o.spec.parameters.name = 'a/b')), ['spec.parameters.name: Invalid value: "a/b": may not contain \'/\''])
  const upd = validateUpdate(rc, cls((o) => (o.spec.controller = 'other.io/x')) as KubeObject, cls() as KubeObject)
  t.same(upd.map((e) => `${e.field}: ${e.message}`), ['spec.controller: Invalid value: "other.io/x": field is immutable'])
})

t.test('tables: NAME CLASS HOSTS ADDRESS PORTS AGE and NAME CONTROLLER PARAMETERS AGE', async (t) => {
  const now = new Date('2026-12-01T12:00:00Z')
  const a = ing((o) => (o.metadata.creationTimestamp = '2026-12-01T11:59:50Z'))
  const b = ing((o) => {
    o.metadata.name = 'plain'
    delete o.spec.ingressClassName
    delete o.spec.tls
    o.spec.rules = [{ http: o.spec.rules[0].http }]
    delete o.status
  })
  const c = ing((o) => {
    o.metadata.name = 'many'
    o.spec.rules = ['a', 'b', '', 'c', 'd'].map((h) => ({ ...(h ? { host: `${h}.x.io` } : {}), http: o.spec.rules[0].http }))
    o.status.loadBalancer.ingress = [{ ip: '192.168.56.200' }, { ip: '192.168.56.201' }]
  })
  const tab = toTable(ri, [a, b, c], { now })
  t.same(tab.columnDefinitions.map((d) => d.name), ['Name', 'Class', 'Hosts', 'Address', 'Ports', 'Age'])
  t.same(tab.rows[0]!.cells, ['web', 'netkube', 'a.example.com,*.b.example.com', '192.168.56.200', '80, 443', '10s'])
  t.same(tab.rows[1]!.cells.slice(0, 5), ['plain', '<none>', '*', '', '80'])
  t.same(tab.rows[2]!.cells.slice(2, 4), ['a.x.io,b.x.io,c.x.io + 2 more...', '192.168.56.20...'])
  const ct = toTable(rc, [cls(), cls((o) => delete o.spec.parameters)], { now })
  t.same(ct.columnDefinitions.map((d) => d.name), ['Name', 'Controller', 'Parameters', 'Age'])
  t.same(ct.rows[0]!.cells.slice(0, 3), ['netkube', 'netkube.io/ingress-controller', 'IngressParameters.k8s.example.com/external-lb'])
  t.equal(ct.rows[1]!.cells[2], '<none>')
})
