// `netkube lab supervise --pidfile F -- CMD…`: restarts CMD when it dies, as systemd's
// Restart=always does for the Vagrant lab's units (and the kubelet does for static pods).
// SIGTERM stops the child gracefully and then the supervisor. The child's PID is kept in
// the pidfile so a test can kill -9 the component itself.
import { writeFileSync, rmSync } from 'node:fs'
import { netnsHandle } from '../net/door.js'
import type { ChildProcess } from '../util/exec.js'

export async function main(argv: string[]): Promise<number | void> {
  const sep = argv.indexOf('--')
  const pidIdx = argv.indexOf('--pidfile')
  if (sep < 0 || sep === argv.length - 1) {
    process.stderr.write('usage: netkube lab supervise [--pidfile F] -- CMD [ARGS…]\n')
    return 2
  }
  const pidfile = pidIdx >= 0 && pidIdx < sep ? argv[pidIdx + 1] : undefined
  const [file, ...args] = argv.slice(sep + 1)
  let child: ChildProcess | undefined
  let stopping = false
  let restarts = 0
  const start = (): void => {
    const started = Date.now()
    // CMD already runs where the supervisor does (the lab starts it inside the node's netns).
    child = netnsHandle().spawn([file!, ...args], { stdio: 'inherit' })
    if (pidfile && child.pid) writeFileSync(pidfile, String(child.pid))
    child.on('exit', (code, signal) => {
      if (stopping) return
      // Back off when it dies right away (a crash loop), restart at once after a long run.
      const delay = Date.now() - started < 10_000 ? Math.min(1000 * 2 ** Math.min(restarts, 4), 10_000) : 1000
      restarts++
      process.stderr.write(`supervise: ${file} exited (${signal ?? code}); restart #${restarts} in ${delay} ms\n`)
      setTimeout(start, delay)
    })
  }
  start()
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping = true
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  if (pidfile) rmSync(pidfile, { force: true })
  return 0
}
