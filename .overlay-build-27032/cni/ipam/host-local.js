import { allocate, releaseAttachment, releaseStale } from './allocator.js';
import { withLock } from './lock.js';
import { FileStore } from './store.js';
import { crashPoint } from '../crash.js';
function storeFor(conf) {
    return new FileStore(conf.ipam.dataDir, conf.name);
}
export async function ipamAdd(conf, containerID, ifname) {
    const store = storeFor(conf);
    const got = await withLock(store.lockPath, () => {
        const a = allocate(store, conf.ipam.ranges, containerID, ifname);
        crashPoint('in-ipam-lock');
        return a;
    });
    const ips = got.map((a) => ({
        address: `${a.ip}/${a.range.subnet.split('/')[1]}`,
        gateway: a.range.gateway,
        subnet: a.range.subnet,
    }));
    const routes = conf.ipam.routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
    return { ips, routes };
}
export async function ipamDel(conf, containerID, ifname) {
    const store = storeFor(conf);
    return withLock(store.lockPath, () => releaseAttachment(store, containerID, ifname));
}
export async function ipamGc(conf, valid) {
    const store = storeFor(conf);
    return withLock(store.lockPath, () => {
        store.sweepTemp();
        return releaseStale(store, valid);
    });
}
export function ipamHolds(conf, containerID, ifname) {
    return storeFor(conf)
        .list()
        .filter((a) => a.containerID === containerID && a.ifname === ifname)
        .map((a) => a.ip);
}
