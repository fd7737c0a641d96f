// A real etcd per test file, on free loopback ports, in a temp dir, stopped on teardown.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startEtcd, type EtcdProcess } from '../../src/etcd/process.js'

export async function withEtcd(t: Test, opts: { autoCompactionRevisions?: number } = {}): Promise<EtcdProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-etcd-'))
  const etcd = await startEtcd({ dataDir: dir, ...opts })
  t.teardown(async () => {
    await etcd.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return etcd
}
