// What the CSR and join tests share: a real `netkube server` child (stopped with the test) and
// a poll that tolerates errors until its deadline.
import { spawn, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import { findResource } from '../../src/api/resources.js'
import { MAIN } from '../helpers/prereq.js'

export const CSRS = findResource('certificates.k8s.io', 'v1', 'certificatesigningrequests')!

/** `netkube server ARGS…`, resolved once it logs that it is ready; SIGTERM on teardown. */
export function startServer(t: Test, args: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, [MAIN, 'server', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn' } })
  let err = ''
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM')
      await new Promise((r) => p.once('exit', r))
    }
  })
  return new Promise((resolve, reject) => {
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      if (err.includes('netkube server ready')) resolve(p)
    })
    p.once('exit', (code) => reject(new Error(`server exited ${code} before ready: ${err.slice(-1500)}`)))
  })
}

/** Polls fn until it yields a value; errors count as "not yet". */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}
