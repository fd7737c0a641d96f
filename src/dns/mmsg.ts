// Loader for the optional batched-UDP addon in ./native (recvmmsg/sendmmsg driven by uv_poll).
// Absent, built for another ABI, or NETKUBE_DNS_NO_MMSG=1: null, and the server keeps dgram.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

export interface MmsgHandle { readonly __mmsg: unique symbol }
/** Called once per batch; returns a flat [addr, reply, addr, reply, …] list to send in one sendmmsg. */
export type BatchFn = (packets: Buffer[], addrs: Buffer[]) => Buffer[]
export interface MmsgAddon {
  start(fd: number, onBatch: BatchFn): MmsgHandle
  stop(h: MmsgHandle): void
  sendTo(h: MmsgHandle, addr: Buffer, payload: Buffer): void
}

let addon: MmsgAddon | null | undefined

export function loadMmsg(): MmsgAddon | null {
  if (process.env.NETKUBE_DNS_NO_MMSG === '1') return null
  if (addon !== undefined) return addon
  addon = null
  const req = createRequire(import.meta.url)
  const rel = 'native/build/Release/netkube_mmsg.node'
  for (const c of [
    fileURLToPath(new URL(`./${rel}`, import.meta.url)), // running from src/ (tap)
    fileURLToPath(new URL(`../../../src/dns/${rel}`, import.meta.url)), // running from dist/src/dns
  ]) {
    if (!existsSync(c)) continue
    try {
      addon = req(c) as MmsgAddon
      break
    } catch {
      // another Node ABI: fall back
    }
  }
  return addon
}
