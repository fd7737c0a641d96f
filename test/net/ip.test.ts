// src/net/ip.ts, the one module for address and CIDR maths: tables of inputs → results,
// with the edges (/0, /31, /32, host bits set, IPv6, malformed text).
import t from 'tap'
import ipaddr from 'ipaddr.js'
import {
  bigIntToIp,
  canonicalCidr,
  cidrContains,
  cidrContainsCidr,
  cidrSize,
  compareIp,
  formatIp4Net,
  hostRange,
  intToIp4,
  ip4AlignedTo,
  ip4BlockSize,
  ip4NetContains,
  ip4NetContainsNet,
  ip4ToInt,
  ipToBigInt,
  isIp,
  isIp4,
  networkOf,
  broadcastOf,
  nthAddress,
  parseCidr,
  parseIp4Net,
  parseNetwork,
} from '../../src/net/ip.js'

t.test('parseCidr: accepted forms, normalised; malformed ones named', async (t) => {
  t.same(parseCidr('10.244.1.5/24'), { ip: '10.244.1.5', prefix: 24, family: 4 }, 'host bits kept as written')
  t.same(parseCidr('0.0.0.0/0'), { ip: '0.0.0.0', prefix: 0, family: 4 })
  t.same(parseCidr('fd00:0:0::1/64'), { ip: 'fd00::1', prefix: 64, family: 6 }, 'IPv6 normalised')
  t.same(parseCidr('::/128'), { ip: '::', prefix: 128, family: 6 })
  const bad: [string, RegExp][] = [
    ['10.0.0.0', /missing \/prefix/],
    ['10.0.0.0/', /bad prefix/],
    ['10.0.0.0/33', /bad prefix/],
    ['10.0.0.0/ 24', /bad prefix/],
    ['10.0.0.0/2a', /bad prefix/],
    ['fd00::/129', /bad prefix/],
    ['10.0.0/8', /bad address/],
    ['010.0.0.0/8', /bad address/],
    ['10.0.0.256/24', /bad address/],
    ['/24', /bad address/],
  ]
  for (const [text, msg] of bad) t.throws(() => parseCidr(text), msg, text)
  t.same(parseNetwork('10.5.0.0/16'), { ip: '10.5.0.0', prefix: 16, family: 4 })
  t.throws(() => parseNetwork('10.5.1.7/16'), /host bits set/)
  t.throws(() => parseNetwork('fd00::1/64'), /host bits set/)
  t.equal(parseNetwork('10.5.1.7/32').ip, '10.5.1.7', '/32: every bit is network')
})

