// ConfigMap/Secret volumes: which files (projectData, a table) and how they land on disk
// (writeAtomic: the ..data symlink swap, item subdirectories, removed keys, modes). No root.
import t from 'tap'
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectData, VolumeError, writeAtomic, secretBytes } from '../../src/kubelet/volumes.js'

const b = (s: string) => Buffer.from(s)

t.test('projectData', async (t) => {
  const data = { user: b('admin'), pass: b('s3cr3t') }
  t.same(projectData({ kind: 'secret', name: 's' }, data).map((f) => [f.path, f.data.toString(), f.mode.toString(8)]), [['pass', 's3cr3t', '644'], ['user', 'admin', '644']])
  t.same(
    projectData({ kind: 'secret', name: 's', defaultMode: 0o400, items: [{ key: 'user', path: 'db/user' }, { key: 'pass', path: 'db/pass', mode: 0o600 }] }, data).map((f) => [f.path, f.mode.toString(8)]),
    [['db/pass', '600'], ['db/user', '400']],
    'items pick and rename keys; item mode beats defaultMode',
  )
  t.throws(() => projectData({ kind: 'secret', name: 's' }, undefined), new VolumeError('secret "s" not found'))
  t.same(projectData({ kind: 'secret', name: 's', optional: true }, undefined), [], 'optional and missing: empty volume')
  t.throws(() => projectData({ kind: 'configmap', name: 'c', items: [{ key: 'nope', path: 'x' }] }, data), new VolumeError('configmap references non-existent config key: nope'))
  t.throws(() => projectData({ kind: 'secret', name: 's', items: [{ key: 'nope', path: 'x' }] }, data), new VolumeError('secret references non-existent secret key: nope'))
  t.same(projectData({ kind: 'secret', name: 's', optional: true, items: [{ key: 'nope', path: 'x' }, { key: 'user', path: 'u' }] }, data).map((f) => f.path), ['u'])
  t.throws(() => projectData({ kind: 'secret', name: 's', items: [{ key: 'user', path: '../escape' }] }, data), { message: 'invalid path "../escape": must be relative and may not contain \'..\'' })
  t.same(secretBytes({ data: { a: 'aGVsbG8=' } }).a!.toString(), 'hello')
})

t.test('writeAtomic: symlink layout, in-place update, removed keys, subdirectories', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-vol-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const f = (path: string, data: string, mode = 0o644) => ({ path, data: b(data), mode })

  t.equal(writeAtomic(dir, [f('user', 'admin'), f('db/pass', 'one', 0o400)]), true)
  const first = readlinkSync(join(dir, '..data'))
  t.match(first, /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$/)
  t.equal(readlinkSync(join(dir, 'user')), '..data/user')
  t.equal(readlinkSync(join(dir, 'db')), '..data/db', 'an item subdirectory is reached through one top-level link')
  t.equal(readFileSync(join(dir, 'db/pass'), 'utf8'), 'one')
  t.equal(statSync(join(dir, 'db/pass')).mode & 0o777, 0o400)

  t.equal(writeAtomic(dir, [f('user', 'admin'), f('db/pass', 'one', 0o400)]), false, 'same content: nothing rewritten')
  t.equal(readlinkSync(join(dir, '..data')), first)

  t.equal(writeAtomic(dir, [f('db/pass', 'two', 0o400), f('token', 'xyz')]), true)
  const second = readlinkSync(join(dir, '..data'))
  t.not(second, first, '..data points at a new payload')
  t.equal(readFileSync(join(dir, 'db/pass'), 'utf8'), 'two', 'the same path shows the new content')
  t.equal(readFileSync(join(dir, 'token'), 'utf8'), 'xyz', 'a new key appears')
  t.throws(() => lstatSync(join(dir, 'user')), 'a removed key disappears')
  t.same(readdirSync(dir).sort(), ['..data', second, 'db', 'token'].sort(), 'the old payload is gone')

  t.equal(writeAtomic(dir, []), true)
  t.same(readdirSync(dir).filter((e) => !e.startsWith('..')), [], 'emptied')
})
