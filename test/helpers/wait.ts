// Polling for a condition that other processes make true, with the last error in the message.
export async function waitUntil(what: string, fn: () => Promise<boolean | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      if (await fn()) return
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`)
}
