// Namespaces for tests: every name starts with a prefix unique to this test process, and
// everything is removed on teardown even when the test fails.
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { createNetns, deleteNetns, listNetns } from '../../src/net/netns.js'

/** Short (interface names are limited to 15 bytes) and unique per test process. */
export const RUN_PREFIX = `nk${randomBytes(2).toString('hex')}`

export async function withNetns(t: Test, suffix: string): Promise<string> {
  const name = `${RUN_PREFIX}-${suffix}`
  await createNetns(name)
  t.teardown(() => deleteNetns(name))
  return name
}

/** Remove every namespace this process created (belt and braces for a crashed test). */
export async function cleanupRunNamespaces(): Promise<void> {
  for (const ns of listNetns()) if (ns.startsWith(`${RUN_PREFIX}-`)) await deleteNetns(ns)
}
