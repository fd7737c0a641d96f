// Issue 11 (Secrets, ServiceAccounts, Events), end to end in a 2-node lab with real kubectl:
// a Secret reaches a pod as env and as a volume and a change shows in the volume; the pod runs
// as the `default` ServiceAccount the controller created; `kubectl describe` and
// `kubectl get events` show what the scheduler and kubelet did, repeats counted.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { withLab, waitUntil, res } from '../helpers/lab.js'

t.test('secrets, service accounts and events in a lab', async (t) => {
  // The process runtime bind-mounts volumes at their mountPath in a private mount namespace;
  // the mount point itself is a directory on this machine, so it lives in a temp dir of ours.
  const mnt = mkdtempSync(join(tmpdir(), 'netkube-e2e-vol-'))
  t.teardown(() => rmSync(mnt, { recursive: true, force: true }))
  const lab = await withLab(t, { nodes: 2, serverFlags: ['--no-dns'], agentFlags: ['--backoff-initial', '1s'] })
  const pods = lab.client.resource<Pod>(res('pods'), 'default')

  await t.test('every namespace gets a default ServiceAccount', async (t) => {
    await waitUntil('default/default', async () => (await lab.kubectl(['get', 'sa', 'default'])).code === 0, 30_000)
    await lab.k(['create', 'namespace', 'team-a'])
    await waitUntil('team-a/default', async () => (await lab.kubectl(['get', 'sa', 'default', '-n', 'team-a'])).code === 0, 30_000)
    t.match(await lab.k(['get', 'sa', '-n', 'team-a']), /^NAME\s+SECRETS\s+AGE\ndefault\s+0\s+/)
  })

  await t.test('a Secret reaches a pod as env and as a volume, and a change shows in the volume', async (t) => {
    await lab.k(['create', 'secret', 'generic', 'db', '--from-literal=user=admin', '--from-literal=pass=one', '--from-literal=gone=soon'])
    const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: reader
    image: busybox
    command: [sh, -c, 'echo "env user=$DB_USER all=$DB_pass"; while true; do echo "file pass=$(cat ${mnt}/creds/db/pass) keys=$(ls ${mnt}/all | tr "\\n" ,) mode=$(stat -L -c %a ${mnt}/creds/db/pass)"; sleep 1; done']
    env:
    - {name: DB_USER, valueFrom: {secretKeyRef: {name: db, key: user}}}
    envFrom:
    - {secretRef: {name: db}, prefix: DB_}
    volumeMounts:
    - {name: creds, mountPath: ${mnt}/creds, readOnly: true}
    - {name: all, mountPath: ${mnt}/all, readOnly: true}
  volumes:
  - name: creds
    secret:
      secretName: db
      defaultMode: 0400
      items: [{key: pass, path: db/pass}]
  - name: all
    secret: {secretName: db}
`
    await lab.k(['apply', '-f', '-'], manifest)
    await waitUntil('reader running', async () => {
      const p = await pods.get('reader')
      return p.status?.phase === 'Running'
    }, 60_000)
    const p = await pods.get('reader')
    t.equal(p.spec.serviceAccountName, 'default', 'admission set the ServiceAccount')
    await waitUntil('first file line', async () => /file pass=one keys=gone,pass,user, mode=400/.test(await lab.k(['logs', 'reader'])), 20_000)
    const logs = await lab.k(['logs', 'reader'])
    t.match(logs, 'env user=admin all=one', 'secretKeyRef and envFrom (with prefix) as env')

    // Change one key, drop another: the running pod sees both through the atomic ..data swap.
    await lab.k(['patch', 'secret', 'db', '--type=merge', '-p', JSON.stringify({ data: { pass: Buffer.from('two').toString('base64'), gone: null } })])
    const t0 = Date.now()
    await waitUntil('new value in the volume, removed key gone', async () => /file pass=two keys=pass,user, mode=400/.test(await lab.k(['logs', 'reader'])), 30_000)
    t.comment(`secret change visible in the pod after ${Date.now() - t0} ms`)
    t.match(await lab.k(['logs', 'reader']), 'env user=admin all=one', 'env does not change in a running container')
  })

  await t.test('kubectl describe and get events show what happened', async (t) => {
    const desc = await lab.k(['describe', 'pod', 'reader'])
    t.match(desc, /Service Account:\s+default/)
    t.match(desc, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/reader to \S+/)
    t.match(desc, /Normal\s+Pulled\s+\S+\s+kubelet\s+Container image "busybox" already present on machine/)
    t.match(desc, /Normal\s+Created\s+\S+\s+kubelet\s+Created container: reader/)
    t.match(desc, /Normal\s+Started\s+\S+\s+kubelet\s+Started container reader/)

    // A crashing container: BackOff repeats are one event whose count grows.
    await lab.k(['run', 'crasher', '--image=busybox', '--restart=Always', '--', 'sh', '-c', 'exit 3'])
    await waitUntil('BackOff counted', async () => {
      const out = await lab.k(['get', 'events', '-o', 'wide', '--field-selector', 'involvedObject.name=crasher,reason=BackOff'])
      const m = /kubelet, \S+\s+Back-off restarting failed container crasher in pod crasher_default\(\S+\)\s+\S+\s+(\d+)\s/.exec(out)
      return !!m && Number(m[1]) >= 2
    }, 60_000)
    const all = await lab.k(['get', 'events'])
    t.match(all, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/)
    t.match(all, /Warning\s+BackOff\s+pod\/crasher/)
    t.match(all, /Normal\s+Scheduled\s+pod\/reader/)
    const sel = await lab.k(['get', 'events', '--field-selector', 'involvedObject.name=reader'])
    t.notMatch(sel, 'crasher', '--field-selector involvedObject.name picks one object')
    t.match(await lab.k(['describe', 'pod', 'crasher']), /Warning\s+BackOff\s+\S+ \(x\d+ over \S+\)\s+kubelet\s+Back-off restarting failed container crasher/)
    await lab.k(['delete', 'pod', 'crasher', 'reader', '--grace-period=1'])
    await waitUntil('Killing events', async () => /Normal\s+Killing\s+pod\/reader\s+Stopping container reader/.test(await lab.k(['get', 'events'])), 30_000)
    await waitUntil('pods gone', async () => (await pods.list()).items.length === 0, 30_000)
  })
})
