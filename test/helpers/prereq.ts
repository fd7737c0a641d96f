// What a test needs from the machine, in one place. `need(...)` is a tap `skip` value:
//   t.test('podman …', { skip: need('podman', 'busybox') }, …)
// Outside CI a missing prerequisite skips the test (scripts/test.sh lists every skip by name).
// Under CI=true scripts/setup.sh has installed everything, so a missing one is a broken
// install: the file gets a failing assertion that names the thing and the setup step that
// should have provided it (and the test body is not run, to spare a cascade of ENOENTs).
//
// Which Debian package provides a command is setup.sh's NEED table, read here rather than
// repeated; a command a test needs but that table lacks fails under CI too.
import t from 'tap'
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { shimPath } from '../../cni/install.js'
import { loadMmsg } from '../../src/dns/mmsg.js'
import { canSetns } from '../../src/net/netns.js'

export type Addon = 'setns' | 'mmsg' | 'shim'
/**
 * A command on PATH (`podman`, `dig`, …), a native part (`addon:setns`, `addon:mmsg`,
 * `addon:shim`), a bundled kubectl client (`kubectl 1.27`; plain `kubectl` is the dispatcher)
 * or `build` (the tsc output in dist/).
 */
export type Prereq = `addon:${Addon}` | 'build' | `kubectl 1.${number}` | (string & {})

/** Where the machine's kubectl bundle keeps one binary per client version. */
export const KUBECTL_BIN = '/usr/lib/google-cloud-sdk/bin'
export const kubectlPath = (version: string): string => `${KUBECTL_BIN}/kubectl.${version}`

import { ROOT } from './root.js'
export const SETUP = 'scripts/setup.sh'
export const MAIN = join(ROOT, 'dist/src/cli/main.js')

const ADDONS: Record<Addon, string> = {
  setns: `the setns addon (src/net/native) is not built or not loadable (or NETKUBE_NO_SETNS=1): ${SETUP} builds it with node-gyp`,
  mmsg: `the dns mmsg addon (src/dns/native) is not built or not loadable: ${SETUP} builds it with node-gyp`,
  shim: `the CNI shim (cni/native/build/netkube-shim) is not built: ${SETUP} compiles it with cc`,
}

/** What scripts/setup.sh promises: command → Debian package, and the kubectl versions it checks. */
export interface SetupFacts {
  packages: ReadonlyMap<string, string>
  kubectlVersions: readonly string[]
}

export function parseSetup(script: string): SetupFacts {
  const table = /^declare -A NEED=\(([\s\S]*?)^\)/m.exec(script)?.[1] ?? ''
  const body = table.replace(/#.*$/gm, '')
  const packages = new Map([...body.matchAll(/\[([^\]\s]+)\]=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const))
  const versions = /^KUBECTL_VERSIONS=\(([^)]*)\)/m.exec(script)?.[1] ?? ''
  return { packages, kubectlVersions: versions.split(/\s+/).filter(Boolean) }
}

/** The machine as the checks see it; the real one is `hostProbe`, tests pass a fake. */
export interface Probe {
  onPath(command: string): boolean
  addon(name: Addon): boolean
  exists(path: string): boolean
}

export interface Finding {
  /** the test cannot run: skip outside CI, fail under CI */
  absent?: string
  /** the test can run here, but setup.sh would not provide it on a fresh machine: fail under CI */
  undeclared?: string
}

export function check(req: Prereq, probe: Probe, setup: SetupFacts): Finding {
  if (req.startsWith('addon:')) {
    const name = req.slice('addon:'.length) as Addon
    if (!(name in ADDONS)) return { absent: `unknown prerequisite ${req}` }
    return probe.addon(name) ? {} : { absent: ADDONS[name] }
  }
  if (req === 'build') return probe.exists(MAIN) ? {} : { absent: `${MAIN} is missing: ${SETUP} builds it (npx tsc)` }
  const kubectl = /^kubectl (1\.\d+)$/.exec(req)
  if (kubectl) {
    const v = kubectl[1]!
    const f: Finding = {}
    if (!probe.exists(kubectlPath(v))) f.absent = `kubectl ${v} (${kubectlPath(v)}) is missing: it comes with the machine's kubectl bundle, which ${SETUP} checks`
    if (!setup.kubectlVersions.includes(v)) f.undeclared = `kubectl ${v} is needed by a test but ${SETUP} does not check it: add it to KUBECTL_VERSIONS`
    return f
  }
  const pkg = setup.packages.get(req)
  const f: Finding = {}
  if (!probe.onPath(req)) f.absent = `${req} is not on PATH: ${SETUP} installs it${pkg ? ` (Debian package ${pkg})` : ''}`
  // kubectl (the dispatcher) is the machine's own; setup.sh checks it rather than installing it.
  if (!pkg && req !== 'kubectl') f.undeclared = `${req} is needed by a test but ${SETUP} does not install it: add it to the NEED table`
  return f
}

/** The tap `skip` value, and the failure to record under CI (both undefined when all is there). */
export function verdict(findings: Finding[], ci: boolean): { skip: string | false; fail?: string } {
  const absent = findings.flatMap((f) => (f.absent ? [f.absent] : []))
  const undeclared = findings.flatMap((f) => (f.undeclared ? [f.undeclared] : []))
  const skip = absent.length > 0 ? `missing prerequisite: ${absent.join('; ')}` : false
  const problems = [...absent, ...undeclared]
  if (!ci || problems.length === 0) return { skip }
  return { skip, fail: `CI=true: a missing prerequisite is a broken install, not a reason to skip: ${problems.join('; ')}` }
}

/** Where `command` resolves on PATH, as spawn would find it. */
export function commandPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    try {
      accessSync(join(dir, command), constants.X_OK)
      return join(dir, command)
    } catch {
      // not in this directory
    }
  }
  return undefined
}

export const hostProbe: Probe = {
  onPath: (command) => commandPath(command) !== undefined,
  exists: existsSync,
  addon: (name) => (name === 'setns' ? canSetns() : name === 'mmsg' ? loadMmsg() !== null : shimPath() !== undefined),
}

export const inCI = (): boolean => process.env.CI === 'true'

let setupFacts: SetupFacts | undefined
const setup = (): SetupFacts => (setupFacts ??= parseSetup(readFileSync(join(ROOT, SETUP), 'utf8')))

/** A tap `skip` value for a test that needs `reqs`; under CI=true a missing one fails the file. */
export function need(...reqs: Prereq[]): string | false {
  const v = verdict(
    reqs.map((r) => check(r, hostProbe, setup())),
    inCI(),
  )
  if (v.fail) t.fail(v.fail)
  return v.skip
}
