// Which processes `lab node restart` kills (pure): the choice, not the signals.
import t from 'tap'
import { chooseVictims } from '../../src/lab/node-restart.js'

t.test('victims of a node restart', async (t) => {
  // 10 supervisor → 11 agent → 20, 21 containers (in pod namespaces); 30 etcd, 31 server: the lab's, spared.
  const base = { supervisorTree: [10, 11, 20, 21], inNode: [10, 11, 30, 31, 40], inPods: [20, 21, 22], spared: new Set([30, 31]) }
  t.same(chooseVictims({ ...base, agentOnly: true }), [10, 11], 'agent only: supervisor and agent, the containers live on')
  const all = chooseVictims({ ...base, agentOnly: false })
  t.equal(all[0], 10, 'the supervisor goes first, so it cannot restart the agent in between')
  t.same([...all].sort((a, b) => a - b), [10, 11, 20, 21, 22, 40], 'power loss: everything in the node and its pod namespaces but the lab daemons')
  t.same(chooseVictims({ ...base, supervisorTree: [], inNode: [11, 30, 31, 40], agentOnly: false }).sort((a, b) => a - b), [11, 20, 21, 22, 40], 'a dead supervisor: the rest still goes')
})
