// The ServiceAccounts controller core as a table: which ServiceAccounts a namespace lacks.
import t from 'tap'
import { missingServiceAccounts } from '../../src/controllers/serviceaccounts-core.js'
import type { Namespace, ServiceAccount } from '../../src/api/types.js'

const ns = (name: string, extra: Partial<Namespace> = {}): Namespace => ({ metadata: { name }, status: { phase: 'Active' }, ...extra })
const sa = (name: string, namespace: string): ServiceAccount => ({ metadata: { name, namespace } })

t.test('missingServiceAccounts', async (t) => {
  const cases: [string, Namespace | undefined, ServiceAccount[], string[]][] = [
    ['new namespace', ns('a'), [], ['a/default']],
    ['already there', ns('a'), [sa('default', 'a')], []],
    ['other accounts do not count', ns('a'), [sa('builder', 'a')], ['a/default']],
    ['terminating: nothing (creates would be refused)', ns('a', { status: { phase: 'Terminating' } }), [], []],
    ['being deleted', ns('a', { metadata: { name: 'a', deletionTimestamp: '2026-01-01T00:00:00Z' } }), [], []],
    ['namespace gone', undefined, [], []],
  ]
  for (const [name, n, have, want] of cases) t.same(missingServiceAccounts(n, have).map((s) => `${s.metadata.namespace}/${s.metadata.name}`), want, name)
  t.same(missingServiceAccounts(ns('a'), [], ['default', 'builder']).map((s) => s.metadata.name), ['default', 'builder'])
  t.same(missingServiceAccounts(ns('a'), [])[0], { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'a' } })
})