t.test('network, broadcast, size, hosts: every prefix edge', async (t) => {
  const rows: [string, string, string, bigint, string, string][] = [
    // cidr, network, last (broadcast), size, first host, last host
    ['10.244.1.5/24', '10.244.1.0', '10.244.1.255', 256n, '10.244.1.1', '10.244.1.254'],
    ['10.96.0.0/12', '10.96.0.0', '10.111.255.255', 1n << 20n, '10.96.0.1', '10.111.255.254'],
    ['10.0.0.7/30', '10.0.0.4', '10.0.0.7', 4n, '10.0.0.5', '10.0.0.6'],
    ['10.0.0.7/31', '10.0.0.6', '10.0.0.7', 2n, '10.0.0.6', '10.0.0.7'],
    ['10.0.0.7/32', '10.0.0.7', '10.0.0.7', 1n, '10.0.0.7', '10.0.0.7'],
    ['192.168.3.4/0', '0.0.0.0', '255.255.255.255', 1n << 32n, '0.0.0.1', '255.255.255.254'],
    ['fd00::1:2/64', 'fd00::', 'fd00::ffff:ffff:ffff:ffff', 1n << 64n, 'fd00::1', 'fd00::ffff:ffff:ffff:ffff'],
    ['fd00::5/127', 'fd00::4', 'fd00::5', 2n, 'fd00::4', 'fd00::5'],
    ['fd00::5/128', 'fd00::5', 'fd00::5', 1n, 'fd00::5', 'fd00::5'],
    ['::1/0', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 1n << 128n, '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ]
  for (const [text, net, last, size, first, lastHost] of rows) {
    const c = parseCidr(text)
    t.same(
      { net: networkOf(c), last: broadcastOf(c), size: cidrSize(c), hosts: hostRange(c) },
      { net, last, size, hosts: { first, last: lastHost } },
      text,
    )
  }
  t.equal(canonicalCidr('10.244.1.5/24'), '10.244.1.0/24')
  t.equal(canonicalCidr('fd00::1:2/64'), 'fd00::/64')
})

t.test('nthAddress counts from the network address and refuses to leave the block', async (t) => {
  const svc = parseCidr('10.96.0.0/12')
  t.equal(nthAddress(svc, 1), '10.96.0.1', 'the kubernetes Service')
  t.equal(nthAddress(svc, 10), '10.96.0.10', 'cluster DNS')
  t.equal(nthAddress(parseCidr('10.96.5.7/24'), 1), '10.96.5.1', 'host bits of the text do not shift it')
  t.equal(nthAddress(svc, (1n << 20n) - 1n), '10.111.255.255', 'last address')
  t.throws(() => nthAddress(svc, 1n << 20n), RangeError, 'one past the end')
  t.throws(() => nthAddress(svc, -1), RangeError)
  t.equal(nthAddress(parseCidr('10.0.0.9/32'), 0), '10.0.0.9')
  t.throws(() => nthAddress(parseCidr('10.0.0.9/32'), 1), RangeError)
  t.equal(nthAddress(parseCidr('fd00::/64'), 10), 'fd00::a')
  t.equal(nthAddress(parseCidr('0.0.0.0/0'), 0xffffffff), '255.255.255.255')
})

t.test('containment: family, prefix, boundaries', async (t) => {
  const net = parseCidr('10.244.0.0/16')
  const rows: [string, boolean][] = [
    ['10.244.0.0', true],
    ['10.244.255.255', true],
    ['10.245.0.0', false],
    ['10.243.255.255', false],
    ['::ffff:10.244.0.1', false],
  ]
  for (const [ip, want] of rows) t.equal(cidrContains(net, ip), want, ip)
  t.ok(cidrContains(parseCidr('0.0.0.0/0'), '255.255.255.255'), '/0 holds everything of its family')
  t.notOk(cidrContains(parseCidr('0.0.0.0/0'), '::1'), 'but not the other family')
  t.ok(cidrContains(parseCidr('fd00::/8'), 'fdff::1'))
  t.ok(cidrContainsCidr(net, parseCidr('10.244.3.0/24')))
  t.ok(cidrContainsCidr(net, net), 'itself')
  t.notOk(cidrContainsCidr(parseCidr('10.244.3.0/24'), net), 'a shorter prefix is never inside')
  t.notOk(cidrContainsCidr(net, parseCidr('10.245.0.0/24')))
})

t.test('addresses: strict dotted quad, agreeing with ipaddr.js; order; int round trips', async (t) => {
  const rows: [string, boolean][] = [
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['10.96.0.10', true],
    ['256.0.0.0', false],
    ['1.2.3', false],
    ['1.2.3.4.5', false],
    ['01.2.3.4', false],
    ['1.2.3.00', false],
    ['1..2.3', false],
    ['1.2.3.', false],
    ['.1.2.3', false],
    [' 1.2.3.4', false],
    ['1.2.3.4/8', false],
    ['1234.1.1.1', false],
    ['0x1.1.1.1', false],
    ['', false],
    ['::1', false],
  ]
  for (const [s, want] of rows) {
    t.equal(isIp4(s), want, JSON.stringify(s))
    t.equal(isIp4(s), ipaddr.IPv4.isValidFourPartDecimal(s), `${JSON.stringify(s)}: same verdict as ipaddr.js`)
  }
  t.ok(isIp('fd00::1') && isIp('10.0.0.1') && !isIp('10.1') && !isIp('fd00:::1'))
  t.equal(ip4ToInt('10.111.255.254'), 0x0a6ffffe)
  t.equal(ip4ToInt('255.255.255.255'), 0xffffffff, 'unsigned, never negative')
  t.equal(intToIp4(0xffffffff), '255.255.255.255')
  t.equal(intToIp4(ip4ToInt('10.111.255.254')), '10.111.255.254')
  t.throws(() => ip4ToInt('10.1.1'), /invalid IPv4/)
  t.throws(() => ip4ToInt('fd00::1'), /invalid IPv4/)
  t.throws(() => intToIp4(2 ** 32), RangeError)
  t.throws(() => intToIp4(-1), RangeError)
  t.throws(() => bigIntToIp(1n << 128n, 6), RangeError)
  t.equal(ipToBigInt('fd00::1'), (0xfdn << 120n) | 1n)
  const sorted = ['10.0.0.10', 'fd00::1', '10.0.0.9', '9.255.255.255', '::1', '10.0.0.10'].sort(compareIp)
  t.same(sorted, ['9.255.255.255', '10.0.0.9', '10.0.0.10', '10.0.0.10', '::1', 'fd00::1'], 'numeric, not lexical; IPv4 first')
})

t.test('Ip4Net: numeric IPv4 networks for subnet stepping', async (t) => {
  t.same(parseIp4Net('10.5.0.0/16'), { ip: ip4ToInt('10.5.0.0'), prefix: 16 })
  t.throws(() => parseIp4Net('10.5.0.7/16'), /host bits set/)
  t.same(parseIp4Net('10.5.0.7/16', true), parseIp4Net('10.5.0.0/16'), 'loose clears host bits')
  t.throws(() => parseIp4Net('fd00::/64'), /not IPv4/)
  t.throws(() => parseIp4Net('10.5.0.0/33'), /bad prefix/)
  t.equal(formatIp4Net(parseIp4Net('0.0.0.0/0')), '0.0.0.0/0')
  t.equal(formatIp4Net(parseIp4Net('255.255.255.255/32')), '255.255.255.255/32')
  t.same([0, 8, 24, 31, 32].map(ip4BlockSize), [2 ** 32, 2 ** 24, 256, 2, 1])
  t.equal(ip4AlignedTo(ip4ToInt('10.5.3.77'), 24), ip4ToInt('10.5.3.0'))
  t.equal(ip4AlignedTo(ip4ToInt('255.255.255.255'), 0), 0, '/0 aligns everything to 0')
  t.equal(ip4AlignedTo(ip4ToInt('255.255.255.255'), 32), 0xffffffff)
  const net = parseIp4Net('10.5.0.0/16')
  t.ok(ip4NetContains(net, ip4ToInt('10.5.255.255')))
  t.notOk(ip4NetContains(net, ip4ToInt('10.6.0.0')))
  t.ok(ip4NetContains(parseIp4Net('0.0.0.0/0'), 0xffffffff))
  t.ok(ip4NetContainsNet(net, parseIp4Net('10.5.7.0/24')))
  t.notOk(ip4NetContainsNet(parseIp4Net('10.5.7.0/24'), net))
  t.notOk(ip4NetContainsNet(net, parseIp4Net('10.6.7.0/24')))
})
