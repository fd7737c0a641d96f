// kubectl exec / port-forward / cp against a real apiserver and a real kubelet (HTTPS, the
// apiserver's kubelet-client identity) running busybox processes in real pod namespaces,
// with the bundled kubectl 1.27 (SPDY/3.1) and 1.33 (WebSocket v5, port-forward as
// SPDY/3.1+portforward.k8s.io tunnelled in WebSocket).
import t from 'tap'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { kubectl, portForward, streamRig, type Out } from '../helpers/stream-rig.js'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { connect as tlsConnect } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'
import { freePort } from '../../src/util/ports.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

function treeSums(dir: string, base = dir): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of readdirSync(dir)) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) Object.assign(out, treeSums(p, base))
    else out[p.slice(base.length)] = sha(readFileSync(p))
  }
  return out
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 20_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

t.test('kubectl exec, port-forward and cp through the apiserver to the kubelet', { skip: need('busybox', 'etcd', 'addon:setns', 'kubectl 1.27', 'kubectl 1.33', 'socat', 'script') }, async (t) => {
  const r = await streamRig(t)
  const kc = r.api.kubeconfigPath
  await r.pods.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'box', labels: { app: 'box' } },
    spec: {
      nodeName: 'n1',
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'web', image: 'busybox', command: ['sh', '-c', 'mkdir -p /tmp/www && echo hello-from-box > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'], workingDir: '/tmp', env: [{ name: 'GREETING', value: 'hi there' }], ports: [{ containerPort: 8080 }] },
      ],
    },
  } as Pod)
  await r.client.resource(resourceFor('services'), 'default').create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'boxsvc' },
    spec: { selector: { app: 'box' }, ports: [{ port: 80, targetPort: 8080 }] },
  })
  await waitUntil('box running', async () => (await r.pods.get('box')).status?.containerStatuses?.[0]?.state?.running !== undefined, 30_000)

  for (const v of ['1.27', '1.33']) {
    await t.test(`kubectl ${v} exec`, async (t) => {
      const host = await kubectl(v, kc, ['exec', 'box', '--', 'hostname'])
      t.equal(host.stdout.toString(), 'box\n', 'runs in the pod\'s UTS namespace')
      const env = await kubectl(v, kc, ['exec', 'box', '--', 'sh', '-c', 'echo "$GREETING" $(pwd)'])
      t.equal(env.stdout.toString(), 'hi there /tmp\n', 'the container\'s env and working dir')
      for (const code of [0, 1, 3]) {
        const x = await kubectl(v, kc, ['exec', 'box', '--', 'sh', '-c', `echo out; echo err >&2; exit ${code}`])
        t.equal(x.code, code, `exit ${code} propagates`)
        t.equal(x.stdout.toString(), 'out\n')
        t.match(x.stderr, code === 0 ? /^err\n$/ : new RegExp(`^err\\ncommand terminated with exit code ${code}\\n$`))
      }
      const nope = await kubectl(v, kc, ['exec', 'box', '--', 'nope'])
      t.equal(nope.code, 127, 'an unknown command: 127')
      t.match(nope.stderr, /exec: "nope": executable file not found in \$PATH/)
      const data = randomBytes(1024 * 1024)
      const cat = await kubectl(v, kc, ['exec', '-i', 'box', '--', 'cat'], data)
      t.equal(cat.code, 0, cat.stderr)
      t.equal(cat.stdout.length, data.length, '1 MiB through cat')
      t.equal(sha(cat.stdout), sha(data), 'byte-exact')
      // -t under script: a real pty whose size is the client terminal's.
      const tty = await new Promise<Out>((resolve) => {
        const c = spawn('script', ['-qec', `stty cols 91 rows 33; ${kubectlPath(v)} --kubeconfig ${kc} exec -it box -- sh -c 'stty size; tty'`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
        const out: Buffer[] = []
        c.stdout.on('data', (d: Buffer) => out.push(d))
        c.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: '' }))
        setTimeout(() => c.kill('SIGKILL'), 60_000).unref()
      })
      t.match(tty.stdout.toString(), /33 91\r?\n\/dev\/pts\/\d+/, 'the command sees a terminal of the client\'s size')
    })

    await t.test(`kubectl ${v} port-forward: 100 concurrent requests, and an error when nothing listens`, async (t) => {
      const pf = await portForward(t, v, kc, 'pod/box', 8080)
      const bodies = await Promise.all(Array.from({ length: 100 }, () => httpGet(pf.port)))
      t.equal(bodies.filter((b) => b === 'hello-from-box\n').length, 100, '100 concurrent requests answered')
      pf.stop()
      // svc/x: kubectl picks a pod behind the Service and its targetPort.
      const spf = await portForward(t, v, kc, 'svc/boxsvc', 80)
      const sb = await Promise.all(Array.from({ length: 100 }, () => httpGet(spf.port)))
      t.equal(sb.filter((b) => b === 'hello-from-box\n').length, 100, '100 concurrent requests through svc/boxsvc')
      spf.stop()
      const pf2 = await portForward(t, v, kc, 'pod/box', 9)
      await httpGet(pf2.port).catch(() => '')
      await waitUntil('the error stream reported', async () => (/connection refused/.test(pf2.stderr()) ? true : undefined), 10_000)
      t.match(pf2.stderr(), /error forwarding port 9 to pod box, uid .*connection refused/, 'the kubelet\'s error arrives on the error stream')
    })

    await t.test(`kubectl ${v} cp a tree in and out`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'netkube-cp-'))
      t.teardown(() => rmSync(dir, { recursive: true, force: true }))
      const src = join(dir, 'src')
      mkdirSync(join(src, 'a', 'b'), { recursive: true })
      writeFileSync(join(src, 'top.txt'), 'top\n')
      writeFileSync(join(src, 'a', 'b', 'blob.bin'), randomBytes(200_000))
      // The process runtime shares the node's filesystem: a fresh target, removed afterwards.
      const target = `/tmp/netkube-cp-${v}-${randomBytes(4).toString('hex')}`
      t.teardown(() => rmSync(target, { recursive: true, force: true }))
      const up = await kubectl(v, kc, ['cp', src, `box:${target}`])
      t.equal(up.code, 0, up.stderr)
      const down = await kubectl(v, kc, ['cp', `box:${target}`, join(dir, 'back')])
      t.equal(down.code, 0, down.stderr)
      t.same(treeSums(join(dir, 'back')), treeSums(src), 'checksums match both ways')
    })
  }

  await t.test('the kubectl dispatcher: exec and its exit code', async (t) => {
    t.equal((await kubectl('dispatcher', kc, ['exec', 'box', '--', 'hostname'])).stdout.toString(), 'box\n')
    const x = await kubectl('dispatcher', kc, ['exec', 'box', '--', 'sh', '-c', 'exit 3'])
    t.equal(x.code, 3)
    t.match(x.stderr, /command terminated with exit code 3/)
  })

  await t.test('garbage on an upgraded connection closes that connection only', async (t) => {
    const sock = tlsConnect({ host: '127.0.0.1', port: r.api.port, ca: r.api.caPem, servername: 'localhost' })
    await new Promise<void>((resolve) => sock.once('secureConnect', () => resolve()))
    sock.write(`POST /api/v1/namespaces/default/pods/box/exec?command=sleep&command=100&stdout=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${r.api.token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`)
    let got = ''
    sock.setEncoding('latin1').on('data', (d: string) => (got += d))
    await waitUntil('101', async () => (got.includes('\r\n\r\n') ? true : undefined), 10_000)
    t.match(got, /^HTTP\/1\.1 101 /, 'upgraded')
    sock.write(Buffer.from('\x80\x03\x00\x01\x00\x00\x00\x0agarbage-not-a-zlib-block-at-all'))
    const closed = await new Promise<boolean>((resolve) => {
      sock.on('close', () => resolve(true))
      setTimeout(() => resolve(false), 10_000).unref()
    })
    t.ok(closed, 'the kubelet closed the bad connection')
    const again = await kubectl('1.33', kc, ['exec', 'box', '--', 'hostname'])
    t.equal(again.stdout.toString(), 'box\n', 'the kubelet and other streams carry on')
  })

  await t.test('exec into a pod on a node that is down fails fast', async (t) => {
    const dead = await freePort()
    await r.client.resource(resourceFor('nodes')).create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'gone' }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: dead } } } })
    await r.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stranded' }, spec: { nodeName: 'gone', containers: [{ name: 'c', image: 'busybox' }] } } as Pod)
    const t0 = Date.now()
    const x = await kubectl('1.33', kc, ['exec', 'stranded', '--', 'true'])
    t.not(x.code, 0)
    t.match(x.stderr, /error dialing backend: .*ECONNREFUSED/, 'says the kubelet cannot be reached')
    t.ok(Date.now() - t0 < 15_000, `within seconds (${Date.now() - t0} ms)`)
  })

  await t.test('a dropped exec stream kills the process it started', async (t) => {
    const secs = String(300000 + (Date.now() % 100000))
    const c = spawn(kubectlPath('1.33'), ['--kubeconfig', kc, 'exec', 'box', '--', 'sleep', secs], { stdio: 'ignore' })
    const running = (): boolean =>
      readdirSync('/proc').some((p) => {
        if (!/^\d+$/.test(p)) return false
        try {
          // The exec'd sleep itself, not the kubectl whose arguments name it too.
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')
          return /(^|\/)sleep$/.test(argv[0] ?? '') && argv[1] === secs
        } catch {
          return false
        }
      })
    await waitUntil('the exec runs', async () => (running() ? true : undefined), 15_000)
    c.kill('SIGKILL')
    await waitUntil('the process is gone', async () => (!running() ? true : undefined), 10_000)
    t.notOk(running(), 'no process left')
  })
})
