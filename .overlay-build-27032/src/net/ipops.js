// IpOps: NetOps through the `ip` program, for a namespace this process cannot enter itself
// (setns addon not built). Each call is one `ip` process (~2–4 ms); `-j` output is parsed
// into the same typed shapes the netlink path returns.
import { NetError } from './errors.js';
import { parseCidr } from './ip.js';
import { readSysctl, writeSysctl } from './sysctl.js';
import { run } from '../util/exec.js';
import { resolveNetns } from './netns.js';
import { describeRoute, } from './types.js';
/** Map `ip`'s stderr to an errno name so callers can branch like on the netlink path. */
function errnoFromIp(stderr) {
    const s = stderr.toLowerCase();
    if (s.includes('file exists') || s.includes('already assigned'))
        return 'EEXIST';
    if (s.includes('cannot find device') || s.includes('no such device'))
        return 'ENODEV';
    if (s.includes('no such process'))
        return 'ESRCH';
    // iproute2 prints the kernel's extack text instead of strerror for these
    if (s.includes('network is unreachable') || s.includes('invalid gateway'))
        return 'ENETUNREACH';
    if (s.includes('cannot assign requested address') || s.includes('address not found'))
        return 'EADDRNOTAVAIL';
    if (s.includes('invalid argument'))
        return 'EINVAL';
    if (s.includes('operation not permitted'))
        return 'EPERM';
    if (s.includes('no such file'))
        return 'ENOENT';
    return 'EIO';
}
export class IpOps {
    netns;
    constructor(netns) {
        this.netns = netns;
    }
    ip(args) {
        if (!this.netns)
            return run('ip', args, { allowFailure: true });
        if (!this.netns.includes('/'))
            return run('ip', ['-n', this.netns, ...args], { allowFailure: true });
        return run('nsenter', [`--net=${resolveNetns(this.netns)}`, 'ip', ...args], { allowFailure: true });
    }
    async must(op, object, args, ok = []) {
        const r = await this.ip(args);
        if (r.code !== 0) {
            const code = errnoFromIp(r.stderr);
            if (ok.includes(code))
                return r;
            throw new NetError(op, object + (this.netns ? ` (netns ${this.netns})` : ''), code, r.stderr.trim());
        }
        return r;
    }
    async listLinks() {
        const r = await this.must('list', 'links', ['-j', '-d', 'link', 'show']);
        const links = JSON.parse(r.stdout || '[]');
        const byName = new Map(links.map((l) => [l.ifname, l.ifindex]));
        return links.map((l) => {
            const info = {
                index: l.ifindex,
                name: l.ifname,
                mtu: l.mtu,
                up: l.flags.includes('UP'),
                promisc: l.flags.includes('PROMISC'),
            };
            if (l.address)
                info.mac = l.address;
            if (l.master)
                info.master = byName.get(l.master) ?? 0;
            if (l.linkinfo?.info_kind)
                info.kind = l.linkinfo.info_kind;
            return info;
        });
    }
    async getLink(name) {
        return (await this.listLinks()).find((l) => l.name === name);
    }
    async createBridge(spec) {
        const args = ['link', 'add', spec.name];
        if (spec.mtu)
            args.push('mtu', String(spec.mtu));
        if (spec.mac)
            args.push('address', spec.mac);
        await this.must('create bridge', spec.name, [...args, 'type', 'bridge']);
    }
    async createVeth(spec) {
        const args = ['link', 'add', spec.name];
        if (spec.mtu)
            args.push('mtu', String(spec.mtu));
        if (spec.mac)
            args.push('address', spec.mac);
        args.push('type', 'veth', 'peer', 'name', spec.peerName);
        if (spec.mtu)
            args.push('mtu', String(spec.mtu));
        if (spec.peerMac)
            args.push('address', spec.peerMac);
        if (spec.peerNetns)
            args.push('netns', resolveNetns(spec.peerNetns));
        await this.must('create veth', `${spec.name} peer ${spec.peerName}`, args);
    }
    async setLink(name, c) {
        const args = ['link', 'set', 'dev', name];
        if (c.mtu !== undefined)
            args.push('mtu', String(c.mtu));
        if (c.mac !== undefined)
            args.push('address', c.mac);
        if (c.master !== undefined)
            args.push(...(c.master === null ? ['nomaster'] : ['master', String(c.master)]));
        if (c.promisc !== undefined)
            args.push('promisc', c.promisc ? 'on' : 'off');
        if (c.up !== undefined)
            args.push(c.up ? 'up' : 'down');
        await this.must('set link', args.slice(3).join(' '), args);
    }
    async setHairpin(name, on) {
        await this.must('set hairpin', `${name} ${on ? 'on' : 'off'}`, ['link', 'set', 'dev', name, 'type', 'bridge_slave', 'hairpin', on ? 'on' : 'off']);
    }
    async deleteLink(name) {
        const r = await this.must('delete link', name, ['link', 'del', 'dev', name], ['ENODEV']);
        return r.code === 0;
    }
    async addAddress(dev, cidr) {
        const c = parseCidr(cidr);
        const args = ['addr', 'add', cidr, 'dev', dev];
        if (c.family === 4 && c.prefix < 31)
            args.push('broadcast', '+');
        await this.must('add address', `${cidr} dev ${dev}`, args, ['EEXIST']);
    }
    async delAddress(dev, cidr) {
        const r = await this.must('delete address', `${cidr} dev ${dev}`, ['addr', 'del', cidr, 'dev', dev], ['EADDRNOTAVAIL', 'ENODEV']);
        return r.code === 0;
    }
    async listAddresses(dev) {
        const r = await this.must('list', 'addresses', ['-j', 'addr', 'show', ...(dev ? ['dev', dev] : [])]);
        const out = [];
        for (const l of JSON.parse(r.stdout || '[]')) {
            for (const a of l.addr_info ?? []) {
                out.push({ index: l.ifindex, cidr: `${a.local}/${a.prefixlen}`, family: a.family === 'inet6' ? 6 : 4 });
            }
        }
        return out;
    }
    routeArgs(r) {
        const args = [r.dst];
        if (r.via)
            args.push('via', r.via);
        if (r.dev)
            args.push('dev', r.dev);
        if (r.onlink)
            args.push('onlink');
        if (r.scope)
            args.push('scope', r.scope === 'universe' ? 'global' : r.scope);
        if (r.src)
            args.push('src', r.src);
        if (r.metric !== undefined)
            args.push('metric', String(r.metric));
        if (r.table)
            args.push('table', String(r.table));
        const fam = r.family ?? (r.dst === 'default' ? (r.via?.includes(':') ? 6 : 4) : parseCidr(r.dst).family);
        return [fam === 6 ? '-6' : '-4', 'route', ...args];
    }
    async addRoute(r, opts = {}) {
        const args = this.routeArgs(r);
        args.splice(2, 0, opts.replace ? 'replace' : 'add');
        await this.must(opts.replace ? 'replace route' : 'add route', describeRoute(r), args);
    }
    async delRoute(r) {
        const args = this.routeArgs(r);
        args.splice(2, 0, 'del');
        const res = await this.must('delete route', describeRoute(r), args, ['ESRCH', 'ENODEV']);
        return res.code === 0;
    }
    async listRoutes(opts = {}) {
        const fams = opts.family ? [opts.family] : [4, 6];
        const links = await this.listLinks();
        const out = [];
        for (const family of fams) {
            const r = await this.must('list', 'routes', ['-j', `-${family}`, 'route', 'show', 'table', String(opts.table ?? 254)]);
            for (const x of JSON.parse(r.stdout || '[]')) {
                const dst = x.dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : x.dst.includes('/') ? x.dst : `${x.dst}/${family === 4 ? 32 : 128}`;
                const scope = x.scope === 'link' ? 'link' : x.scope === 'host' ? 'host' : 'universe';
                const info = { dst, onlink: Boolean(x.flags?.includes('onlink')), scope, table: opts.table ?? 254, protocol: 0, type: 1, family };
                if (x.gateway)
                    info.via = x.gateway;
                if (x.dev) {
                    info.dev = x.dev;
                    const l = links.find((k) => k.name === x.dev);
                    if (l)
                        info.index = l.index;
                }
                if (x.prefsrc)
                    info.src = x.prefsrc;
                if (x.metric !== undefined)
                    info.metric = x.metric;
                out.push(info);
            }
        }
        return out;
    }
    writeSysctl(key, value) {
        return writeSysctl(this.netns, key, value);
    }
    readSysctl(key) {
        return readSysctl(this.netns, key);
    }
    close() { }
}
