import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.js'
import { formatFieldErrors, toStatusCauses, type FieldError } from '../../src/api/field-errors.js'
import { RESOURCES, resourceFor } from '../../src/api/resources.js'
import { eventFromV1 } from '../../src/api/events.js'
import type { KubeObject } from '../../src/api/types.js'
import { validateBinding, validateCreate, validateScale, validateStatusUpdate, validateUpdate } from '../../src/api/validation.js'
import { base, fixtureKey, realManifests } from './fixtures/manifests.js'

// events.k8s.io/v1 Events are validated in the stored core/v1 form the registry converts them to.
const res = (key: string) => RESOURCES.find((r) => fixtureKey(r) === key) ?? resourceFor(key)
type Mut = (o: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any

function make(plural: string, mut?: Mut, defaults = true): KubeObject {
  const raw = base[plural]!()
  const o = plural === 'events.k8s.io/events' ? (eventFromV1(raw as never) as unknown as Record<string, unknown>) : raw
  mut?.(o)
  if (defaults) applyDefaults(res(plural), o as KubeObject)
  return o as KubeObject
}

t.test('valid manifests (defaulted and not) have no errors', async (t) => {
  for (const plural of Object.keys(base)) {
    t.same(validateCreate(res(plural), make(plural)), [], `${plural} defaulted`)
    t.same(validateCreate(res(plural), make(plural, undefined, false)).filter((e) => !e.field.endsWith('protocol')), [], `${plural} raw`)
  }
})

interface Case {
  plural: string
  what: string
  mut: Mut
  /** expected errors: [field, type, message substring] (all must be present) */
  want: [string, FieldError['type'], string][]
}

const cases: Case[] = [
  // metadata
  { plural: 'pods', what: 'no name', mut: (o) => delete o.metadata.name, want: [['metadata.name', 'FieldValueRequired', 'name or generateName is required']] },
  { plural: 'pods', what: 'uppercase name', mut: (o) => (o.metadata.name = 'Web'), want: [['metadata.name', 'FieldValueInvalid', 'a lowercase RFC 1123 subdomain must consist of']] },
  { plural: 'pods', what: 'long name', mut: (o) => (o.metadata.name = 'a'.repeat(254)), want: [['metadata.name', 'FieldValueInvalid', 'must be no more than 253 characters']] },
  { plural: 'services', what: 'service name must be DNS-1035', mut: (o) => (o.metadata.name = '1web'), want: [['metadata.name', 'FieldValueInvalid', 'a DNS-1035 label must consist of']] },
  { plural: 'services', what: 'dotted service name', mut: (o) => (o.metadata.name = 'web.v1'), want: [['metadata.name', 'FieldValueInvalid', 'DNS-1035']] },
  { plural: 'namespaces', what: 'dotted namespace name', mut: (o) => (o.metadata.name = 'a.b'), want: [['metadata.name', 'FieldValueInvalid', 'a lowercase RFC 1123 label must consist of']] },
  { plural: 'pods', what: 'missing namespace', mut: (o) => delete o.metadata.namespace, want: [['metadata.namespace', 'FieldValueRequired', 'Required value']] },
  { plural: 'nodes', what: 'namespace on cluster-scoped', mut: (o) => (o.metadata.namespace = 'default'), want: [['metadata.namespace', 'FieldValueForbidden', 'not allowed on this type']] },
  { plural: 'pods', what: 'bad generateName', mut: (o) => { delete o.metadata.name; o.metadata.generateName = 'Web-' }, want: [['metadata.generateName', 'FieldValueInvalid', 'RFC 1123']] },
  { plural: 'pods', what: 'bad label key', mut: (o) => (o.metadata.labels = { 'bad key': 'x' }), want: [['metadata.labels', 'FieldValueInvalid', "name part must consist of alphanumeric characters, '-', '_' or '.'"]] },
  { plural: 'pods', what: 'bad label prefix', mut: (o) => (o.metadata.labels = { 'Example.com/app': 'x' }), want: [['metadata.labels', 'FieldValueInvalid', 'prefix part a lowercase RFC 1123 subdomain']] },
  { plural: 'pods', what: 'long label key name', mut: (o) => (o.metadata.labels = { ['k'.repeat(64)]: 'x' }), want: [['metadata.labels', 'FieldValueInvalid', 'name part must be no more than 63 characters']] },
  { plural: 'pods', what: 'bad label value', mut: (o) => (o.metadata.labels = { app: '-web' }), want: [['metadata.labels', 'FieldValueInvalid', 'a valid label must be an empty string or consist of']] },
  { plural: 'pods', what: 'long label value', mut: (o) => (o.metadata.labels = { app: 'v'.repeat(64) }), want: [['metadata.labels', 'FieldValueInvalid', 'must be no more than 63 characters']] },
  { plural: 'pods', what: 'label value not a string', mut: (o) => (o.metadata.labels = { app: 5 }), want: [['metadata.labels[app]', 'FieldValueTypeInvalid', 'must be of type string']] },
  { plural: 'pods', what: 'huge annotations', mut: (o) => (o.metadata.annotations = { big: 'x'.repeat(256 * 1024) }), want: [['metadata.annotations', 'FieldValueTooLong', 'Too long']] },
  { plural: 'pods', what: 'two controllers', mut: (o) => (o.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: '1', controller: true }, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'b', uid: '2', controller: true }]), want: [['metadata.ownerReferences', 'FieldValueInvalid', 'Only one reference can have Controller set to true']] },
  { plural: 'pods', what: 'non-qualified finalizer', mut: (o) => (o.metadata.finalizers = ['custom']), want: [['metadata.finalizers', 'FieldValueInvalid', 'name is neither a standard finalizer name nor is it fully qualified']] },
  // pods
  { plural: 'pods', what: 'no containers', mut: (o) => (o.spec.containers = []), want: [['spec.containers', 'FieldValueRequired', 'Required value']] },
  { plural: 'pods', what: 'no spec', mut: (o) => delete o.spec, want: [['spec.containers', 'FieldValueRequired', 'Required value']] },
  { plural: 'pods', what: 'container without image', mut: (o) => delete o.spec.containers[0].image, want: [['spec.containers[0].image', 'FieldValueRequired', 'Required value']] },
  { plural: 'pods', what: 'container without name', mut: (o) => delete o.spec.containers[0].name, want: [['spec.containers[0].name', 'FieldValueRequired', 'Required value']] },
  { plural: 'pods', what: 'duplicate container names', mut: (o) => o.spec.containers.push({ name: 'web', image: 'x' }), want: [['spec.containers[1].name', 'FieldValueDuplicate', 'Duplicate value: "web"']] },
  { plural: 'pods', what: 'container port 0', mut: (o) => (o.spec.containers[0].ports[0].containerPort = 0), want: [['spec.containers[0].ports[0].containerPort', 'FieldValueRequired', 'Required value']] },
  { plural: 'pods', what: 'container port too big', mut: (o) => (o.spec.containers[0].ports[0].containerPort = 70000), want: [['spec.containers[0].ports[0].containerPort', 'FieldValueInvalid', 'Invalid value: 70000: must be between 1 and 65535, inclusive']] },
  { plural: 'pods', what: 'bad port protocol', mut: (o) => (o.spec.containers[0].ports[0].protocol = 'ICMP'), want: [['spec.containers[0].ports[0].protocol', 'FieldValueNotSupported', 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']] },
  { plural: 'pods', what: 'bad port name', mut: (o) => (o.spec.containers[0].ports[0].name = 'HTTP'), want: [['spec.containers[0].ports[0].name', 'FieldValueInvalid', 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)']] },
  { plural: 'pods', what: 'restartPolicy', mut: (o) => (o.spec.restartPolicy = 'Sometimes'), want: [['spec.restartPolicy', 'FieldValueNotSupported', 'supported values: "Always", "Never", "OnFailure"']] },
  { plural: 'pods', what: 'dnsPolicy', mut: (o) => (o.spec.dnsPolicy = 'Google'), want: [['spec.dnsPolicy', 'FieldValueNotSupported', 'Unsupported value: "Google"']] },
  { plural: 'pods', what: 'dnsPolicy None without config', mut: (o) => (o.spec.dnsPolicy = 'None'), want: [['spec.dnsConfig', 'FieldValueRequired', 'must provide `dnsConfig` when `dnsPolicy` is None']] },
  { plural: 'pods', what: 'volumeMount to unknown volume', mut: (o) => (o.spec.containers[0].volumeMounts[0].name = 'nope'), want: [['spec.containers[0].volumeMounts[0].name', 'FieldValueNotFound', 'Not found: "nope"']] },
  { plural: 'pods', what: 'duplicate volume', mut: (o) => o.spec.volumes.push({ name: 'data', emptyDir: {} }), want: [['spec.volumes[1].name', 'FieldValueDuplicate', 'Duplicate value']] },
  { plural: 'pods', what: 'env name', mut: (o) => (o.spec.containers[0].env[0].name = '1BAD'), want: [['spec.containers[0].env[0].name', 'FieldValueInvalid', 'a valid environment variable name']] },
  { plural: 'pods', what: 'probe without handler', mut: (o) => (o.spec.containers[0].livenessProbe = { periodSeconds: 5 }), want: [['spec.containers[0].livenessProbe', 'FieldValueRequired', 'must specify a handler type']] },
  { plural: 'pods', what: 'liveness successThreshold', mut: (o) => (o.spec.containers[0].livenessProbe = { tcpSocket: { port: 80 }, successThreshold: 2 }), want: [['spec.containers[0].livenessProbe.successThreshold', 'FieldValueInvalid', 'must be 1']] },
  { plural: 'pods', what: 'bad quantity', mut: (o) => (o.spec.containers[0].resources.limits.cpu = 'lots'), want: [['spec.containers[0].resources.limits[cpu]', 'FieldValueInvalid', 'quantities must match the regular expression']] },
  { plural: 'pods', what: 'requests above limits', mut: (o) => (o.spec.containers[0].resources.requests.memory = '1Gi'), want: [['spec.containers[0].resources.requests', 'FieldValueInvalid', 'must be less than or equal to memory limit of 128Mi']] },
  { plural: 'pods', what: 'toleration Exists with value', mut: (o) => (o.spec.tolerations = [{ key: 'k', operator: 'Exists', value: 'v' }]), want: [['spec.tolerations[0].operator', 'FieldValueInvalid', "value must be empty when `operator` is 'Exists'"]] },
  { plural: 'pods', what: 'tolerationSeconds without NoExecute', mut: (o) => (o.spec.tolerations = [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }]), want: [['spec.tolerations[0].effect', 'FieldValueInvalid', "effect must be 'NoExecute'"]] },
  { plural: 'pods', what: 'activeDeadlineSeconds 0', mut: (o) => (o.spec.activeDeadlineSeconds = 0), want: [['spec.activeDeadlineSeconds', 'FieldValueInvalid', 'must be between 1 and 2147483647, inclusive']] },
  { plural: 'pods', what: 'containers not a list', mut: (o) => (o.spec.containers = { name: 'x' }), want: [['spec.containers', 'FieldValueTypeInvalid', 'must be of type array']] },
  { plural: 'pods', what: 'nodeSelector bad value', mut: (o) => (o.spec.nodeSelector = { zone: 'a b' }), want: [['spec.nodeSelector', 'FieldValueInvalid', 'a valid label']] },
  // services
  { plural: 'services', what: 'trafficDistribution', mut: (o) => (o.spec.trafficDistribution = 'PreferFar'), want: [['spec.trafficDistribution', 'FieldValueNotSupported', 'Unsupported value: "PreferFar": supported values: "PreferClose", "PreferSameZone", "PreferSameNode"']] },
  { plural: 'services', what: 'port out of range', mut: (o) => (o.spec.ports[0].port = 70000), want: [['spec.ports[0].port', 'FieldValueInvalid', 'Invalid value: 70000: must be between 1 and 65535, inclusive']] },
  { plural: 'services', what: 'port missing', mut: (o) => delete o.spec.ports[0].port, want: [['spec.ports[0].port', 'FieldValueInvalid', 'must be between 1 and 65535, inclusive']] },
  { plural: 'services', what: 'no ports', mut: (o) => (o.spec.ports = []), want: [['spec.ports', 'FieldValueRequired', 'Required value']] },
  { plural: 'services', what: 'port names required with >1 port', mut: (o) => delete o.spec.ports[1].name, want: [['spec.ports[1].name', 'FieldValueRequired', 'Required value']] },
  { plural: 'services', what: 'duplicate port names', mut: (o) => (o.spec.ports[1].name = 'http'), want: [['spec.ports[1].name', 'FieldValueDuplicate', 'Duplicate value: "http"']] },
  { plural: 'services', what: 'duplicate port+protocol', mut: (o) => (o.spec.ports[1].port = 80), want: [['spec.ports[1]', 'FieldValueDuplicate', 'Duplicate value']] },
  { plural: 'services', what: 'protocol', mut: (o) => (o.spec.ports[0].protocol = 'tcp'), want: [['spec.ports[0].protocol', 'FieldValueNotSupported', 'supported values: "SCTP", "TCP", "UDP"']] },
  { plural: 'services', what: 'targetPort out of range', mut: (o) => (o.spec.ports[0].targetPort = 65536), want: [['spec.ports[0].targetPort', 'FieldValueInvalid', 'must be between 1 and 65535, inclusive']] },
  { plural: 'services', what: 'targetPort bad name', mut: (o) => (o.spec.ports[0].targetPort = 'http--x'), want: [['spec.ports[0].targetPort', 'FieldValueInvalid', 'must not contain consecutive hyphens']] },
  { plural: 'services', what: 'targetPort name too long', mut: (o) => (o.spec.ports[0].targetPort = 'abcdefghijklmnop'), want: [['spec.ports[0].targetPort', 'FieldValueInvalid', 'must be no more than 15 characters']] },
  { plural: 'services', what: 'nodePort on ClusterIP', mut: (o) => (o.spec.ports[0].nodePort = 30080), want: [['spec.ports[0].nodePort', 'FieldValueForbidden', "may not be used when `type` is 'ClusterIP'"]] },
  { plural: 'services', what: 'type', mut: (o) => (o.spec.type = 'Magic'), want: [['spec.type', 'FieldValueNotSupported', 'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']] },
  { plural: 'services', what: 'bad clusterIP', mut: (o) => (o.spec.clusterIP = '10.96.0.300'), want: [['spec.clusterIPs[0]', 'FieldValueInvalid', 'must be a valid IP address']] },
  { plural: 'services', what: 'headless NodePort', mut: (o) => { o.spec.type = 'NodePort'; o.spec.clusterIP = 'None' }, want: [['spec.clusterIPs[0]', 'FieldValueInvalid', "may not be set to 'None' for NodePort services"]] },
  { plural: 'services', what: 'ExternalName without name', mut: (o) => { o.spec.type = 'ExternalName'; o.spec.ports = [] }, want: [['spec.externalName', 'FieldValueRequired', 'Required value']] },
  { plural: 'services', what: 'sessionAffinity', mut: (o) => (o.spec.sessionAffinity = 'Sticky'), want: [['spec.sessionAffinity', 'FieldValueNotSupported', 'supported values: "ClientIP", "None"']] },
  { plural: 'services', what: 'ClientIP timeout', mut: (o) => { o.spec.sessionAffinity = 'ClientIP'; o.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 100000 } } }, want: [['spec.sessionAffinityConfig.clientIP.timeoutSeconds', 'FieldValueInvalid', 'must be greater than 0 and less than 86400']] },
  { plural: 'services', what: 'externalTrafficPolicy on ClusterIP', mut: (o) => (o.spec.externalTrafficPolicy = 'Local'), want: [['spec.externalTrafficPolicy', 'FieldValueInvalid', 'may only be set for externally-accessible services']] },
  { plural: 'services', what: 'bad externalIP', mut: (o) => (o.spec.externalIPs = ['nope']), want: [['spec.externalIPs[0]', 'FieldValueInvalid', 'must be a valid IP address']] },
  { plural: 'services', what: 'selector value', mut: (o) => (o.spec.selector = { app: 'a b' }), want: [['spec.selector', 'FieldValueInvalid', 'a valid label']] },
  // loadBalancerSourceRanges (upstream keeps the Go field name's capital L in the path) and its annotation
  { plural: 'services', what: 'source range not a CIDR', mut: (o) => { o.spec.type = 'LoadBalancer'; o.spec.loadBalancerSourceRanges = ['10.0.0.0/8', 'x'] }, want: [['spec.LoadBalancerSourceRanges[1]', 'FieldValueInvalid', 'Invalid value: "x": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']] },
  { plural: 'services', what: 'source range without prefix', mut: (o) => { o.spec.type = 'LoadBalancer'; o.spec.loadBalancerSourceRanges = ['59.100.192.6'] }, want: [['spec.LoadBalancerSourceRanges[0]', 'FieldValueInvalid', 'Invalid value: "59.100.192.6": must be a valid CIDR value']] },
  { plural: 'services', what: 'source range padded and bad', mut: (o) => { o.spec.type = 'LoadBalancer'; o.spec.loadBalancerSourceRanges = [' 10.0.0.0/33 '] }, want: [['spec.LoadBalancerSourceRanges[0]', 'FieldValueInvalid', 'Invalid value: "10.0.0.0/33": must be a valid CIDR value']] },
  { plural: 'services', what: 'source ranges on ClusterIP', mut: (o) => (o.spec.loadBalancerSourceRanges = ['10.0.0.0/8']), want: [['spec.LoadBalancerSourceRanges', 'FieldValueForbidden', "may only be used when `type` is 'LoadBalancer'"]] },
  { plural: 'services', what: 'source-ranges annotation bad', mut: (o) => { o.spec.type = 'LoadBalancer'; o.metadata.annotations = { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8, nope' } }, want: [['metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]', 'FieldValueInvalid', 'Invalid value: "nope": must be a valid CIDR value']] },
  { plural: 'services', what: 'source-ranges annotation on NodePort', mut: (o) => { o.spec.type = 'NodePort'; o.metadata.annotations = { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8' } }, want: [['metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]', 'FieldValueForbidden', "may only be used when `type` is 'LoadBalancer'"]] },
  { plural: 'services', what: 'port as string', mut: (o) => (o.spec.ports[0].port = '80'), want: [['spec.ports[0].port', 'FieldValueInvalid', 'must be between 1 and 65535']] },
  // deployments
  { plural: 'deployments', what: 'selector mismatch', mut: (o) => (o.spec.template.metadata.labels = { app: 'other' }), want: [['spec.template.metadata.labels', 'FieldValueInvalid', '`selector` does not match template `labels`']] },
  { plural: 'deployments', what: 'no selector', mut: (o) => delete o.spec.selector, want: [['spec.selector', 'FieldValueRequired', 'Required value']] },
  { plural: 'deployments', what: 'empty selector', mut: (o) => (o.spec.selector = {}), want: [['spec.selector', 'FieldValueInvalid', 'empty selector is invalid for deployment']] },
  { plural: 'deployments', what: 'bad selector operator', mut: (o) => (o.spec.selector = { matchExpressions: [{ key: 'app', operator: 'Like', values: ['web'] }] }), want: [['spec.selector.matchExpressions[0].operator', 'FieldValueInvalid', 'not a valid selector operator']] },
  { plural: 'deployments', what: 'In without values', mut: (o) => (o.spec.selector = { matchExpressions: [{ key: 'app', operator: 'In' }] }), want: [['spec.selector.matchExpressions[0].values', 'FieldValueRequired', "must be specified when `operator` is 'In' or 'NotIn'"]] },
  { plural: 'deployments', what: 'negative replicas', mut: (o) => (o.spec.replicas = -1), want: [['spec.replicas', 'FieldValueInvalid', 'Invalid value: -1: must be greater than or equal to 0']] },
  { plural: 'deployments', what: 'strategy type', mut: (o) => (o.spec.strategy = { type: 'BlueGreen' }), want: [['spec.strategy.type', 'FieldValueNotSupported', 'supported values: "Recreate", "RollingUpdate"']] },
  { plural: 'deployments', what: 'Recreate with rollingUpdate', mut: (o) => (o.spec.strategy = { type: 'Recreate', rollingUpdate: { maxSurge: 1 } }), want: [['spec.strategy.rollingUpdate', 'FieldValueForbidden', "may not be specified when strategy `type` is 'Recreate'"]] },
  { plural: 'deployments', what: 'both zero', mut: (o) => (o.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } }), want: [['spec.strategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid', 'may not be 0 when `maxSurge` is 0']] },
  { plural: 'deployments', what: 'bad percent', mut: (o) => (o.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25' } }), want: [['spec.strategy.rollingUpdate.maxSurge', 'FieldValueInvalid', 'a valid percent string must be']] },
  { plural: 'deployments', what: 'maxUnavailable > 100%', mut: (o) => (o.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '150%' } }), want: [['spec.strategy.rollingUpdate.maxUnavailable', 'FieldValueInvalid', 'must not be greater than 100%']] },
  { plural: 'deployments', what: 'revisionHistoryLimit', mut: (o) => (o.spec.revisionHistoryLimit = -2), want: [['spec.revisionHistoryLimit', 'FieldValueInvalid', 'must be greater than or equal to 0']] },
  { plural: 'deployments', what: 'progressDeadline <= minReady', mut: (o) => { o.spec.minReadySeconds = 30; o.spec.progressDeadlineSeconds = 30 }, want: [['spec.progressDeadlineSeconds', 'FieldValueInvalid', 'must be greater than minReadySeconds']] },
  { plural: 'deployments', what: 'template restartPolicy', mut: (o) => (o.spec.template.spec.restartPolicy = 'Never'), want: [['spec.template.spec.restartPolicy', 'FieldValueNotSupported', 'Unsupported value: "Never": supported values: "Always"']] },
  { plural: 'deployments', what: 'template container image', mut: (o) => delete o.spec.template.spec.containers[0].image, want: [['spec.template.spec.containers[0].image', 'FieldValueRequired', 'Required value']] },
  { plural: 'deployments', what: 'template label value', mut: (o) => (o.spec.template.metadata.labels.tier = 'a b'), want: [['spec.template.metadata.labels', 'FieldValueInvalid', 'a valid label']] },
  { plural: 'replicasets', what: 'rs selector mismatch', mut: (o) => (o.spec.template.metadata.labels = { app: 'web' }), want: [['spec.template.metadata.labels', 'FieldValueInvalid', '`selector` does not match template `labels`']] },
  { plural: 'replicasets', what: 'rs without template', mut: (o) => delete o.spec.template, want: [['spec.template', 'FieldValueRequired', 'Required value']] },
  // endpoints, slices
  { plural: 'endpoints', what: 'bad IP', mut: (o) => (o.subsets[0].addresses[0].ip = '10.244.1'), want: [['subsets[0].addresses[0].ip', 'FieldValueInvalid', 'must be a valid IP address']] },
  { plural: 'endpoints', what: 'loopback IP', mut: (o) => (o.subsets[0].addresses[0].ip = '127.0.0.1'), want: [['subsets[0].addresses[0].ip', 'FieldValueInvalid', 'may not be in the loopback range']] },
  { plural: 'endpoints', what: 'port name required', mut: (o) => delete o.subsets[0].ports[1].name, want: [['subsets[0].ports[1].name', 'FieldValueRequired', 'Required value']] },
  { plural: 'endpoints', what: 'port range', mut: (o) => (o.subsets[0].ports[0].port = 0), want: [['subsets[0].ports[0].port', 'FieldValueInvalid', 'must be between 1 and 65535, inclusive']] },
  { plural: 'endpointslices', what: 'IPv6 address in IPv4 slice', mut: (o) => (o.endpoints[0].addresses = ['fd00::1']), want: [['endpoints[0].addresses[0]', 'FieldValueInvalid', 'must be a valid IPv4 address']] },
  { plural: 'endpointslices', what: 'no addresses', mut: (o) => (o.endpoints[0].addresses = []), want: [['endpoints[0].addresses', 'FieldValueRequired', 'must contain at least 1 address']] },
  { plural: 'endpointslices', what: 'addressType', mut: (o) => (o.addressType = 'IPv5'), want: [['addressType', 'FieldValueNotSupported', 'supported values: "FQDN", "IPv4", "IPv6"']] },
  { plural: 'endpointslices', what: 'duplicate port name', mut: (o) => o.ports.push({ name: 'http', port: 9090 }), want: [['ports[1].name', 'FieldValueDuplicate', 'Duplicate value']] },
  // configmaps, leases, nodes, namespaces
  { plural: 'configmaps', what: 'bad key', mut: (o) => (o.data = { 'a/b': 'x' }), want: [['data[a/b]', 'FieldValueInvalid', 'a valid config key must consist of alphanumeric characters']] },
  { plural: 'configmaps', what: 'dotdot key', mut: (o) => (o.data = { '..x': 'x' }), want: [['data[..x]', 'FieldValueInvalid', "must not start with '..'"]] },
  { plural: 'configmaps', what: 'key in data and binaryData', mut: (o) => (o.binaryData = { KEY_2: 'eA==' }), want: [['data[KEY_2]', 'FieldValueDuplicate', 'Duplicate value']] },
  { plural: 'configmaps', what: 'too big', mut: (o) => (o.data = { big: 'x'.repeat(1024 * 1024 + 1) }), want: [['', 'FieldValueTooLong', 'Too long']] },
  { plural: 'leases', what: 'zero duration', mut: (o) => (o.spec.leaseDurationSeconds = 0), want: [['spec.leaseDurationSeconds', 'FieldValueInvalid', 'must be greater than 0']] },
  { plural: 'leases', what: 'negative transitions', mut: (o) => (o.spec.leaseTransitions = -1), want: [['spec.leaseTransitions', 'FieldValueInvalid', 'must be greater than or equal to 0']] },
  { plural: 'leases', what: 'bad renewTime', mut: (o) => (o.spec.renewTime = 'yesterday'), want: [['spec.renewTime', 'FieldValueInvalid', 'RFC 3339']] },
  { plural: 'nodes', what: 'bad podCIDR', mut: (o) => { o.spec.podCIDR = '10.244.1.0/33'; o.spec.podCIDRs = ['10.244.1.0/33'] }, want: [['spec.podCIDR', 'FieldValueInvalid', 'must be a valid CIDR value']] },
  { plural: 'nodes', what: 'taint effect', mut: (o) => (o.spec.taints[0].effect = 'Maybe'), want: [['spec.taints[0].effect', 'FieldValueNotSupported', 'Unsupported value: "Maybe"']] },
  { plural: 'namespaces', what: 'status phase', mut: (o) => (o.status = { phase: 'Gone' }), want: [['status.phase', 'FieldValueNotSupported', 'supported values: "Active", "Terminating"']] },
]

t.test('invalid manifests: exact fields, reasons and messages', async (t) => {
  for (const c of cases) {
    const errs = validateCreate(res(c.plural), make(c.plural, c.mut))
    for (const [field, type, msg] of c.want) {
      const hit = errs.find((e) => e.field === field && e.type === type && e.message.includes(msg))
      t.ok(hit, `${c.plural}: ${c.what}: ${field} ${type} "${msg}"`, hit ? {} : { found: errs })
    }
  }
})

t.test('formatFieldErrors reproduces the kube-apiserver message', async (t) => {
  const one = validateCreate(res('services'), make('services', (o) => (o.spec.ports = [{ port: 70000, targetPort: 80 }])))
  t.equal(formatFieldErrors('Service', 'web', one), 'Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive')
  // targetPort defaults to port before validation, so k8s reports both (as kubectl shows it).
  const two = validateCreate(res('services'), make('services', (o) => { o.spec.ports = [{ port: 70000 }]; o.spec.type = 'Magic' }))
  t.equal(
    formatFieldErrors('Service', 'web', two),
    'Service "web" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]',
  )
  const dep = validateCreate(res('deployments'), make('deployments', (o) => (o.spec.template.metadata.labels = { app: 'x' })))
  t.equal(formatFieldErrors('Deployment.apps', 'web', dep), 'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`')
  t.same(toStatusCauses(one), [{ reason: 'FieldValueInvalid', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive', field: 'spec.ports[0].port' }])
  t.equal(formatFieldErrors('Pod', 'x', [...one, ...one]), `Pod "x" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive`, 'duplicates collapse')
})

t.test('loadBalancerSourceRanges: what upstream accepts', async (t) => {
  const lb = (mut: Mut) => validateCreate(res('services'), make('services', (o) => { o.spec.type = 'LoadBalancer'; mut(o) }))
  t.same(lb((o) => (o.spec.loadBalancerSourceRanges = ['10.0.0.0/8', ' 192.168.56.2/32 ', '2001:db8::/64'])), [], 'CIDRs, space-padded ones too')
  t.same(lb((o) => (o.metadata.annotations = { 'service.beta.kubernetes.io/load-balancer-source-ranges': ' 10.0.0.0/8,192.168.0.0/16 ' })), [], 'the annotation: comma-separated CIDRs')
  t.same(lb((o) => (o.metadata.annotations = { 'service.beta.kubernetes.io/load-balancer-source-ranges': ' ' })), [], 'an empty annotation')
  t.same(lb((o) => { o.spec.loadBalancerSourceRanges = ['10.0.0.0/8']; o.metadata.annotations = { 'service.beta.kubernetes.io/load-balancer-source-ranges': 'junk' } }), [], 'the field set: the annotation is not looked at')
  const errs = lb((o) => (o.spec.loadBalancerSourceRanges = ['x']))
  t.equal(formatFieldErrors('Service', 'web', errs), 'Service "web" is invalid: spec.LoadBalancerSourceRanges[0]: Invalid value: "x": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')
})

t.test('headless and ExternalName services need no ports', async (t) => {
  t.same(validateCreate(res('services'), make('services', (o) => { o.spec.clusterIP = 'None'; o.spec.ports = [] })), [])
  t.same(validateCreate(res('services'), make('services', (o) => { o.spec = { type: 'ExternalName', externalName: 'db.example.com' } })), [])
  t.same(validateCreate(res('services'), make('services', (o) => { o.spec.type = 'NodePort'; o.spec.ports[0].nodePort = 30080 })), [])
  t.same(validateCreate(res('services'), make('services', (o) => { o.spec.clusterIP = '10.96.0.10'; o.spec.clusterIPs = ['10.96.0.10'] })), [])
})

function upd(plural: string, mut: Mut, oldMut?: Mut): FieldError[] {
  const old = make(plural, oldMut)
  const next = structuredClone(old) as Record<string, unknown>
  mut(next)
  applyDefaults(res(plural), next as KubeObject)
  return validateUpdate(res(plural), next as KubeObject, old)
}

t.test('updates: immutable fields', async (t) => {
  const has = (errs: FieldError[], field: string, msg: string) => errs.some((e) => e.field === field && e.message.includes(msg))
  t.same(upd('deployments', (o) => (o.spec.replicas = 5)), [], 'replicas mutable')
  t.ok(has(upd('deployments', (o) => { o.spec.selector = { matchLabels: { app: 'web', tier: 'fe' } } }), 'spec.selector', 'field is immutable'))
  t.ok(has(upd('replicasets', (o) => { o.spec.selector.matchLabels.extra = 'x'; o.spec.template.metadata.labels.extra = 'x' }), 'spec.selector', 'field is immutable'))
  t.ok(has(upd('pods', (o) => (o.metadata.name = 'other')), 'metadata.name', 'field is immutable'))
  t.ok(has(upd('pods', (o) => (o.metadata.namespace = 'other')), 'metadata.namespace', 'field is immutable'))
  t.ok(has(upd('pods', (o) => (o.metadata.uid = 'b'), (o) => (o.metadata.uid = 'a')), 'metadata.uid', 'field is immutable'))
  t.same(upd('pods', (o) => (o.metadata.labels.extra = 'x')), [], 'pod labels mutable')

  // Service clusterIP
  t.same(upd('services', (o) => { o.spec.clusterIP = '10.96.0.20'; o.spec.clusterIPs = ['10.96.0.20'] }), [], "'' → set allowed (allocation)")
  t.ok(has(upd('services', (o) => { o.spec.clusterIP = '10.96.0.21'; o.spec.clusterIPs = ['10.96.0.21'] }, (o) => (o.spec.clusterIP = '10.96.0.20')), 'spec.clusterIP', 'field is immutable'))
  t.same(upd('services', (o) => (o.spec.ports[0].port = 81), (o) => (o.spec.clusterIP = '10.96.0.20')), [], 'ports mutable')
  t.same(upd('services', (o) => { o.spec = { type: 'ExternalName', externalName: 'x.example.com' } }, (o) => (o.spec.clusterIP = '10.96.0.20')), [], 'switch to ExternalName drops the IP')

  // Pods
  t.same(upd('pods', (o) => (o.spec.containers[0].image = 'nginx:1.26')), [], 'image mutable')
  t.same(upd('pods', (o) => o.spec.tolerations.push({ key: 'x', operator: 'Exists' })), [], 'adding a toleration allowed')
  t.same(upd('pods', (o) => (o.spec.activeDeadlineSeconds = 100)), [], 'setting activeDeadlineSeconds allowed')
  t.ok(has(upd('pods', (o) => (o.spec.activeDeadlineSeconds = 200), (o) => (o.spec.activeDeadlineSeconds = 100)), 'spec.activeDeadlineSeconds', 'must be less than or equal to previous value'))
  t.ok(has(upd('pods', (o) => (o.spec.tolerations = [])), 'spec.tolerations', 'existing toleration can not be modified'))
  t.ok(has(upd('pods', (o) => (o.spec.containers[0].ports[0].containerPort = 81)), 'spec', 'pod updates may not change fields other than `spec.containers[*].image`'))
  t.ok(has(upd('pods', (o) => (o.spec.nodeName = 'node-2')), 'spec', 'pod updates may not change fields'))
  t.ok(has(upd('pods', (o) => o.spec.containers.push({ name: 'b', image: 'b' })), 'spec', 'pod updates may not change fields'))

  // EndpointSlice addressType, ConfigMap immutable
  t.ok(has(upd('endpointslices', (o) => { o.addressType = 'IPv6'; o.endpoints = [{ addresses: ['fd00::5'] }] }), 'addressType', 'field is immutable'))
  t.same(upd('configmaps', (o) => (o.data.x = '1')), [])
  t.ok(has(upd('configmaps', (o) => (o.data.x = '1'), (o) => (o.immutable = true)), 'data', 'field is immutable when `immutable` is set'))
  // Node podCIDR: set once
  t.ok(has(upd('nodes', (o) => { o.spec.podCIDR = '10.244.2.0/24'; o.spec.podCIDRs = ['10.244.2.0/24'] }), 'spec.podCIDRs', 'node updates may not change podCIDR'))
  t.same(upd('nodes', (o) => { o.spec.podCIDR = '10.244.2.0/24'; o.spec.podCIDRs = ['10.244.2.0/24'] }, (o) => { delete o.spec.podCIDR; delete o.spec.podCIDRs }), [], '"" → set allowed')
  t.same(upd('nodes', (o) => (o.spec.unschedulable = true)), [], 'cordon allowed')
  // update still runs the create rules
  t.ok(has(upd('deployments', (o) => (o.spec.replicas = -3)), 'spec.replicas', 'must be greater than or equal to 0'))
})

t.test('status updates', async (t) => {
  const pod = make('pods')
  const next = structuredClone(pod) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  next.status = { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }], conditions: [{ type: 'Ready', status: 'True' }] }
  t.same(validateStatusUpdate(res('pods'), next as KubeObject, pod), [])
  next.status.podIP = '10.244.1.500'
  next.status.phase = 'Sleeping'
  next.status.conditions[0].status = 'Yes'
  const errs = validateStatusUpdate(res('pods'), next as KubeObject, pod)
  t.ok(errs.some((e) => e.field === 'status.podIP' && e.type === 'FieldValueInvalid'))
  t.ok(errs.some((e) => e.field === 'status.phase' && e.type === 'FieldValueNotSupported'))
  t.ok(errs.some((e) => e.field === 'status.conditions[0].status' && e.type === 'FieldValueNotSupported'))

  const rs = make('replicasets')
  const rs2 = structuredClone(rs) as Record<string, unknown>
  rs2.status = { replicas: 2, readyReplicas: 3, availableReplicas: 1 }
  const rsErrs = validateStatusUpdate(res('replicasets'), rs2 as KubeObject, rs)
  t.ok(rsErrs.some((e) => e.field === 'status.readyReplicas' && e.message.includes('cannot be greater than status.replicas')))
  rs2.status = { replicas: -1 }
  t.ok(validateStatusUpdate(res('replicasets'), rs2 as KubeObject, rs).some((e) => e.field === 'status.replicas'))
  const d = make('deployments')
  const d2 = structuredClone(d) as Record<string, unknown>
  d2.status = { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 }
  t.same(validateStatusUpdate(res('deployments'), d2 as KubeObject, d), [])
  const renamed = structuredClone(d2) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  renamed.metadata.name = 'other'
  t.ok(validateStatusUpdate(res('deployments'), renamed as KubeObject, d).some((e) => e.field === 'metadata.name'))
})

t.test('real upstream manifests are accepted as they are', async (t) => {
  for (const m of realManifests) {
    const o = m.obj() as KubeObject
    applyDefaults(res(m.plural), o)
    t.same(validateCreate(res(m.plural), o), [], `${m.plural}/${o.metadata.name}`)
    t.same(validateUpdate(res(m.plural), structuredClone(o), o), [], `${m.plural}/${o.metadata.name} unchanged update`)
  }
})

t.test('scale and binding subresources', async (t) => {
  t.same(validateScale({ spec: { replicas: 5 } }), [])
  t.same(validateScale({ spec: {} }), [])
  t.same(validateScale({ spec: { replicas: -1 } }).map((e) => [e.field, e.message]), [['spec.replicas', 'Invalid value: -1: must be greater than or equal to 0']])
  t.same(validateScale({ spec: { replicas: '3' } }).map((e) => e.type), ['FieldValueTypeInvalid'])
  t.same(validateBinding({ target: { kind: 'Node', name: 'node-1' } }), [])
  t.same(validateBinding({ target: { name: 'node-1' } }), [])
  t.same(validateBinding({ target: {} }).map((e) => [e.field, e.type]), [['target.name', 'FieldValueRequired']])
  t.same(validateBinding({ target: { kind: 'Pod', name: 'x' } }).map((e) => e.type), ['FieldValueNotSupported'])
  t.same(validateBinding({ target: { name: 'Node_1' } }).map((e) => e.type), ['FieldValueInvalid'])
  t.same(validateBinding(7).map((e) => e.type), ['FieldValueTypeInvalid'])
})
