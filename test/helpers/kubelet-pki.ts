// A throwaway cluster PKI for kubelet tests: the CA, a kubelet serving certificate for
// 127.0.0.1, the apiserver's kubelet-client identity and a stranger's client certificate
// (chained to the same CA, but not the apiserver). Removed on teardown.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { ensureKubeletClientCert, issueCert, issueKubeletServingCert, type IssuedCert } from '../../src/apiserver/certs.js'
import { KubeletClient } from '../../src/apiserver/kubelet-client.js'
import type { KubeletTLS } from '../../src/kubelet/tls.js'

export interface KubeletPki {
  dir: string
  caPem: string
  kubeletTLS: KubeletTLS
  apiserverClient: IssuedCert
  stranger: IssuedCert
  /** The apiserver's client for kubelets, verifying them against this CA. */
  client: KubeletClient
}

export async function withKubeletPki(t: Test, nodeName = 'node-a'): Promise<KubeletPki> {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kpki-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const pki = join(dir, 'pki')
  const serving = await issueKubeletServingCert(pki, join(dir, 'kubelet'), nodeName, ['127.0.0.1'])
  const apiserverClient = await ensureKubeletClientCert(pki)
  const stranger = await issueCert(pki, join(dir, 'stranger'), 'client', { cn: 'mallory', orgs: ['system:authenticated'], usage: 'clientAuth' })
  const caPem = readFileSync(join(pki, 'ca.crt'), 'utf8')
  return {
    dir,
    caPem,
    kubeletTLS: { certPem: serving.certPem, keyPem: serving.keyPem, clientCaPem: caPem },
    apiserverClient,
    stranger,
    client: new KubeletClient({ caPem, certPem: apiserverClient.certPem, keyPem: apiserverClient.keyPem }),
  }
}

/** A kubelet serving identity from a test apiserver's own cluster CA (its state dir's pki/), so that apiserver's kubelet client trusts it. */
export async function kubeletTLSFromApiServer(apiStateDir: string, dir: string, nodeName: string): Promise<KubeletTLS> {
  const pki = join(apiStateDir, 'pki')
  const serving = await issueKubeletServingCert(pki, join(dir, 'kubelet-serving'), nodeName, ['127.0.0.1'])
  return { certPem: serving.certPem, keyPem: serving.keyPem, clientCaPem: readFileSync(join(pki, 'ca.crt'), 'utf8') }
}
