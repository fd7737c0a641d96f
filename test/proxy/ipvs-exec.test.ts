// The IPVS runner's diff (src/proxy/ipvs-exec.ts): what `ipvsadm -R` gets to turn the kernel's
// table (`ipvsadm -Sn`) into the render. Pure; the real kernel run is npm run test:vagrant.
import t from 'tap'
import { ipvsDiff } from '../../src/proxy/ipvs-exec.js'

const saved = [
  '-A -t 10.96.0.1:443 -s rr',
  '-a -t 10.96.0.1:443 -r 192.168.56.10:6443 -m -w 1',
  '-A -t 10.96.0.20:80 -s rr',
  '-a -t 10.96.0.20:80 -r 10.244.1.2:8080 -m -w 1',
  '-a -t 10.96.0.20:80 -r 10.244.2.2:8080 -m -w 1',
  '-A -u 10.96.0.10:53 -s rr',
  '-a -u 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1',
].join('\n')

t.test('an unchanged table needs no command (the render starts with -C, which is not replayed)', async (t) => {
  t.equal(ipvsDiff(saved, `-C\n${saved}\n`), '')
})

t.test('one endpoint gone, one added: two real-server commands, nothing else touched', async (t) => {
  const wanted = saved.replace('-a -t 10.96.0.20:80 -r 10.244.2.2:8080 -m -w 1', '-a -t 10.96.0.20:80 -r 10.244.3.2:8080 -m -w 1')
  t.equal(ipvsDiff(saved, `-C\n${wanted}`), '-d -t 10.96.0.20:80 -r 10.244.2.2:8080\n-a -t 10.96.0.20:80 -r 10.244.3.2:8080 -m -w 1\n')
})

t.test('a Service gone: its virtual server deleted once (its real servers go with it)', async (t) => {
  const wanted = saved.split('\n').filter((l) => !l.includes('10.96.0.10:53')).join('\n')
  t.equal(ipvsDiff(saved, wanted), '-D -u 10.96.0.10:53\n')
})

t.test('affinity switched on: the virtual server is edited, a new one added before its real servers', async (t) => {
  const wanted = saved.replace('-A -t 10.96.0.20:80 -s rr', '-A -t 10.96.0.20:80 -s rr -p 10800') + '\n-A -t 192.168.56.11:30080 -s rr\n-a -t 192.168.56.11:30080 -r 10.244.1.2:8080 -m -w 1'
  t.equal(
    ipvsDiff(saved, wanted),
    ['-E -t 10.96.0.20:80 -s rr -p 10800', '-A -t 192.168.56.11:30080 -s rr', '-a -t 192.168.56.11:30080 -r 10.244.1.2:8080 -m -w 1', ''].join('\n'),
  )
})

t.test('from an empty kernel table: every virtual server, then every real server', async (t) => {
  const lines = saved.split('\n')
  t.equal(ipvsDiff('', `-C\n${saved}`), [...lines.filter((l) => l.startsWith('-A')), ...lines.filter((l) => l.startsWith('-a'))].join('\n') + '\n')
})
