// One error shape for every kernel operation: what was being done, to which object, and the
// errno the kernel answered (`add route 10.244.2.0/24 via 10.244.2.0 dev flannel.1: ENETUNREACH`).
// Callers branch on `code` (EEXIST, ENOENT, ENODEV, ESRCH, …), humans read `message`.

export class NetError extends Error {
  override readonly name = 'NetError'
  constructor(
    /** e.g. `add route`, `create veth`, `open netlink` */
    readonly op: string,
    /** e.g. `10.244.2.0/24 via 10.244.2.0 dev flannel.1`, or a link name */
    readonly object: string,
    /** errno name (EEXIST, ENOENT, …) or a short upper-case reason */
    readonly code: string,
    detail?: string,
  ) {
    super(`${op} ${object}: ${code}${detail ? ` (${detail})` : ''}`)
  }
}

/** Pull an errno name out of whatever the netlink package or a syscall threw. */
export function errnoOf(err: unknown): string {
  if (err instanceof NetError) return err.code
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
    const msg = (err as { message?: unknown }).message
    if (typeof msg === 'string') {
      // netlink@0.3.0: `Request rejected: EEXIST`
      const m = /\b(E[A-Z0-9]{2,})\b/.exec(msg)
      if (m) return m[1]!
      return msg
    }
  }
  return String(err)
}

/** Run a kernel call and re-throw its failure as a NetError naming the operation and object. */
export async function kernelCall<T>(op: string, object: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof NetError) throw err
    throw new NetError(op, object, errnoOf(err))
  }
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes(errnoOf(err))
}
