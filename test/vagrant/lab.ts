// npm run test:vagrant — the Vagrant lab on this machine, for real (issue #17). Not part of
// `npm test`: it boots three Debian VMs under QEMU's TCG and takes many minutes.
//   1. the offline box (vagrant/box/build.sh; cached, rebuilt when its recipe changes)
//   2. libvirtd + virtlogd + vagrant inside nk<run>-vm; a package relay over a unix socket
//   3. `vagrant up` + provision of the project's own vagrant/Vagrantfile (dist and
//      node_modules built once here and synced)
//   4. smoke with real kubectl: nodes Ready, a Deployment over the VMs, pod↔pod over VXLAN,
//      ClusterIP, NodePort, DNS; then IPVS mode on a node for real, and back to nftables
//   5. vagrant destroy; nothing left (VMs, networks, processes, namespace); the root
//      namespace's links, routes, nft and iptables rules unchanged
import t from 'tap'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { ROOT } from '../helpers/root.js'
import { readNodeKubeconfig } from '../../src/join/node.js'
import { RUN_PREFIX } from '../helpers/netns.js'
import { need } from '../helpers/prereq.js'
import { createNetns, deleteNetns } from '../../src/net/netns.js'
import { netnsHandle } from '../../src/net/door.js'
import { run, type RunResult } from '../../src/util/exec.js'
import { rootNetworkState, startLibvirt, startRelay, stopDaemon, until, writeTcgWrapper, type Daemon } from './host.js'

const VAGRANT_DIR = join(ROOT, 'vagrant')
const NODES = Number(process.env.NETKUBE_NODES ?? 3)
const RELAY_PORT = 3142
const MGMT_GW = '192.168.121.1'
const nodeIP = (i: number): string => `192.168.56.${9 + i}`

const skip = need('vagrant', 'libvirtd', 'virtlogd', 'virsh', 'qemu-system-x86_64', 'qemu-img', 'debootstrap', 'tinyproxy', 'socat', 'build')
const timings: [string, number][] = []
async function timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  try {
    return await fn()
  } finally {
    timings.push([step, (Date.now() - t0) / 1000])
  }
}

