// A real apiserver and a real kubelet (HTTPS with the apiserver's kubelet-client identity, pods
// in real namespaces on a CNI node) for the streaming verbs' kubectl tests, and a kubectl runner
// that keeps stdout as bytes (exec -i round-trips binary data).
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { processAlive } from '../../src/util/proc.js'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { issueKubeletServingCert } from '../../src/apiserver/certs.js'
import { startKubelet } from '../../src/kubelet/kubelet.js'
import { startScheduler } from '../../src/scheduler/scheduler.js'
import { withApiServer, type TestApiServerOptions } from './apiserver.js'
import { RUN_PREFIX } from './netns.js'
import { withCniNode } from './cni-node.js'
import { kubectlPath } from './prereq.js'
import { freePort } from '../../src/util/ports.js'

export interface Out {
  code: number
  stdout: Buffer
  stderr: string
}

export function kubectl(v: string, kubeconfig: string, args: string[], input?: Buffer, timeoutMs = 60_000): Promise<Out> {
  return new Promise((resolve, reject) => {
    // 'dispatcher': the machine's `kubectl`, which picks a bundled client from GET /version.
    const c = spawn(v === 'dispatcher' ? 'kubectl' : kubectlPath(v), ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs)
    c.stdout.on('data', (d: Buffer) => out.push(d))
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    c.on('error', reject)
    c.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err })
    })
    c.stdin.on('error', () => {})
    c.stdin.end(input ?? Buffer.alloc(0))
  })
}


/** Every container process and log shim the kubelet's records (runtime.ts) name, by PID and start time. */
function containerProcesses(dir: string): { what: string; pid: number; startTicks: string }[] {
  const out: { what: string; pid: number; startTicks: string }[] = []
  let files: string[] = []
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch {
    return out
  }
  for (const f of files) {
    try {
      const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { name?: string; pid?: number; startTicks?: string; shim?: { pid: number; startTicks: string } }
      if (rec.pid && rec.startTicks) out.push({ what: `container ${rec.name ?? f}`, pid: rec.pid, startTicks: rec.startTicks })
      if (rec.shim?.pid && rec.shim.startTicks) out.push({ what: `log shim of ${rec.name ?? f}`, pid: rec.shim.pid, startTicks: rec.shim.startTicks })
    } catch {
      // a record being rewritten: the next one names the same process
    }
  }
  return out
}

/**
 * `kubectl VERSION port-forward TARGET LOCAL:REMOTE` on a free local port, resolved once kubectl
 * says it is forwarding (rejected if it exits first); killed at teardown. `stderr()` is what it
 * has printed so far (the kubelet's errors arrive there).
 */
export async function portForward(t: Test, v: string, kubeconfig: string, target: string, remotePort: number): Promise<{ port: number; stderr: () => string; stop: () => void }> {
  const port = await freePort()
  const pf = spawn(kubectlPath(v), ['--kubeconfig', kubeconfig, 'port-forward', target, `${port}:${remotePort}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  pf.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const stop = (): void => void pf.kill('SIGKILL')
  t.teardown(stop)
  await new Promise<void>((resolve, reject) => {
    pf.stdout.setEncoding('utf8').on('data', (d: string) => d.includes('Forwarding from') && resolve())
    pf.on('close', () => reject(new Error(`port-forward exited: ${err}`)))
  })
  return { port, stderr: () => err, stop }
}

/** The apiserver (with the scheduler if asked) and one kubelet `n1` on a CNI node with pod range `podCIDR`; namespaces prefixed `<run>-<tag>-`. */
export async function streamRig(t: Test, podCIDR = '10.250.9.0/24', tag = 's', opts: { scheduler?: boolean; apiserver?: TestApiServerOptions } = {}) {
  const api = await withApiServer(t, opts.apiserver)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const { netns: node, dir, confDir } = await withCniNode(t, podCIDR)
  const serving = await issueKubeletServingCert(join(api.stateDir, 'pki'), join(dir, 'kubelet-pki'), 'n1', ['127.0.0.1'])
  const k = await startKubelet({
    client,
    nodeName: 'n1',
    // The apiserver dials the Node's InternalIP: the kubelet listens on loopback here.
    nodeIP: '127.0.0.1',
    stateDir: join(dir, 'kubelet'),
    netnsPrefix: `${RUN_PREFIX}-${tag}-`,
    cniBinDirs: ['/usr/lib/cni'],
    cniConfDir: confDir,
    cniNetns: node,
    clusterDNS: ['10.96.0.10'],
    port: 0,
    listenHost: '127.0.0.1',
    syncIntervalMs: 200,
    tls: { certPem: serving.certPem, keyPem: serving.keyPem, clientCaPem: api.caPem },
  })
  // Teardown stops every container and checks it: a container process (or its log shim) that
  // outlives the kubelet's killPods fails the test — and is killed here, so nothing leaks.
  const records = join(dir, 'kubelet', 'containers')
  t.teardown(async () => {
    const procs = containerProcesses(records)
    await k.stop({ killPods: true }).catch(() => {})
    const deadline = Date.now() + 5000
    let left = procs.filter((p) => processAlive(p.pid, p.startTicks))
    while (left.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      left = left.filter((p) => processAlive(p.pid, p.startTicks))
    }
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
    if (left.length) throw new Error(`container processes survived the kubelet's killPods: ${left.map((p) => `${p.what} pid ${p.pid}`).join(', ')}`)
  })
  // Pods without a nodeName (kubectl run) need the real scheduler to reach n1.
  if (opts.scheduler) {
    const sched = await startScheduler({ client, retryPeriodMs: 1000 })
    t.teardown(() => sched.stop())
  }
  const pods = client.resource<Pod>(resourceFor('pods'), 'default')
  return { api, client, pods, kubelet: k }
}

