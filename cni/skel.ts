// The plugin skeleton (after containernetworking/cni pkg/skel): a table says which CNI_*
// variables each command needs (missing ones are reported together), the command is
// dispatched to its handler, and every failure becomes a CniError. I/O is injected
// (env + stdin in, {exit code, stdout} out), so tests and the agent socket need no process;
// main.ts is the one place that prints and exits.
import { checkVersion, decodeStdin, parseConfig } from './config.js'
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus } from './bridge.js'
import type { PluginContext } from './context.js'
import { CniCode, CniError, asCniError } from './errors.js'
import { renderResult } from './result.js'
import { SUPPORTED_VERSIONS, type CniCommand, type CniRequest } from './types.js'

export interface CniIo {
  env: Record<string, string | undefined>
  stdin: string
}

export interface CniOutcome {
  /** process exit code: 0 ok, 1 error (details in stdout) */
  exit: number
  stdout: string
}

const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS']

const ENV_TABLE: readonly { name: string; field: keyof CniRequest; requiredFor: readonly CniCommand[] }[] = [
  { name: 'CNI_CONTAINERID', field: 'containerId', requiredFor: ['ADD', 'DEL', 'CHECK'] },
  { name: 'CNI_NETNS', field: 'netns', requiredFor: ['ADD', 'CHECK'] },
  { name: 'CNI_IFNAME', field: 'ifname', requiredFor: ['ADD', 'DEL', 'CHECK'] },
  { name: 'CNI_ARGS', field: 'args', requiredFor: [] },
  { name: 'CNI_PATH', field: 'path', requiredFor: [] },
]

export const LATEST_VERSION = '1.1.0'

export function parseRequest(io: CniIo): CniRequest {
  const command = io.env.CNI_COMMAND
  if (!command) throw new CniError(CniCode.INVALID_ENV, 'required env variables [CNI_COMMAND] missing')
  if (!(COMMANDS as readonly string[]).includes(command)) throw new CniError(CniCode.INVALID_ENV, `unknown CNI_COMMAND: ${command}`)
  const cmd = command as CniCommand
  const req: CniRequest = { command: cmd, containerId: '', netns: '', ifname: '', args: '', path: '', stdin: io.stdin }
  const missing: string[] = []
  for (const e of ENV_TABLE) {
    const v = io.env[e.name] ?? ''
    if (!v && e.requiredFor.includes(cmd)) missing.push(e.name)
    ;(req as unknown as Record<string, string>)[e.field] = v
  }
  if (missing.length) throw new CniError(CniCode.INVALID_ENV, `required env variables [${missing.join(',')}] missing`)
  if (req.containerId && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(req.containerId)) {
    throw new CniError(CniCode.INVALID_ENV, 'invalid characters in containerID', req.containerId)
  }
  if (req.ifname && (req.ifname.length > 15 || req.ifname === '.' || req.ifname === '..' || /[/:\s]/.test(req.ifname))) {
    throw new CniError(CniCode.INVALID_ENV, 'invalid interface name', req.ifname)
  }
  return req
}

function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion
    if (typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) return v
  } catch {
    // fall through
  }
  return LATEST_VERSION
}

async function dispatch(req: CniRequest, ctx: PluginContext): Promise<object | undefined> {
  if (req.command === 'VERSION') {
    let v: string = LATEST_VERSION
    if (req.stdin.trim()) {
      const o = decodeStdin(req.stdin)
      if (o.cniVersion !== undefined) v = checkVersion(o.cniVersion)
    }
    return { cniVersion: v, supportedVersions: [...SUPPORTED_VERSIONS] }
  }
  const conf = parseConfig(req.stdin)
  switch (req.command) {
    case 'ADD':
      return renderResult(await cmdAdd(req, conf, ctx), conf.cniVersion)
    case 'DEL':
      return void (await cmdDel(req, conf, ctx))
    case 'CHECK':
      return void (await cmdCheck(req, conf, ctx))
    case 'GC':
      return void (await cmdGc(conf, ctx))
    case 'STATUS':
      return void cmdStatus(conf)
  }
}

/** Handle one CNI invocation completely: never throws. */
export async function handleCni(io: CniIo, ctx: PluginContext): Promise<CniOutcome> {
  try {
    const req = parseRequest(io)
    const out = await dispatch(req, ctx)
    return { exit: 0, stdout: out === undefined ? '' : JSON.stringify(out) + '\n' }
  } catch (err) {
    const e = asCniError(err)
    return { exit: 1, stdout: JSON.stringify(e.toJSON(versionOf(io.stdin))) + '\n' }
  }
}
