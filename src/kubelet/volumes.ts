// ConfigMap and Secret volumes, written the way the kubelet's AtomicWriter does so that a
// container sees a change all at once, never half of it:
//
//   <dir>/..2026_12_01_12_00_00.123456789/   the payload, one timestamped directory per version
//   <dir>/..data -> ..2026_…                 one symlink, replaced by rename(2) (atomic)
//   <dir>/<key>  -> ..data/<key>             one symlink per top-level name, created once
//
// An update writes a new timestamped directory, swaps `..data`, then removes the user-visible
// symlinks of names that are gone and the old payload. Item paths may have subdirectories
// (`a/b/c` is reached through `a -> ..data/a`). projectData (pure) decides the files; writeAtomic
// puts them on disk and reports whether anything changed.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { KeyToPath } from '../api/types.js'

export interface ProjectedFile {
  /** Relative path below the volume directory. */
  path: string
  data: Buffer
  mode: number
}

/** A volume that cannot be set up (the pod waits; the kubelet reports FailedMount). */
export class VolumeError extends Error {}

export interface VolumeSource {
  kind: 'configmap' | 'secret'
  name: string
  items?: KeyToPath[]
  defaultMode?: number
  optional?: boolean
}

const DATA_DIR = '..data'
const TMP_LINK = '..data_tmp'

/**
 * The files of a configMap/secret volume. `data` undefined = the object does not exist: an
 * empty volume when optional, else an error; an item naming a missing key is an error unless
 * the volume is optional (upstream's wording in both).
 */
export function projectData(src: VolumeSource, data: Record<string, Buffer> | undefined): ProjectedFile[] {
  const mode = src.defaultMode ?? 0o644
  if (!data) {
    if (src.optional) return []
    throw new VolumeError(`${src.kind} "${src.name}" not found`)
  }
  const files: ProjectedFile[] = []
  if (!src.items?.length) {
    for (const [k, v] of Object.entries(data)) files.push({ path: k, data: v, mode })
  } else {
    for (const it of src.items) {
      const v = data[it.key]
      if (v === undefined) {
        if (src.optional) continue
        throw new VolumeError(`${src.kind === 'configmap' ? 'configmap' : 'secret'} references non-existent ${src.kind === 'configmap' ? 'config' : 'secret'} key: ${it.key}`)
      }
      files.push({ path: it.path, data: v, mode: it.mode ?? mode })
    }
  }
  for (const f of files) {
    const parts = f.path.split('/')
    if (f.path.startsWith('/') || parts.some((p) => p === '..' || p === '') || parts[0]!.startsWith('..'))
      throw new VolumeError(`invalid path ${JSON.stringify(f.path)}: must be relative and may not contain '..'`)
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function tsDirName(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const ns = process.hrtime.bigint() % 1_000_000_000n
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.${String(ns).padStart(9, '0')}`
}

function currentPayload(dir: string): string | undefined {
  try {
    return readlinkSync(join(dir, DATA_DIR))
  } catch {
    return undefined
  }
}

/** Whether the payload under `dir/..data` is exactly `files` (content and mode). */
function samePayload(dir: string, files: readonly ProjectedFile[]): boolean {
  const cur = currentPayload(dir)
  if (!cur) return false
  const root = join(dir, cur)
  const listed: string[] = []
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) walk(p)
      else listed.push(p)
    }
  }
  try {
    walk('')
  } catch {
    return false
  }
  if (listed.length !== files.length) return false
  for (const f of files) {
    const p = join(root, f.path)
    try {
      if ((statSync(p).mode & 0o7777) !== f.mode || !readFileSync(p).equals(f.data)) return false
    } catch {
      return false
    }
  }
  return true
}

/** Write `files` into `dir` atomically (see the note above); false when nothing changed. */
export function writeAtomic(dir: string, files: readonly ProjectedFile[]): boolean {
  mkdirSync(dir, { recursive: true })
  if (samePayload(dir, files)) return false
  const old = currentPayload(dir)
  const ts = tsDirName()
  const root = join(dir, ts)
  mkdirSync(root, { mode: 0o755 })
  for (const f of files) {
    const p = join(root, f.path)
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, f.data)
    chmodSync(p, f.mode)
  }
  // The swap: a new symlink renamed over ..data, so readers see the old or the new set, whole.
  rmSync(join(dir, TMP_LINK), { force: true })
  symlinkSync(ts, join(dir, TMP_LINK))
  renameSync(join(dir, TMP_LINK), join(dir, DATA_DIR))
  const top = new Set(files.map((f) => f.path.split('/')[0]!))
  for (const name of top) {
    const link = join(dir, name)
    if (!existsSync(link) && !isSymlink(link)) symlinkSync(join(DATA_DIR, name), link)
  }
  for (const e of readdirSync(dir)) {
    if (e.startsWith('..')) continue
    if (!top.has(e) && isSymlink(join(dir, e))) rmSync(join(dir, e), { force: true })
  }
  if (old && old !== ts) rmSync(join(dir, old), { recursive: true, force: true })
  return true
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

/** A ConfigMap's data and binaryData as bytes. */
export function configMapBytes(cm: { data?: Record<string, string>; binaryData?: Record<string, string> }): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v, 'utf8')
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64')
  return out
}

/** A Secret's data (base64 on the wire) as bytes. */
export function secretBytes(s: { data?: Record<string, string> }): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64')
  return out
}
