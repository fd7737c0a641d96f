// The kubelet's runtime pieces against the real kernel: a sandbox wired by the reference
// bridge + host-local plugins (exec'd exactly as a runtime does), containers as processes in
// the pod namespace, graceful stop, exit codes, adoption by a restarted runtime, teardown.
import t from 'tap'
import { writeFileSync, mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { CniRuntime } from '../../src/kubelet/cni-runtime.js'
import { SandboxManager } from '../../src/kubelet/sandbox.js'
import { ProcessRuntime } from '../../src/kubelet/runtime.js'
import { LogRenderer } from '../../src/kubelet/cri-log.js'
import { resolveArgv } from '../../src/kubelet/images.js'
import { nsenterRun, netnsExists } from '../../src/net/netns.js'
import { RUN_PREFIX } from '../helpers/netns.js'
import { withCniNode } from '../helpers/cni-node.js'

async function httpFrom(netns: string, url: string): Promise<string> {
  const res = await nsenterRun(netns, process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then(r=>r.text()).then(b=>process.stdout.write(b))`], { allowFailure: true, timeoutMs: 5000 })
  return res.code === 0 ? res.stdout : `ERR ${res.stderr.split('\n')[0]}`
}

/** A log file as `kubectl logs` shows it (the CRI records rendered). */
const logText = (path: string): string => (existsSync(path) ? new LogRenderer({}).push(readFileSync(path)).toString('utf8') : '')

async function waitFor(fn: () => Promise<boolean>, ms = 10000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return false
}

t.test('sandbox + process runtime in real namespaces', async (t) => {
  const { netns: node, dir, confDir } = await withCniNode(t, '10.250.1.0/24')
  const cni = new CniRuntime({ binDirs: ['/usr/lib/cni'], confDir, cacheDir: join(dir, 'cache'), netns: node })
  const etcNetns = join(dir, 'etc-netns')
  const sandboxes = new SandboxManager({
    stateDir: dir,
    netnsPrefix: `${RUN_PREFIX}-p-`,
    cni,
    dns: { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolvConf: '/etc/resolv.conf' },
    etcNetnsDir: etcNetns,
  })
  const pod: Pod = { metadata: { name: 'web', namespace: 'default', uid: 'aaaa-bbbb-cccc-dddd' }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } }
  const sb = await sandboxes.ensure(pod)
  t.teardown(() => sandboxes.teardown(pod.metadata.uid!))
  t.match(sb.ip, /^10\.250\.1\.\d+$/, 'CNI ADD gave the pod an address from host-local')
  t.ok(netnsExists(sb.netns), 'pod namespace exists')
  t.match(readFileSync(join(etcNetns, sb.netns, 'resolv.conf'), 'utf8'), /nameserver 10\.96\.0\.10/)
  t.same(await sandboxes.ensure(pod), sb, 'ensure is idempotent')

  const runtime = new ProcessRuntime(join(dir, 'containers'))
  t.teardown(() => runtime.close())
  await runtime.start({
    id: 'web_c_0', podUid: pod.metadata.uid!, name: 'c', netns: sb.netns,
    argv: resolveArgv('agnhost', undefined, ['--http-port', '8080']),
    env: { PATH: process.env.PATH!, HOSTNAME: 'web' }, logPath: join(dir, 'c.log'), binds: [],
  })
  t.teardown(() => runtime.stop('web_c_0', 100))
  t.ok(await waitFor(async () => (await httpFrom(node, `http://${sb.ip}:8080/`)) === 'web'), 'the node reaches the container over the bridge and it answers its hostname')

  // A second runtime instance (a restarted kubelet) adopts the running process.
  const adopted = new ProcessRuntime(join(dir, 'containers'))
  t.teardown(() => adopted.close())
  t.equal(adopted.state('web_c_0')?.running, true, 'restarted runtime adopts the live container')

  // Exit codes and graceful stop.
  await runtime.start({
    id: 'web_x_0', podUid: pod.metadata.uid!, name: 'x', netns: sb.netns,
    argv: resolveArgv('busybox', ['sh', '-c', 'echo hello; exit 3'], undefined),
    env: { PATH: process.env.PATH! }, logPath: join(dir, 'x.log'), binds: [],
  })
  t.ok(await waitFor(async () => runtime.state('web_x_0')?.running === false), 'short-lived container exits')
  t.equal(runtime.state('web_x_0')?.exitCode, 3, 'exit code recorded')
  await runtime.logFlushed('web_x_0')
  t.equal(logText(join(dir, 'x.log')), 'hello\n', 'stdout captured in the log file')
  t.match(readFileSync(join(dir, 'x.log'), 'utf8'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z stdout F hello\n$/, 'written by the shim in the CRI format')
  t.notOk(runtime.logWriterAlive('web_x_0'), 'the shim exits at EOF')

  // emptyDir-style bind mount visible at mountPath inside the container only.
  const vol = join(dir, 'vol')
  mkdirSync(vol)
  writeFileSync(join(vol, 'data.txt'), 'shared')
  const target = join(dir, 'mnt-target')
  await runtime.start({
    id: 'web_v_0', podUid: pod.metadata.uid!, name: 'v', netns: sb.netns,
    argv: resolveArgv('busybox', ['cat', `${target}/data.txt`], undefined),
    env: { PATH: process.env.PATH! }, logPath: join(dir, 'v.log'), binds: [{ source: vol, target }],
  })
  t.ok(await waitFor(async () => runtime.state('web_v_0')?.running === false))
  await runtime.logFlushed('web_v_0')
  t.equal(logText(join(dir, 'v.log')), 'shared', 'volume mounted at its mountPath (no newline: the bytes come back as written)')
  t.same(readdirSync(target), [], 'the mount stayed private to the container')

  await runtime.start({
    id: 'web_t_0', podUid: pod.metadata.uid!, name: 't', netns: sb.netns,
    argv: resolveArgv('busybox', ['sh', '-c', 'trap "exit 0" TERM; echo trapped; while true; do sleep 0.1; done'], undefined),
    env: { PATH: process.env.PATH! }, logPath: join(dir, 't.log'), binds: [],
  })
  // Signal only once the shell has installed its trap.
  t.ok(await waitFor(async () => logText(join(dir, 't.log')).includes('trapped')))
  await runtime.stop('web_t_0', 3000)
  t.equal(runtime.state('web_t_0')?.exitCode, 0, 'SIGTERM honoured within the grace period')
  await runtime.start({
    id: 'web_k_0', podUid: pod.metadata.uid!, name: 'k', netns: sb.netns,
    argv: resolveArgv('busybox', ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'], undefined),
    env: { PATH: process.env.PATH! }, logPath: join(dir, 'k.log'), binds: [],
  })
  const t0 = Date.now()
  await runtime.stop('web_k_0', 300)
  t.equal(runtime.state('web_k_0')?.running, false, 'SIGKILL after the grace period')
  t.ok(Date.now() - t0 < 5000)

  await runtime.stop('web_c_0', 1000)
  await sandboxes.teardown(pod.metadata.uid!)
  t.notOk(netnsExists(sb.netns), 'teardown removed the pod namespace')
  t.same(readdirSync(join(dir, 'ipam', 'test')).filter((f) => /^\d/.test(f)), [], 'CNI DEL released the IP')
  t.notOk(existsSync(join(etcNetns, sb.netns)))
  await sandboxes.teardown(pod.metadata.uid!) // idempotent
})
