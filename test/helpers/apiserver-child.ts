// An apiserver as a child process of `netkube apiserver` (from dist/) so a test can kill -9
// it. With `shareFrom` (another apiserver's state dir) it gets that one's CA and tokens seeded
// into its own state dir, so one kubeconfig reaches every server (an HA control plane's
// servers share their PKI). Removed on teardown.
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { MAIN } from './prereq.js'

export interface ApiServerChild {
  url: string
  pid: number
  /** Its own admin kubeconfig. */
  kubeconfigPath: string
  /** Resolves with how it ended (SIGKILL). */
  kill9(): Promise<NodeJS.Signals | number | null>
}

export interface ApiServerChildOptions {
  etcd: string
  host: string
  port: number
  /** State dir of an apiserver whose CA and tokens this one shares. */
  shareFrom?: string
  extraArgs?: string[]
}

export async function startApiServerChild(t: Test, o: ApiServerChildOptions): Promise<ApiServerChild> {
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-apichild-'))
  if (o.shareFrom) {
    mkdirSync(join(stateDir, 'pki'), { mode: 0o700 })
    for (const f of ['ca.key', 'ca.crt']) copyFileSync(join(o.shareFrom, 'pki', f), join(stateDir, 'pki', f))
    copyFileSync(join(o.shareFrom, 'tokens.csv'), join(stateDir, 'tokens.csv'))
  }
  const args = ['apiserver', '--etcd-servers', o.etcd, '--state-dir', stateDir, '--bind-address', o.host, '--secure-port', String(o.port), ...(o.extraArgs ?? []), '--v', 'warn']
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<NodeJS.Signals | number | null>((r) => p.on('exit', (code, sig) => r(sig ?? code)))
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    await exited
    rmSync(stateDir, { recursive: true, force: true })
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('kubeconfig:')) resolve()
    })
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    void exited.then((e) => reject(new Error(`apiserver exited (${e}): ${out}`)))
  })
  return {
    url: `https://${o.host}:${o.port}`,
    pid: p.pid!,
    kubeconfigPath: join(stateDir, 'admin.kubeconfig'),
    kill9: async () => {
      p.kill('SIGKILL')
      return exited
    },
  }
}
