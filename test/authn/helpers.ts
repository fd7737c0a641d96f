// HTTPS requests with a chosen credential (client certificate and/or bearer token) to a test apiserver.
import { request } from 'node:https'

export interface Cred {
  cert?: string
  key?: string
  token?: string
  authorization?: string
}

export function call(srv: { url: string; caPem: string }, method: string, path: string, cred: Cred = {}, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (cred.token) headers.authorization = `Bearer ${cred.token}`
  if (cred.authorization !== undefined) headers.authorization = cred.authorization
  if (payload) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
  }
  return new Promise((resolve, reject) => {
    // agent: false: a fresh TLS handshake per call, so each certificate is judged on its own.
    const req = request(new URL(path, srv.url), { method, headers, ca: srv.caPem, agent: false, ...(cred.cert ? { cert: cred.cert, key: cred.key } : {}) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch {
          parsed = undefined
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text })
      })
    })
    req.on('error', reject)
    if (payload) req.write(payload)
    req.end()
  })
}

export const UNAUTHORIZED = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }
