// Pure: the lab's topology. The same address plan as the Vagrant lab (vagrant/), so what
// is learnt on one transfers to the other: nodes on 192.168.56.0/24 from .10 upwards.
export const UNDERLAY_BASE = '192.168.56.';
export function labPlan(name, nodes) {
    if (!/^[a-z0-9]{1,8}$/.test(name))
        throw new Error(`lab name "${name}" must be 1-8 lowercase letters or digits`);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20)
        throw new Error('--nodes must be between 1 and 20');
    const prefix = `nk${name}`;
    return {
        name,
        prefix,
        underlayNetns: `${prefix}-underlay`,
        underlayBridge: 'br0',
        gateway: `${UNDERLAY_BASE}1`,
        underlayCidr: `${UNDERLAY_BASE}0/24`,
        nodes: Array.from({ length: nodes }, (_, i) => ({
            name: `node${i + 1}`,
            netns: `${prefix}-node${i + 1}`,
            underlayPort: `ul-node${i + 1}`,
            ip: `${UNDERLAY_BASE}${10 + i}`,
            podNetnsPrefix: `${prefix}-n${i + 1}-`,
            server: i === 0,
        })),
        apiPort: 6443,
        etcdPort: 2379,
        clusterCIDR: '10.244.0.0/16',
        serviceCIDR: '10.96.0.0/12',
        clusterDNS: '10.96.0.10',
    };
}
