// The attach socket between the kubelet and a container's log shim — the one definition of its
// framing, used by both ends. The shim owns the container's stdio (like conmon): its output
// pipes or pty master, and, for a container with `stdin: true`, the writing end of its stdin.
// Every message is [type u8][length u32 BE][payload]:
//   kubelet → shim: ATTACH_STDIN (first, when the client attaches stdin: it counts for stdinOnce),
//                   STDIN (bytes for the container), STDIN_EOF (this client's stdin ended),
//                   RESIZE (JSON {"width","height"}; tty only)
//   shim → kubelet: STDOUT, STDERR (the container's output from the moment of attach on)
// The shim closes the socket when the container's output ends (it and everything it started exited).
// Kept free of other imports: the log shim loads it at every container start.

export const WIRE = { STDIN: 0, STDOUT: 1, STDERR: 2, STDIN_EOF: 3, RESIZE: 4, ATTACH_STDIN: 5 } as const

export function frame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(5)
  h[0] = type
  h.writeUInt32BE(payload.length, 1)
  return Buffer.concat([h, payload])
}

/** A push parser: feed it chunks, it calls `on` once per whole message. */
export function deframer(on: (type: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0)
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1)
      if (buf.length < 5 + len) return
      on(buf[0]!, buf.subarray(5, 5 + len))
      buf = buf.subarray(5 + len)
    }
  }
}
