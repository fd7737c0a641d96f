// Shared bits of the apiserver tests: requests through fastify's inject (no socket).
import type { TestApiServer } from '../helpers/apiserver.js'

export interface InjectResult {
  status: number
  body: any
  text: string
  headers: Record<string, unknown>
}

export async function inj(
  srv: TestApiServer,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
  opts: { contentType?: string; accept?: string; token?: string | null; raw?: string | Buffer } = {},
): Promise<InjectResult> {
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' }
  const token = opts.token === undefined ? srv.token : opts.token
  if (token) headers.authorization = `Bearer ${token}`
  const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body))
  if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json'
  const res = await srv.server.app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) })
  let parsed: unknown
  try {
    parsed = res.body ? JSON.parse(res.body) : undefined
  } catch {
    parsed = undefined
  }
  return { status: res.statusCode, body: parsed, text: res.body, headers: res.headers }
}

export const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels ? { labels } : {}) },
  data,
})

export const pod = (name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'agnhost' }], ...extra },
})

export const deployment = (name: string, replicas = 1) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } },
  },
})

export const service = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }], ...spec },
})
