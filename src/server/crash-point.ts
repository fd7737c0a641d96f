// A test knob for "kill -9 anywhere": NETKUBE_CRASH_AT=<point> makes the process SIGKILL
// itself right after that step, the way a supervisor's kill or a power cut would leave a
// start half done. Unset (always, outside tests) it does nothing.
export function crashPoint(point: string): void {
  if (process.env.NETKUBE_CRASH_AT === point) process.kill(process.pid, 'SIGKILL')
}
