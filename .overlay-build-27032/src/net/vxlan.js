// VXLAN devices over rtnetlink (the flannel.<VNI> VTEP of the overlay).
//
// Kernel facts: IFLA_VXLAN_PORT is a big-endian u16 (the only attribute in network byte
// order); IFLA_VXLAN_LEARNING 0 turns off source-MAC learning, so the FDB holds only what the
// agent programs; IFLA_VXLAN_LINK pins the underlay device and IFLA_VXLAN_LOCAL the source
// address of the outer packets. None of these can be changed after creation.
import nl from 'netlink';
import { NetError, errnoOf, isErrno } from './errors.js';
import { bufferToIp, ipToBuffer } from './ip.js';
import { FlagsNew, encodeAttrs, encodeLinkInfo, macToString } from './rtnl.js';
import { macToBuffer } from './rtnl.js';
const { ifla } = nl;
/** The link `name` with its VXLAN attributes decoded; undefined when it does not exist. */
export async function getVxlan(rt, name) {
    let msgs;
    try {
        msgs = await rt.sock.getLink({}, { ifname: name });
    }
    catch (err) {
        if (isErrno(err, 'ENODEV', 'ENOENT'))
            return undefined;
        throw new NetError('get link', name, errnoOf(err));
    }
    const m = msgs[0];
    if (!m)
        return undefined;
    const out = {
        index: m.data.index ?? 0,
        name,
        kind: '',
        mtu: m.attrs.mtu ?? 0,
        up: Boolean(m.data.flags?.up),
    };
    const mac = macToString(m.attrs.address);
    if (mac)
        out.mac = mac;
    if (!m.attrs.linkinfo)
        return out;
    const info = ifla.parseInfo(m.attrs.linkinfo);
    out.kind = info.kind ?? '';
    if (out.kind !== 'vxlan' || !info.data)
        return out;
    const v = ifla.parseVxlan(info.data);
    if (v.id !== undefined)
        out.vni = v.id;
    if (v.local)
        out.local = bufferToIp(v.local);
    if (v.port)
        out.port = v.port.readUInt16BE(0);
    if (v.learning !== undefined)
        out.learning = v.learning !== 0;
    if (v.link) {
        const links = await rt.listLinks();
        out.link = links.find((l) => l.index === v.link)?.name ?? `if${v.link}`;
    }
    return out;
}
export async function createVxlan(rt, spec) {
    const port = Buffer.alloc(2);
    port.writeUInt16BE(spec.port, 0);
    const linkIndex = await rt.indexOf(spec.link, `create vxlan ${spec.name}`);
    const data = encodeAttrs(ifla.formatVxlan({ id: spec.vni, local: ipToBuffer(spec.local), port, learning: spec.learning ? 1 : 0, link: linkIndex }));
    const attrs = { ifname: spec.name, mtu: spec.mtu, linkinfo: encodeLinkInfo('vxlan', data) };
    if (spec.mac)
        attrs.address = macToBuffer(spec.mac);
    await rt.call('create vxlan', `${spec.name} id ${spec.vni} local ${spec.local} dstport ${spec.port} dev ${spec.link}`, () => rt.sock.newLink({}, attrs, { flags: FlagsNew.CREATE | FlagsNew.EXCL }));
}
