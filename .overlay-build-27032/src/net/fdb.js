import { NetError, errnoOf, isErrno } from './errors.js';
import { bufferToIp, ipToBuffer } from './ip.js';
import { AF_BRIDGE, FlagsNew, macToString } from './rtnl.js';
import { macToBuffer } from './rtnl.js';
/** `names` (ifindex → name) saves a link dump when the caller already has one. */
export async function listFdb(rt, dev, names) {
    names ??= new Map((await rt.listLinks()).map((l) => [l.index, l.name]));
    const msgs = await rt.call('list', 'fdb', () => rt.sock.getNeighbors({ family: AF_BRIDGE }));
    const out = [];
    for (const m of msgs) {
        if (m.data.family !== AF_BRIDGE)
            continue;
        const name = names.get(m.data.ifindex ?? 0) ?? '';
        if (dev && name !== dev)
            continue;
        const mac = macToString(m.attrs.lladdr);
        if (!mac)
            continue;
        const f = { mac, dev: name, self: Boolean(m.data.flags?.self), permanent: Boolean(m.data.state?.permanent) };
        if (m.attrs.dst)
            f.dst = bufferToIp(m.attrs.dst);
        out.push(f);
    }
    return out;
}
/** `bridge fdb replace MAC dev DEV dst IP self permanent` */
export async function replaceFdb(rt, f) {
    const ifindex = await rt.indexOf(f.dev, 'replace fdb');
    const data = { family: AF_BRIDGE, ifindex, state: { permanent: true }, flags: { self: true } };
    await rt.call('replace fdb', `${f.mac} dst ${f.dst} dev ${f.dev} self`, () => rt.sock.newNeighbor(data, { lladdr: macToBuffer(f.mac), dst: ipToBuffer(f.dst) }, { flags: FlagsNew.CREATE | FlagsNew.REPLACE }));
}
/** false when there was nothing to delete */
export async function deleteFdb(rt, f) {
    const ifindex = await rt.indexOf(f.dev, 'delete fdb');
    const attrs = { lladdr: macToBuffer(f.mac) };
    if (f.dst)
        attrs.dst = ipToBuffer(f.dst);
    try {
        await rt.sock.delNeighbor({ family: AF_BRIDGE, ifindex, flags: { self: true } }, attrs);
        return true;
    }
    catch (err) {
        if (isErrno(err, 'ENOENT', 'ESRCH', 'ENODEV'))
            return false;
        throw new NetError('delete fdb', `${f.mac} dev ${f.dev}`, errnoOf(err));
    }
}
