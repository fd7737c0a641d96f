// sysctls inside a network namespace. /proc/sys/net/* resolves against the namespace of the
// thread that opens the file, so with the setns addon a synchronous write on the main thread
// while "inside" is enough; without it a short-lived `nsenter --net=… sh` does the write.
import { readFileSync, writeFileSync } from 'node:fs'
import { NetError, errnoOf } from './errors.js'
import { canSetns, inNetnsSync, runIn } from './netns.js'

export function sysctlPath(key: string): string {
  const rel = key.includes('/') ? key.replace(/^\/?(proc\/sys\/)?/, '') : key.replace(/\./g, '/')
  if (rel.includes('..')) throw new NetError('sysctl', key, 'EINVAL')
  return `/proc/sys/${rel}`
}

/** Write a sysctl in namespace `netns` (name or path); undefined = this process's namespace. */
export async function writeSysctl(netns: string | undefined, key: string, value: string): Promise<void> {
  const path = sysctlPath(key)
  const what = `${path}=${value}${netns ? ` in ${netns}` : ''}`
  if (!netns || canSetns()) {
    try {
      if (netns) inNetnsSync(netns, () => writeFileSync(path, value))
      else writeFileSync(path, value)
      return
    } catch (err) {
      throw new NetError('write sysctl', what, errnoOf(err))
    }
  }
  const r = await runIn(netns, 'sh', ['-c', 'printf %s "$1" > "$2"', 'sh', value, path], { allowFailure: true })
  if (r.code !== 0) throw new NetError('write sysctl', what, 'EIO', r.stderr.trim())
}

export async function readSysctl(netns: string | undefined, key: string): Promise<string> {
  const path = sysctlPath(key)
  if (!netns || canSetns()) {
    try {
      return (netns ? inNetnsSync(netns, () => readFileSync(path, 'utf8')) : readFileSync(path, 'utf8')).trim()
    } catch (err) {
      throw new NetError('read sysctl', `${path}${netns ? ` in ${netns}` : ''}`, errnoOf(err))
    }
  }
  const r = await runIn(netns, 'cat', [path], { allowFailure: true })
  if (r.code !== 0) throw new NetError('read sysctl', `${path} in ${netns}`, 'EIO', r.stderr.trim())
  return r.stdout.trim()
}
