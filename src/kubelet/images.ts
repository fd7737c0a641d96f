// The process runtime's image catalogue: which host program an `image` runs. An image is
// matched by its repository's last path segment (registry and tag are ignored), so real
// manifests (`nginx`, `registry.k8s.io/e2e-test-images/agnhost:2.45`, `busybox`) run unchanged.
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'

/**
 * Path of netkube's compiled CLI entry, for the images netkube itself provides. From the
 * TypeScript sources (tests) it is the build output in dist/, which `npm test` builds first.
 */
export const NETKUBE_MAIN = (() => {
  const here = fileURLToPath(import.meta.url)
  return here.endsWith('.ts')
    ? fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))
    : fileURLToPath(new URL('../cli/main.js', import.meta.url))
})()

export class ImageNotFoundError extends Error {
  override name = 'ImageNotFoundError'
  constructor(readonly image: string) {
    super(`image "${image}" is not in the process runtime's catalogue (known: ${Object.keys(CATALOGUE).join(', ')})`)
  }
}

interface ImageEntry {
  /** argv for the image's ENTRYPOINT (replaced by `command`). */
  entrypoint: string[]
  /** The image's CMD (replaced by `args`). */
  cmd: string[]
  /** Prefix put before a `command` (busybox: applets run through the busybox binary). */
  commandPrefix?: string[]
}

const node = process.execPath
const busybox = existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox'

const agnhost: ImageEntry = { entrypoint: [node, NETKUBE_MAIN, 'agnhost'], cmd: ['serve-hostname'] }

const CATALOGUE: Record<string, ImageEntry> = {
  agnhost,
  // nginx-shaped manifests get an HTTP server on port 80 answering its hostname.
  nginx: { entrypoint: [node, NETKUBE_MAIN, 'agnhost'], cmd: ['--http-port', '80'] },
  busybox: { entrypoint: [busybox], cmd: ['sh'], commandPrefix: [busybox] },
  pause: { entrypoint: [busybox, 'sleep'], cmd: ['2147483647'] },
  dns: { entrypoint: [node, NETKUBE_MAIN, 'dns'], cmd: [] },
  // the Ingress controller (issue #12): HAProxy driven by netkube
  ingress: { entrypoint: [node, NETKUBE_MAIN, 'ingress-controller'], cmd: [] },
  netkube: { entrypoint: [node, NETKUBE_MAIN], cmd: [] },
}

export function imageRepoName(image: string): string {
  const noDigest = image.split('@')[0]!
  const last = noDigest.split('/').pop()!
  return last.split(':')[0]!
}

/** The argv a container runs, following Docker/Kubernetes ENTRYPOINT/CMD override rules. */
export function resolveArgv(image: string, command: string[] | undefined, args: string[] | undefined): string[] {
  const entry = CATALOGUE[imageRepoName(image)]
  if (!entry) throw new ImageNotFoundError(image)
  if (command && command.length > 0) return [...(entry.commandPrefix ?? []), ...command, ...(args ?? [])]
  const argv = [...entry.entrypoint, ...(args ?? entry.cmd)]
  if (argv.length === 0) throw new Error(`image "${image}" needs a command`)
  return argv
}

export function knownImages(): string[] {
  return Object.keys(CATALOGUE)
}
