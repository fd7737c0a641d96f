// test/helpers/prereq.ts: a missing prerequisite skips outside CI and fails under CI=true, with
// a message naming the thing and the setup step; setup.sh's own tables say what it provides.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { countTap } from '../../scripts/tap-count.js'
import { check, parseSetup, verdict, SETUP, type Addon, type Probe } from './prereq.js'
import { ROOT, runTap } from './tap-run.js'

const real = parseSetup(readFileSync(join(ROOT, SETUP), 'utf8'))

const probe = (o: { path?: string[]; addons?: Addon[]; files?: string[] } = {}): Probe => ({
  onPath: (c) => (o.path ?? []).includes(c),
  addon: (a) => (o.addons ?? []).includes(a),
  exists: (f) => (o.files ?? []).includes(f),
})

t.test('setup.sh: its NEED table and kubectl list, as read from the script', async (t) => {
  for (const [cmd, pkg] of [['podman', 'podman'], ['runc', 'runc'], ['busybox', 'busybox-static'], ['dig', 'bind9-dnsutils'], ['dnsperf', 'dnsperf'], ['openssl', 'openssl'], ['socat', 'socat'], ['etcd', 'etcd-server']]) {
    t.equal(real.packages.get(cmd), pkg, `${cmd} comes from ${pkg}`)
  }
  t.same(real.kubectlVersions, ['1.27', '1.33'])
  const fake = parseSetup('declare -A NEED=(\n  [a]=pkg-a [b]=pkg-b # [c]=commented\n  # [d]=pkg-d\n)\nKUBECTL_VERSIONS=(1.30)\n[e]=outside\n')
  t.same([...fake.packages], [['a', 'pkg-a'], ['b', 'pkg-b']], 'comments and lines outside the table are not entries')
  t.same(fake.kubectlVersions, ['1.30'])
})

t.test('check: each kind of prerequisite, present and absent', async (t) => {
  t.same(check('podman', probe({ path: ['podman'] }), real), {})
  t.same(check('podman', probe(), real), { absent: 'podman is not on PATH: scripts/setup.sh installs it (Debian package podman)' })
  t.same(check('frobnicate', probe({ path: ['frobnicate'] }), real), {
    undeclared: 'frobnicate is needed by a test but scripts/setup.sh does not install it: add it to the NEED table',
  })
  t.same(check('kubectl', probe({ path: ['kubectl'] }), real), {}, 'the dispatcher is checked by setup.sh, not installed')
  t.same(check('kubectl 1.27', probe({ files: ['/usr/lib/google-cloud-sdk/bin/kubectl.1.27'] }), real), {})
  t.match(check('kubectl 1.27', probe(), real), { absent: /^kubectl 1\.27 \(\/usr\/lib\/google-cloud-sdk\/bin\/kubectl\.1\.27\) is missing/ })
  t.match(check('kubectl 1.29', probe({ files: ['/usr/lib/google-cloud-sdk/bin/kubectl.1.29'] }), real), { undeclared: /add it to KUBECTL_VERSIONS/ })
  t.same(check('addon:setns', probe({ addons: ['setns'] }), real), {})
  t.match(check('addon:setns', probe(), real), { absent: /setns addon .* scripts\/setup\.sh builds it/ })
  t.match(check('addon:mmsg', probe(), real), { absent: /dns mmsg addon/ })
  t.match(check('addon:shim', probe(), real), { absent: /CNI shim .* compiles it/ })
  t.match(check('addon:nope', probe(), real), { absent: 'unknown prerequisite addon:nope' })
  t.match(check('build', probe(), real), { absent: /dist\/src\/cli\/main\.js is missing/ })
})

t.test('verdict: skip outside CI, fail under CI, nothing when all is there', async (t) => {
  const absent = { absent: 'podman is not on PATH' }
  t.same(verdict([{}, {}], false), { skip: false })
  t.same(verdict([{}, {}], true), { skip: false })
  t.same(verdict([absent, {}], false), { skip: 'missing prerequisite: podman is not on PATH' })
  t.same(verdict([absent, {}], true), {
    skip: 'missing prerequisite: podman is not on PATH',
    fail: 'CI=true: a missing prerequisite is a broken install, not a reason to skip: podman is not on PATH',
  })
  t.same(verdict([{ undeclared: 'x is not in NEED' }], false), { skip: false }, 'present but undeclared runs outside CI')
  t.match(verdict([{ undeclared: 'x is not in NEED' }], true), { skip: false, fail: /x is not in NEED/ }, '…and fails under CI')
})

// The real thing: tap on a file that needs podman, with podman off PATH.
t.test('podman off PATH: a listed skip outside CI, a named failure under CI=true', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'netkube-nopath-'))
  t.teardown(() => rmSync(empty, { recursive: true, force: true }))
  const file = 'test/helpers/fixtures/needs-podman.fixture.ts'
  const reason = 'podman is not on PATH: scripts/setup.sh installs it (Debian package podman)'

  const local = await runTap(file, { PATH: empty, CI: undefined })
  t.equal(local.code, 0, 'outside CI the run stays green')
  const l = countTap([local.stdout])
  t.same({ pass: l.pass, fail: l.fail, skip: l.skip }, { pass: 1, fail: 0, skip: 1 }, 'the other test still runs', { stdout: local.stdout })
  t.same(l.notPassed.map((p) => `${p.name} # ${p.reason}`), [`${file} > runs a container # missing prerequisite: ${reason}`])

  const ci = await runTap(file, { PATH: empty, CI: 'true' })
  t.not(ci.code, 0, 'under CI=true the run is red')
  const c = countTap([ci.stdout])
  t.equal(c.fail, 1, 'one failure', { stdout: ci.stdout })
  t.equal(c.pass, 1, 'the test that needs nothing still runs')
  const failed = c.notPassed.filter((p) => p.outcome === 'fail').map((p) => p.name)
  t.same(failed, [`${file} > CI=true: a missing prerequisite is a broken install, not a reason to skip: ${reason}`])
})
