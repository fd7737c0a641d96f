// Kept for callers written before the namespace handle (bench/); new code uses
// `netnsHandle(name).spawn(argv, { etc: 'netns', detached: true, … })` from door.ts.
import type { ChildProcess } from '../util/exec.js'
import { startIn, type BindMount } from './netns.js'

export interface SpawnInNetnsOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  logPath?: string
  binds?: BindMount[]
}

/** @deprecated `netnsHandle(netns).spawn(argv, { etc: 'netns', detached: true, ...opts })`. */
export function spawnInNetns(netns: string, argv: readonly string[], opts: SpawnInNetnsOptions = {}): ChildProcess {
  return startIn(netns, argv, { ...opts, etc: 'netns', detached: true })
}
