import { NetError, errnoOf, isErrno } from './errors.js';
import { bufferToIp, ipToBuffer } from './ip.js';
import { AF_INET, FlagsNew, macToString } from './rtnl.js';
import { macToBuffer } from './rtnl.js';
/** `names` (ifindex → name) saves a link dump when the caller already has one. */
export async function listNeighbors(rt, dev, names) {
    names ??= new Map((await rt.listLinks()).map((l) => [l.index, l.name]));
    const msgs = await rt.call('list', 'neighbours', () => rt.sock.getNeighbors({ family: AF_INET }));
    const out = [];
    for (const m of msgs) {
        if (m.data.family !== AF_INET || !m.attrs.dst)
            continue;
        const name = names.get(m.data.ifindex ?? 0) ?? '';
        if (dev && name !== dev)
            continue;
        const n = { ip: bufferToIp(m.attrs.dst), dev: name, permanent: Boolean(m.data.state?.permanent) };
        const mac = macToString(m.attrs.lladdr);
        if (mac)
            n.mac = mac;
        out.push(n);
    }
    return out;
}
/** `ip neigh replace IP lladdr MAC dev DEV nud permanent` */
export async function replaceNeighbor(rt, n) {
    const ifindex = await rt.indexOf(n.dev, 'replace neighbour');
    const data = { family: AF_INET, ifindex, state: { permanent: true } };
    await rt.call('replace neighbour', `${n.ip} lladdr ${n.mac} dev ${n.dev}`, () => rt.sock.newNeighbor(data, { dst: ipToBuffer(n.ip), lladdr: macToBuffer(n.mac) }, { flags: FlagsNew.CREATE | FlagsNew.REPLACE }));
}
/** false when there was nothing to delete */
export async function deleteNeighbor(rt, n) {
    const ifindex = await rt.indexOf(n.dev, 'delete neighbour');
    try {
        await rt.sock.delNeighbor({ family: AF_INET, ifindex }, { dst: ipToBuffer(n.ip) });
        return true;
    }
    catch (err) {
        if (isErrno(err, 'ENOENT', 'ESRCH', 'ENODEV'))
            return false;
        throw new NetError('delete neighbour', `${n.ip} dev ${n.dev}`, errnoOf(err));
    }
}
