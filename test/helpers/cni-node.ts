// A node for kubelet tests: a namespace of its own and a temp dir with a CNI config for the
// reference bridge + host-local plugins (exec'd inside that namespace), removed on teardown.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { withNetns } from './netns.js'

export interface CniNode {
  /** The node's network namespace (where cni0 is made). */
  netns: string
  /** A temp dir for the test's state; `confDir` and the IPAM store (`ipam/`) are in it. */
  dir: string
  confDir: string
}

export async function withCniNode(t: Test, subnet: string): Promise<CniNode> {
  const netns = await withNetns(t, 'kn')
  const dir = mkdtempSync(join(tmpdir(), 'nk-kubelet-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const confDir = join(dir, 'net.d')
  mkdirSync(confDir)
  writeFileSync(
    join(confDir, '10-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'test',
      plugins: [{ type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet, dataDir: join(dir, 'ipam') } }],
    }),
  )
  return { netns, dir, confDir }
}
