// A real runtime: Debian's podman 4.3 (CNI backend, runc) inside a node namespace runs two
// busybox containers on a network defined by netkube's conflist; they get addresses from
// netkube's IPAM, reach each other over TCP (busybox nc), and `podman rm` frees the addresses.
import t from 'tap'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withNetns } from '../helpers/netns.js'
import { commandPath, need } from '../helpers/prereq.js'
import { install } from '../../cni/install.js'
import { run } from '../../src/util/exec.js'

const skip = need('podman', 'runc', 'busybox')
// busybox-static (setup.sh's package for it): the rootfs is just this one binary
const BUSYBOX = commandPath('busybox') ?? '/bin/busybox'

t.test('podman runs two containers on a netkube network', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nkpod-'))
  const node = await withNetns(t, 'pmn')
  const bin = join(dir, 'bin')
  const confDir = join(dir, 'net.d')
  const dataDir = join(dir, 'ipam')
  const net = `nk${node.slice(2, 6)}net`
  install({ binDir: bin, confDir, name: net, subnet: '10.91.0.0/24', dataDir, isDefaultGateway: true, cniVersion: '1.0.0' })
  const confFile = join(dir, 'containers.conf')
  writeFileSync(
    confFile,
    [
      '[containers]',
      'default_ulimits = ["nofile=4096:4096","nproc=4096:4096"]',
      '[engine]',
      'runtime = "runc"',
      `tmp_dir = "${join(dir, 'tmp')}"`,
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${bin}", "/usr/lib/cni"]`,
      `network_config_dir = "${confDir}"`,
      '',
    ].join('\n'),
  )
  const env = { ...process.env, CONTAINERS_CONF: confFile }
  const podman = (args: string[], allowFailure = false) =>
    run('nsenter', [`--net=/run/netns/${node}`, 'podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs', ...args], {
      env,
      allowFailure,
      timeoutMs: 180_000,
    })
  t.teardown(async () => {
    await podman(['rm', '-f', '-a', '-t', '0'], true)
    await podman(['system', 'reset', '-f'], true)
    rmSync(dir, { recursive: true, force: true })
  })

  // a 2 MB busybox-static rootfs as localhost/busybox
  const rootfs = join(dir, 'rootfs')
  mkdirSync(join(rootfs, 'bin'), { recursive: true })
  for (const d of ['tmp', 'proc', 'sys', 'dev', 'etc']) mkdirSync(join(rootfs, d), { recursive: true })
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'))
  for (const applet of ['sh', 'nc', 'ip', 'sleep', 'echo', 'cat', 'hostname']) symlinkSync('busybox', join(rootfs, 'bin', applet))
  await run('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.'])
  await podman(['import', join(dir, 'rootfs.tar'), 'localhost/busybox'])

  const ipOf = async (name: string): Promise<string> =>
    (await podman(['inspect', name, '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`])).stdout.trim()

  await podman(['run', '-d', '--name', 'srv', '--network', net, 'localhost/busybox', 'sh', '-c', 'while true; do echo hello-from-srv | nc -l -p 8080; done'])
  await podman(['run', '-d', '--name', 'idle', '--network', net, 'localhost/busybox', 'sleep', '600'])
  const srvIp = await ipOf('srv')
  const idleIp = await ipOf('idle')
  t.match(srvIp, /^10\.91\.0\.\d+$/, `srv got ${srvIp} from netkube`)
  t.match(idleIp, /^10\.91\.0\.\d+$/, `idle got ${idleIp}`)
  t.not(srvIp, idleIp)
  const files = readdirSync(join(dataDir, net)).filter((f) => f.startsWith('10.'))
  t.same(files.sort(), [srvIp, idleIp].sort(), 'the addresses are netkube IPAM allocations')

  // idle → srv over TCP
  let reply = ''
  for (let i = 0; i < 20 && !reply.includes('hello-from-srv'); i++) {
    reply = (await podman(['exec', 'idle', 'sh', '-c', `nc -w 2 ${srvIp} 8080 </dev/null`], true)).stdout
    if (!reply.includes('hello-from-srv')) await new Promise((r) => setTimeout(r, 250))
  }
  t.match(reply, /hello-from-srv/, 'containers reach each other')

  await podman(['rm', '-f', '-t', '0', 'srv', 'idle'])
  t.same(readdirSync(join(dataDir, net)).filter((f) => f.startsWith('10.')), [], 'podman rm freed the addresses')
  const links = JSON.parse((await run('ip', ['-n', node, '-j', 'link', 'show', 'master', 'cni0'], { allowFailure: true })).stdout || '[]') as unknown[]
  t.equal(links.length, 0, 'no veths left on cni0')
})