t.test('the Vagrant lab boots for real', { skip, timeout: 5_400_000 }, async (t) => {
  const before = await rootNetworkState()
  const ns = `${RUN_PREFIX}-vm`
  const dir = join('/var/tmp', `${RUN_PREFIX}-vagrant`)
  mkdirSync(dir, { recursive: true })
  const h = netnsHandle(ns)
  const daemons: Daemon[] = []
  let ipvsExcerpt = ''
  let boxName: string | undefined

  // Teardown in reverse: destroy (even after a failure), daemons by PID, namespace, run dir.
  let vagrantEnv: NodeJS.ProcessEnv | undefined
  let destroyed = false
  t.teardown(async () => {
    if (vagrantEnv && !destroyed) await h.run('vagrant', ['destroy', '-f'], { cwd: VAGRANT_DIR, env: vagrantEnv, allowFailure: true, timeoutMs: 600_000 })
    await cleanLibvirtLeftovers(h, boxName)
    for (const d of [...daemons].reverse()) await stopDaemon(d)
    await deleteNetns(ns)
    if (!process.env.NETKUBE_VAGRANT_KEEP_RUN_DIR) rmSync(dir, { recursive: true, force: true })
    printTimings(ipvsExcerpt)
  })

  const box = await timed('box build (cached: recipe hash)', async () => (await run('bash', [join(VAGRANT_DIR, 'box/build.sh')], { timeoutMs: 1_800_000 })).stdout.trim().split('\n').pop()!)
  boxName = `netkube/bookworm64-${box.replace(/^.*-([0-9a-f]+)\.box$/, '$1')}`

  await createNetns(ns)
  await h.ipBatch(['link set lo up'])
  daemons.push(...(await startLibvirt(ns, join(dir, 'libvirt'))))
  daemons.push(...(await startRelay(ns, dir, RELAY_PORT, ['deb.debian.org'])))

  const vagrantHome = join(dir, 'vagrant.d')
  vagrantEnv = {
    ...process.env,
    VAGRANT_HOME: vagrantHome,
    VAGRANT_DOTFILE_PATH: join(dir, 'dotvagrant'),
    VAGRANT_DEFAULT_PROVIDER: 'libvirt',
    VAGRANT_CHECKPOINT_DISABLE: '1',
    VAGRANT_BOX_UPDATE_CHECK_DISABLE: '1',
    NETKUBE_NODES: String(NODES),
    NETKUBE_BOX: boxName!,
    NETKUBE_LIBVIRT_DRIVER: 'qemu',
    NETKUBE_LIBVIRT_EMULATOR: writeTcgWrapper(dir, 128),
    NETKUBE_VM_MEMORY: '1024',
    NETKUBE_VM_CPUS: '1',
    NETKUBE_OUTSIDE: '0',
    NETKUBE_BOOT_TIMEOUT: process.env.NETKUBE_BOOT_TIMEOUT ?? '1800',
    NETKUBE_SYNC_BUILD: '1',
    NETKUBE_APT_PROXY: `http://${MGMT_GW}:${RELAY_PORT}`,
  }
  const vagrant = (args: string[], timeoutMs = 1_800_000): Promise<RunResult> =>
    h.run('vagrant', args, { cwd: VAGRANT_DIR, env: vagrantEnv, timeoutMs })
  const virsh = async (...args: string[]): Promise<string> => (await h.run('virsh', ['-c', 'qemu:///system', ...args])).stdout.trim()
  const netsBefore = await virsh('net-list', '--all', '--name')
  await timed('box add', () => vagrant(['box', 'add', '--force', '--name', boxName!, box]))
  // What the VMs get at /netkube: the project with its build and only the runtime packages.
  const stage = join(dir, 'netkube')
  await timed('stage the build', async () => {
    await run('rsync', ['-a', '--exclude', '.git', '--exclude', '.tap', '--exclude', '/node_modules', '--exclude', '/vagrant/.vagrant', `${ROOT}/`, `${stage}/`])
    const prod = (await run('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: ROOT, allowFailure: true })).stdout
    const rel = [...new Set(prod.split('\n').filter((p) => p.startsWith(`${ROOT}/node_modules/`)).map((p) => p.slice(ROOT.length + 1)))]
    writeFileSync(join(dir, 'runtime-packages'), rel.join('\n') + '\n')
    await run('rsync', ['-a', '-r', `--files-from=${join(dir, 'runtime-packages')}`, '--exclude', 'prebuilds/darwin-*', '--exclude', 'prebuilds/win32-*', '--exclude', 'prebuilds/linux-arm*', `${ROOT}/`, `${stage}/`])
  })
  vagrantEnv.NETKUBE_SYNC_SRC = stage
  // vagrant waits up to boot_timeout for the DHCP lease and again for sshd; then its own setup
  const bootSeconds = Number(vagrantEnv.NETKUBE_BOOT_TIMEOUT)
  await timed('vagrant up (no provision)', () => vagrant(['up', '--no-provision'], (2 * bootSeconds + 600) * 1000))
  await timed('provision', () => vagrant(['provision']))
  writeFileSync(join(dir, 'ssh-config'), (await vagrant(['ssh-config', ...Array.from({ length: NODES }, (_, i) => `node${i + 1}`)])).stdout)
  const vm = (name: string, cmd: string, allowFailure = false): Promise<RunResult> =>
    h.run('ssh', ['-F', join(dir, 'ssh-config'), '-o', 'LogLevel=ERROR', name, cmd], { timeoutMs: 300_000, allowFailure })

  // The admin kubeconfig the server wrote on node1; kubectl runs in the lab's host namespace.
  const kcfg = join(dir, 'admin.kubeconfig')
  writeFileSync(kcfg, (await vm('node1', 'sudo cat /var/lib/netkube/server/admin.kubeconfig')).stdout)
  const kubectl = (...args: string[]): Promise<RunResult> => h.run('kubectl', ['--kubeconfig', kcfg, ...args], { timeoutMs: 120_000, allowFailure: true })
  const ok = async (...args: string[]): Promise<string> => {
    const r = await kubectl(...args)
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
    return r.stdout
  }

  await timed('smoke', async () => {
    await t.test('nodes Ready', async (t) => {
      const ready = await until(`${NODES} nodes Ready`, 900_000, async () => {
        const out = await ok('get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}')
        const r = out.trim().split('\n').filter((l) => l.endsWith('=True'))
        return r.length === NODES && r
      }, 3000)
      t.equal(ready.length, NODES)
      t.comment((await ok('get', 'nodes', '-o', 'wide')).trim())
    })

    // Issue #15: every node joined with the bootstrap token (kubeadm join's CSR flow) and talks as
    // itself; kube-proxy and the network loops have their own users; none of them is the admin.
    await t.test('each node joined with its own identity', async (t) => {
      const ca = new X509Certificate(readFileSync(join(VAGRANT_DIR, '.pki', 'ca.crt')))
      const csrs = await ok('get', 'csr', '-o', 'jsonpath={range .items[*]}{.spec.username} {.spec.signerName} {.status.conditions[0].type}{"\\n"}{end}')
      for (let i = 1; i <= NODES; i++) {
        const name = `node${i}`
        const kc = join(dir, `${name}-kubelet.kubeconfig`)
        writeFileSync(kc, (await vm(name, 'sudo cat /var/lib/netkube/agent/kubelet.kubeconfig')).stdout)
        const own = readNodeKubeconfig(kc, name)
        t.ok(own, `${name}: the kubelet's kubeconfig holds a certificate for system:node:${name}`)
        const cert = new X509Certificate(own!.certPem)
        t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), `${name}: issued by the cluster CA (${cert.issuer.replace(/\n/g, ', ')})`)
        t.match(cert.subject, /O=system:nodes/, `${name}: in system:nodes`)
        t.notMatch(readFileSync(kc, 'utf8'), /token|insecure-skip-tls-verify/, `${name}: no token, no insecure flag`)
        const who = async (f: string): Promise<string> => {
          const path = join(dir, `${name}-${f}.kubeconfig`)
          writeFileSync(path, (await vm(name, `sudo cat /var/lib/netkube/${f}.kubeconfig`)).stdout)
          const r = await h.run('kubectl', ['--kubeconfig', path, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username} {.status.userInfo.groups}'], { allowFailure: true, timeoutMs: 60_000 })
          return r.stdout.trim() || r.stderr.trim()
        }
        t.match(await who('proxy'), /^system:kube-proxy /, `${name}: kube-proxy talks as system:kube-proxy`)
        t.match(await who('network'), new RegExp(`^system:netkube:agent:${name} .*system:netkube:agents`), `${name}: the network loops as system:netkube:agent:${name}`)
        t.notMatch(await who('network') + (await who('proxy')), /system:masters/, `${name}: no component in system:masters`)
      }
      t.match(csrs, /system:bootstrap:[a-z0-9]{6} kubernetes.io\/kube-apiserver-client-kubelet Approved/, 'the join CSRs, sent with the bootstrap token, were approved')
      // (a join retried after a restart may have sent one more)
      t.ok((csrs.match(/^system:bootstrap:\S+ kubernetes.io\/kube-apiserver-client-kubelet Approved$/gm) ?? []).length >= NODES, 'an approved join CSR per node')
    })

    await t.test('a Deployment spread over the VMs', async (t) => {
      const manifest = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          replicas: NODES,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'agnhost', args: ['serve-hostname', '--http-port', '8080'], ports: [{ containerPort: 8080 }] }] } },
        },
      }
      const svc = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      }
      const client = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['sleep', '100000'] }] } }
      writeFileSync(join(dir, 'smoke.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [manifest, svc, client] }))
      await ok('apply', '-f', join(dir, 'smoke.json'))
      const pods = await until('web pods Running with IPs', 600_000, async () => {
        const out = await ok('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.status.phase}{"\\n"}{end}')
        const rows = out.trim().split('\n').map((l) => l.split(' ')).filter((r) => r[3] === 'Running' && r[2])
        return rows.length === NODES && rows
      }, 3000)
      const nodes = new Set(pods.map((p) => p[1]))
      t.ok(nodes.size >= 2, `web pods on ${[...nodes].join(', ')}`)
      await until('client Running', 600_000, async () => (await ok('get', 'pod', 'client', '-o', 'jsonpath={.status.phase}')) === 'Running', 3000)
      const clientNode = await ok('get', 'pod', 'client', '-o', 'jsonpath={.spec.nodeName}')
      const fetch = (url: string): Promise<string> => ok('exec', 'client', '--', 'wget', '-q', '-T', '5', '-O', '-', url)

      // pod → pod on other VMs: the overlay (VXLAN between the VMs' eth1)
      const remote = pods.filter((p) => p[1] !== clientNode)
      t.ok(remote.length > 0, 'a web pod on another VM than the client')
      for (const [name, , ip] of remote) t.equal((await fetch(`http://${ip}:8080/`)).trim(), name, `client on ${clientNode} → ${name} at ${ip} (VXLAN)`)

      const clusterIP = await ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}')
      const nodePort = await ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.ports[0].nodePort}')
      const seen = new Set<string>()
      for (let i = 0; i < 12 && seen.size < NODES; i++) seen.add((await fetch(`http://${clusterIP}/`)).trim())
      t.equal(seen.size, NODES, `ClusterIP ${clusterIP} reached every endpoint: ${[...seen].join(', ')}`)
      const seenNP = new Set<string>()
      for (let i = 0; i < 12 && seenNP.size < NODES; i++) seenNP.add((await h.run('curl', ['-sf', '-m', '5', `http://${nodeIP(2)}:${nodePort}/`])).stdout.trim())
      t.equal(seenNP.size, NODES, `NodePort ${nodeIP(2)}:${nodePort} from the lab's host namespace reached every endpoint`)

      const dns = await ok('exec', 'client', '--', 'nslookup', 'web.default.svc.cluster.local')
      t.match(dns, clusterIP, 'cluster DNS from a pod answers the ClusterIP')

      await t.test('IPVS mode for real on node2', async (t) => {
        const setMode = async (mode: string): Promise<void> => {
          await vm('node2', `sudo sed -i -E 's/--proxy-mode [a-z]+/--proxy-mode ${mode}/' /etc/systemd/system/netkube-agent.service && sudo systemctl daemon-reload && sudo systemctl restart netkube-agent`)
        }
        await setMode('ipvs')
        const ipvs = await until('ipvsadm to list the ClusterIP with its endpoints', 600_000, async () => {
          const out = (await vm('node2', 'sudo ipvsadm -Ln', true)).stdout
          const block = out.split(/\n(?=TCP|UDP)/).find((b) => b.startsWith(`TCP  ${clusterIP}:80`))
          return block && pods.every((p) => block.includes(`${p[2]}:8080`)) && out
        }, 3000)
        ipvsExcerpt = ipvs
        t.pass('ipvsadm -Ln lists the ClusterIP with every endpoint')
        t.match((await vm('node2', `sudo ipvsadm -Ln -t ${nodeIP(2)}:${nodePort}`)).stdout, pods[0]![2]!, 'and the NodePort on the node IP')
        const addrs = (await vm('node2', 'ip -o addr show dev kube-ipvs0')).stdout
        t.match(addrs, `${clusterIP}/32`, 'kube-ipvs0 holds the ClusterIP')
        const fromNode = new Set<string>()
        for (let i = 0; i < 12 && fromNode.size < NODES; i++) fromNode.add((await vm('node2', `curl -sf -m 5 http://${clusterIP}/`)).stdout.trim())
        t.equal(fromNode.size, NODES, `ClusterIP from node2 balanced by IPVS over ${[...fromNode].join(', ')}`)
        // IPVS carried it, not a leftover nftables DNAT: its counters moved, no proxy table left
        const stats = (await vm('node2', `sudo ipvsadm -Ln --stats -t ${clusterIP}:80`)).stdout
        const conns = Number(/^TCP\s+\S+\s+(\d+)/m.exec(stats)?.[1] ?? 0)
        t.ok(conns >= fromNode.size, `the virtual server counted ${conns} connections`)
        t.notMatch((await vm('node2', 'sudo nft list tables')).stdout, /netkube-proxy/, 'no nftables proxy table in IPVS mode')
        const np = new Set<string>()
        for (let i = 0; i < 12 && np.size < NODES; i++) np.add((await h.run('curl', ['-sf', '-m', '5', `http://${nodeIP(2)}:${nodePort}/`])).stdout.trim())
        t.equal(np.size, NODES, `NodePort ${nodeIP(2)}:${nodePort} balanced by IPVS over ${[...np].join(', ')}`)

        await setMode('nftables')
        await until('IPVS state cleaned after switching back to nftables', 600_000, async () => {
          const table = (await vm('node2', 'sudo ipvsadm -Ln', true)).stdout
          const link = await vm('node2', 'ip link show kube-ipvs0', true)
          return !/TCP|UDP/.test(table) && link.code !== 0
        }, 3000)
        t.pass('no virtual servers and no kube-ipvs0 after the switch back')
        const back = new Set<string>()
        for (let i = 0; i < 12 && back.size < NODES; i++) back.add((await h.run('curl', ['-sf', '-m', '5', `http://${nodeIP(2)}:${nodePort}/`])).stdout.trim())
        t.equal(back.size, NODES, 'the NodePort works again through nftables')
      })
    })
  })

  await timed('destroy', () => vagrant(['destroy', '-f'], 600_000))
  destroyed = true
  t.equal(await virsh('net-list', '--all', '--name'), netsBefore, `libvirt networks gone (left: the package's own "${netsBefore}")`)
  t.equal(await virsh('list', '--all', '--name'), '', 'no VM left')
  await cleanLibvirtLeftovers(h, boxName)
  for (const d of [...daemons].reverse()) await stopDaemon(d)
  daemons.length = 0
  t.equal((await run('pgrep', ['-f', `${RUN_PREFIX}-vagrant`], { allowFailure: true })).stdout.trim(), '', 'no process of the run left')
  await deleteNetns(ns)
  const after = await rootNetworkState()
  for (const k of Object.keys(before)) t.equal(after[k], before[k], `root namespace: ${k} unchanged`)
})

/** The box's volume in libvirt's pool (vagrant destroy keeps it for the next up). */
async function cleanLibvirtLeftovers(h: ReturnType<typeof netnsHandle>, boxName: string | undefined): Promise<void> {
  if (!boxName) return
  const vols = await h.run('virsh', ['-c', 'qemu:///system', 'vol-list', 'default'], { allowFailure: true })
  const prefix = boxName.replace(/\//g, '-VAGRANTSLASH-')
  for (const line of vols.stdout.split('\n')) {
    const name = line.trim().split(/\s+/)[0]
    if (name && name.startsWith(prefix)) await h.run('virsh', ['-c', 'qemu:///system', 'vol-delete', name, '--pool', 'default'], { allowFailure: true })
  }
}

function printTimings(ipvs: string): void {
  const rows = timings.map(([s, sec]) => `| ${s} | ${sec.toFixed(1)} |`)
  process.stdout.write(['', '# | step | seconds |', '# |---|---:|', ...rows.map((r) => `# ${r}`), ''].join('\n'))
  if (ipvs) process.stdout.write(['# ipvsadm -Ln on node2:', ...ipvs.trim().split('\n').map((l) => `#   ${l}`), ''].join('\n'))
}
