// Test hook: NETKUBE_CNI_CRASH_AT=<point> makes a standalone plugin SIGKILL itself at that
// point, so tests can check that whatever an interrupted ADD leaves behind is recovered by a
// later ADD, DEL or GC. Points: in-ipam-lock, after-veth.
export function crashPoint(name) {
    if (process.env.NETKUBE_CNI_CRASH_AT === name)
        process.kill(process.pid, 'SIGKILL');
}
