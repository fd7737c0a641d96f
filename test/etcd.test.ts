import t from 'tap'
import { withEtcd } from './helpers/etcd.js'

t.test('a real etcd starts on loopback and answers the HTTP gateway', async (t) => {
  const etcd = await withEtcd(t)
  const put = await fetch(`${etcd.endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/t/a').toString('base64'), value: Buffer.from('1').toString('base64') }),
  })
  t.equal(put.status, 200)
  const got = (await (await fetch(`${etcd.endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/t/a').toString('base64') }),
  })).json()) as { kvs: { value: string }[] }
  t.equal(Buffer.from(got.kvs[0]!.value, 'base64').toString(), '1')
})
