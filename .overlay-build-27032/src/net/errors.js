// One error shape for every kernel operation: what was being done, to which object, and the
// errno the kernel answered (`add route 10.244.2.0/24 via 10.244.2.0 dev flannel.1: ENETUNREACH`).
// Callers branch on `code` (EEXIST, ENOENT, ENODEV, ESRCH, …), humans read `message`.
export class NetError extends Error {
    op;
    object;
    code;
    name = 'NetError';
    constructor(
    /** e.g. `add route`, `create veth`, `open netlink` */
    op, 
    /** e.g. `10.244.2.0/24 via 10.244.2.0 dev flannel.1`, or a link name */
    object, 
    /** errno name (EEXIST, ENOENT, …) or a short upper-case reason */
    code, detail) {
        super(`${op} ${object}: ${code}${detail ? ` (${detail})` : ''}`);
        this.op = op;
        this.object = object;
        this.code = code;
    }
}
/** Pull an errno name out of whatever the netlink package or a syscall threw. */
export function errnoOf(err) {
    if (err instanceof NetError)
        return err.code;
    if (err && typeof err === 'object') {
        const code = err.code;
        if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code))
            return code;
        const msg = err.message;
        if (typeof msg === 'string') {
            // netlink@0.3.0: `Request rejected: EEXIST`
            const m = /\b(E[A-Z0-9]{2,})\b/.exec(msg);
            if (m)
                return m[1];
            return msg;
        }
    }
    return String(err);
}
/** Run a kernel call and re-throw its failure as a NetError naming the operation and object. */
export async function kernelCall(op, object, fn) {
    try {
        return await fn();
    }
    catch (err) {
        if (err instanceof NetError)
            throw err;
        throw new NetError(op, object, errnoOf(err));
    }
}
export function isErrno(err, ...codes) {
    return codes.includes(errnoOf(err));
}
