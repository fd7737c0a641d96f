// Secrets, ServiceAccounts and Events through real kubectl 1.27 and 1.33 against a real
// apiserver + etcd (no controllers: events are posted as a kubelet would post them).
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { createClient } from '../../src/client/index.js'
import { resourceFor } from '../../src/api/resources.js'
import type { Pod } from '../../src/api/types.js'
import { createEventRecorder } from '../../src/events/recorder.js'
import { kubectlRunner } from '../helpers/kubectl.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

t.test('kubectl: secrets, service accounts, events', { skip: need('openssl') }, async (t) => {
  const srv = await withApiServer(t)
  const client = createClient({ server: srv.url, token: srv.token, caPem: srv.caPem })
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-core-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=web.example', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')])

  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `c-${c.name.replace(/\W/g, '')}`
      const { k, ok } = kubectlRunner(t, c.path, srv.kubeconfigPath)
      await ok('create', 'namespace', ns)

      // ---- Secrets ----
      t.match(await ok('create', 'secret', 'generic', 'db', '-n', ns, '--from-literal=user=admin', '--from-literal=pass=s3cr3t'), 'secret/db created')
      t.equal((await ok('get', 'secret', 'db', '-n', ns, '-o', 'jsonpath={.data.user}')).trim(), Buffer.from('admin').toString('base64'))
      t.match(await ok('create', 'secret', 'tls', 'web-tls', '-n', ns, `--cert=${join(dir, 'tls.crt')}`, `--key=${join(dir, 'tls.key')}`), 'secret/web-tls created')
      t.match(await ok('create', 'secret', 'docker-registry', 'pull', '-n', ns, '--docker-server=registry.example', '--docker-username=u', '--docker-password=p'), 'secret/pull created')
      const table = await ok('get', 'secrets', '-n', ns)
      t.match(table, /^NAME\s+TYPE\s+DATA\s+AGE\n/)
      t.match(table, /\ndb\s+Opaque\s+2\s+\d+s\n/)
      t.match(table, /\npull\s+kubernetes\.io\/dockerconfigjson\s+1\s+/)
      t.match(table, /\nweb-tls\s+kubernetes\.io\/tls\s+2\s+/)

      // stringData is merged into data and not stored.
      const sd = join(dir, `sd-${ns}.yaml`)
      writeFileSync(sd, `apiVersion: v1\nkind: Secret\nmetadata: {name: sd}\ntype: Opaque\ndata: {a: b2xk}\nstringData: {a: new, b: plain}\nimmutable: true\n`)
      await ok('apply', '-n', ns, '-f', sd)
      t.equal((await ok('get', 'secret', 'sd', '-n', ns, '-o', 'jsonpath={.data.a}/{.data.b}/{.stringData}')).trim(), `${Buffer.from('new').toString('base64')}/${Buffer.from('plain').toString('base64')}/`)
      // immutable: a data change is refused with upstream's words.
      const imm = await k('patch', 'secret', 'sd', '-n', ns, '-p', '{"data":{"a":"Y2hhbmdlZA=="}}')
      t.equal(imm.code, 1)
      t.equal(imm.stderr.trim(), 'The Secret "sd" is invalid: data: Forbidden: field is immutable when `immutable` is set')
      // data that is not base64 does not decode: 400, as upstream, before any other rule.
      const bad = join(dir, `bad-${ns}.yaml`)
      writeFileSync(bad, `apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ntype: kubernetes.io/tls\ndata: {tls.crt: "not*base64"}\n`)
      const r = await k('apply', '-n', ns, '-f', bad)
      t.equal(r.code, 1)
      t.match(r.stderr, `Error from server (BadRequest): error when creating "${bad}": Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3`)
      // tls without a key: 422 with the field path; kubectl lists the causes itself, one per line.
      writeFileSync(bad, `apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ntype: kubernetes.io/tls\ndata: {tls.crt: "${Buffer.from('c').toString('base64')}"}\n`)
      const r2 = await k('apply', '-n', ns, '-f', bad)
      t.equal(r2.code, 1)
      t.match(r2.stderr, 'The Secret "bad" is invalid: data[tls.key]: Required value')
      t.equal((await k('get', 'secret', 'bad', '-n', ns)).code, 1, 'nothing half-written')

      // ---- ServiceAccounts ----
      t.match(await ok('create', 'serviceaccount', 'builder', '-n', ns), 'serviceaccount/builder created')
      t.match(await ok('get', 'sa', '-n', ns), /^NAME\s+SECRETS\s+AGE\nbuilder\s+0\s+\d+s\n/)

      // ---- Events ----
      const pod = (await client.resource<Pod>(resourceFor('pods'), ns).create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'web', image: 'agnhost' }] } })) as Pod
      t.equal(pod.spec.serviceAccountName, 'default', 'admission defaults serviceAccountName')
      const rec = createEventRecorder({ client, component: 'kubelet', host: 'node-1' })
      rec.event(pod, 'Normal', 'Pulled', 'Container image "agnhost" already present on machine', { fieldPath: 'spec.containers{web}' })
      rec.event(pod, 'Normal', 'Started', 'Started container web', { fieldPath: 'spec.containers{web}' })
      for (let i = 0; i < 3; i++) rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container web', { fieldPath: 'spec.containers{web}' })
      rec.event({ kind: 'Pod', apiVersion: 'v1', namespace: ns, name: 'other' }, 'Normal', 'Started', 'Started container x')
      await rec.flush()
      const sched = createEventRecorder({ client, component: 'default-scheduler', host: 'default-scheduler-n1', api: 'events.k8s.io/v1' })
      sched.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/web to node-1`, { action: 'Binding' })
      await sched.flush()

      const evs = await ok('get', 'events', '-n', ns)
      t.match(evs, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/)
      t.match(evs, /Warning\s+BackOff\s+pod\/web\s+Back-off restarting failed container web/)
      t.match(evs, /Normal\s+Scheduled\s+pod\/web\s+Successfully assigned/)
      const wide = await ok('get', 'events', '-n', ns, '-o', 'wide', '--field-selector', 'involvedObject.name=web,reason=BackOff')
      t.match(wide, /SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME/)
      t.match(wide, /spec\.containers\{web\}\s+kubelet, node-1\s+Back-off restarting failed container web\s+\S+\s+3\s+web\./, 'the repeats are one event with count 3')
      const only = await ok('get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=other')
      t.notMatch(only, 'pod/web')
      t.match(only, 'pod/other')
      t.match(await ok('get', 'events.v1.events.k8s.io', '-n', ns, '--field-selector', 'regarding.name=web,reason=Scheduled'), /Scheduled\s+pod\/web/)

      const desc = await ok('describe', 'pod', 'web', '-n', ns)
      t.match(desc, /Service Account:\s+default/)
      t.match(desc, /Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/)
      t.match(desc, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned/)
      t.match(desc, /Normal\s+Started\s+\S+\s+kubelet\s+Started container web/)
      t.match(desc, /Warning\s+BackOff\s+\S+ \(x3 over \S+\)\s+kubelet\s+Back-off restarting failed container web/)

      // get events -w: a new event shows up in the stream.
      const w = spawn(c.path, ['--kubeconfig', srv.kubeconfigPath, 'get', 'events', '-n', ns, '-w'], { stdio: ['ignore', 'pipe', 'pipe'] })
      t.teardown(() => {
        if (w.exitCode === null) w.kill('SIGKILL')
      })
      let out = ''
      w.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
      const waitFor = async (re: RegExp) => {
        const end = Date.now() + 15_000
        while (!re.test(out)) {
          if (Date.now() > end) throw new Error(`get events -w never showed ${re}:\n${out}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      await waitFor(/BackOff/)
      rec.event(pod, 'Normal', 'Killing', 'Stopping container web', { fieldPath: 'spec.containers{web}' })
      await rec.stop()
      await waitFor(/Killing\s+pod\/web\s+Stopping container web/)
      t.pass('get events -w received the new event')
      w.kill('SIGTERM')
      await sched.stop()
      await ok('delete', 'namespace', ns, '--wait=false')
    })
  }
})
