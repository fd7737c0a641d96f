// The string checks of k8s.io/apimachinery/pkg/util/validation: each returns the list of problems
// (empty = valid) with the exact wording Kubernetes uses, so 422 messages read the same.
import ipaddr from 'ipaddr.js'

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?'
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?'
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'
const LABEL_VALUE = `(${QUALIFIED_NAME})?`
const CONFIG_KEY = '[-._a-zA-Z0-9]+'

const full = (re: string): RegExp => new RegExp(`^${re}$`)
const reDNS1123Label = full(DNS1123_LABEL)
const reDNS1123Subdomain = full(DNS1123_SUBDOMAIN)
const reDNS1035Label = full(DNS1035_LABEL)
const WILDCARD_DNS1123_SUBDOMAIN = `\\*\\.${DNS1123_SUBDOMAIN}`
const reWildcardDNS1123Subdomain = full(WILDCARD_DNS1123_SUBDOMAIN)
const reQualifiedName = full(QUALIFIED_NAME)
const reLabelValue = full(LABEL_VALUE)
const reConfigKey = full(CONFIG_KEY)

export const DNS1123_LABEL_MAX = 63
export const DNS1123_SUBDOMAIN_MAX = 253
export const QUALIFIED_NAME_MAX = 63
export const LABEL_VALUE_MAX = 63

function regexError(msg: string, re: string, ...examples: string[]): string {
  let s = `${msg} (`
  if (examples.length > 0) s += `e.g. ${examples.map((e) => `'${e}'`).join(',  or ')}, `
  return `${s}regex used for validation is '${re}')`
}

const maxLenError = (n: number): string => `must be no more than ${n} characters`

export function isDNS1123Label(v: string): string[] {
  const errs: string[] = []
  if (v.length > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX))
  if (!reDNS1123Label.test(v))
    errs.push(
      regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        DNS1123_LABEL,
        'my-name',
        '123-abc',
      ),
    )
  return errs
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = []
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX))
  if (!reDNS1123Subdomain.test(v))
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN,
        'example.com',
      ),
    )
  return errs
}

/** `*.` followed by a DNS-1123 subdomain: wildcard Ingress hosts and TLS hosts. */
export function isWildcardDNS1123Subdomain(v: string): string[] {
  const errs: string[] = []
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX))
  if (!reWildcardDNS1123Subdomain.test(v))
    errs.push(
      regexError(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
        WILDCARD_DNS1123_SUBDOMAIN,
        '*.example.com',
      ),
    )
  return errs
}

export function isDNS1035Label(v: string): string[] {
  const errs: string[] = []
  if (v.length > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX))
  if (!reDNS1035Label.test(v))
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL,
        'my-name',
        'abc-123',
      ),
    )
  return errs
}

/** Label and annotation keys: `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63. */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = []
  const parts = v.split('/')
  let name: string
  if (parts.length === 1) {
    name = parts[0]!
  } else if (parts.length === 2) {
    const prefix = parts[0]!
    name = parts[1]!
    if (prefix.length === 0) errs.push('prefix part must be non-empty')
    else for (const m of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${m}`)
  } else {
    return [
      regexError(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME,
        'MyName',
        'my.name',
        '123-abc',
      ) + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]
  }
  if (name.length === 0) errs.push('name part must be non-empty')
  else if (name.length > QUALIFIED_NAME_MAX) errs.push(`name part ${maxLenError(QUALIFIED_NAME_MAX)}`)
  if (name.length > 0 && !reQualifiedName.test(name))
    errs.push(
      regexError(
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME,
        'MyName',
        'my.name',
        '123-abc',
      ),
    )
  return errs
}

export function isValidLabelValue(v: string): string[] {
  const errs: string[] = []
  if (v.length > LABEL_VALUE_MAX) errs.push(maxLenError(LABEL_VALUE_MAX))
  if (!reLabelValue.test(v))
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE,
        'MyValue',
        'my_value',
        '12345',
      ),
    )
  return errs
}

export function isConfigMapKey(v: string): string[] {
  const errs: string[] = []
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX))
  if (!reConfigKey.test(v))
    errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", CONFIG_KEY, 'key.name', 'KEY_NAME', 'key-name'))
  if (v === '.') errs.push("must not be '.'")
  else if (v === '..') errs.push("must not be '..'")
  else if (v.startsWith('..')) errs.push("must not start with '..'")
  return errs
}

/** IANA_SVC_NAME (RFC 6335): named ports and targetPorts. */
export function isValidPortName(v: string): string[] {
  const errs: string[] = []
  if (v.length > 15) errs.push(maxLenError(15))
  if (!/^[-a-z0-9]+$/.test(v)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)')
  if (!/[a-z]/.test(v)) errs.push('must contain at least one letter (a-z)')
  if (v.includes('--')) errs.push('must not contain consecutive hyphens')
  if (v.startsWith('-') || v.endsWith('-')) errs.push('must not begin or end with a hyphen')
  return errs
}

export function isValidPortNum(n: unknown): string[] {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return ['must be between 1 and 65535, inclusive']
  return []
}

/** Strict dotted-quad IPv4 or IPv6 (no zone, no leading-zero octets, no shorthand like "10.1"). */
export function parseIP(v: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (typeof v !== 'string') return undefined
  if (ipaddr.IPv4.isValidFourPartDecimal(v)) {
    // Reject leading zeros ("010.0.0.1"), which Go's net.ParseIP refuses too.
    if (v.split('.').some((o) => o.length > 1 && o.startsWith('0'))) return undefined
    return ipaddr.IPv4.parse(v)
  }
  if (v.includes(':') && ipaddr.IPv6.isValid(v) && !v.includes('%')) return ipaddr.IPv6.parse(v)
  return undefined
}

export function isValidIP(v: string): string[] {
  return parseIP(v) ? [] : ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']
}

export function isValidIPv4(v: string): string[] {
  return parseIP(v)?.kind() === 'ipv4' ? [] : ['must be a valid IPv4 address']
}

export function isValidIPv6(v: string): string[] {
  return parseIP(v)?.kind() === 'ipv6' ? [] : ['must be a valid IPv6 address']
}

export function isValidCIDR(v: string): string[] {
  const i = typeof v === 'string' ? v.indexOf('/') : -1
  if (i < 0 || !parseIP(v.slice(0, i)) || !ipaddr.isValidCIDR(v)) return ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']
  return []
}

/** Endpoint addresses may not be special (k8s validateNonSpecialIP). */
export function nonSpecialIP(v: string): string[] {
  const ip = parseIP(v)
  if (!ip) return []
  const r = ip.range()
  if (r === 'unspecified') return [`may not be unspecified (${ip.kind() === 'ipv4' ? '0.0.0.0' : '::'})`]
  if (r === 'loopback') return ['may not be in the loopback range (127.0.0.0/8, ::1/128)']
  if (r === 'linkLocal') return ['may not be in the link-local range (169.254.0.0/16, fe80::/10)']
  if (r === 'multicast') return ['may not be in the multicast range (224.0.0.0/4, ff00::/8)']
  return []
}
