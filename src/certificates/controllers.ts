// The CSR controllers (kube-controller-manager's csrapproving and csrsigning), thin shells
// around policy.ts. They run with the controller manager (under its lease) inside `netkube
// server`, which holds the cluster CA:
// - approving: a kube-apiserver-client-kubelet CSR is approved when its requester may `create`
//   `certificatesigningrequests/selfnodeclient` (a node renewing its own certificate) or
//   `/nodeclient` (a bootstrap token), asked through a SubjectAccessReview as upstream does;
//   anything else waits for a human (`kubectl certificate approve|deny`);
// - signing: an approved CSR for one of the three kubernetes.io signers gets status.certificate
//   from the cluster CA, or a Failed condition (SignerValidationFailure) when the signer refuses it.
import type { Client } from '../client/interfaces.js'
import { ApiStatusErrorImpl, isConflict, isNotFound } from '../client/errors.js'
import { findResource } from '../api/resources.js'
import { QueueController } from '../controllers/base.js'
import { InformerFactory } from '../controllers/informers.js'
import { ControllerMetrics } from '../controllers/metrics.js'
import type { Informer } from '../client/informer.js'
import { createEventRecorder, type EventRecorder } from '../events/recorder.js'
import { signCsr, type ClusterCA } from '../authn/pki.js'
import { nowRfc3339 } from '../apiserver/strategy.js'
import { isApproved, isDenied, isFailed, isIssued, parseCsrObject, type CertificateSigningRequest, type CsrCondition } from './csr.js'
import { recognize, signPlan } from './policy.js'

const CSRS = findResource('certificates.k8s.io', 'v1', 'certificatesigningrequests')!
const PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests'

async function put(client: Client, csr: CertificateSigningRequest, sub: 'approval' | 'status'): Promise<void> {
  const res = await client.raw('PUT', `${PATH}/${encodeURIComponent(csr.metadata.name!)}/${sub}`, JSON.stringify(csr), 'application/json')
  if (res.status >= 300) throw ApiStatusErrorImpl.fromResponse(res.status, res.body, `update ${sub} of certificatesigningrequest ${csr.metadata.name}`)
}

const withCondition = (csr: CertificateSigningRequest, c: CsrCondition): CertificateSigningRequest => {
  const next = structuredClone(csr)
  next.status = { ...(next.status ?? {}), conditions: [...(next.status?.conditions ?? []), { ...c, lastUpdateTime: nowRfc3339() }] }
  return next
}

export class CsrApprovingController extends QueueController {
  private readonly told = new Set<string>()
  constructor(private readonly client: Client, private readonly csrs: Informer<CertificateSigningRequest>, metrics: ControllerMetrics, rec: EventRecorder) {
    super('csrapproving', metrics)
    this.recorder = rec
    csrs.addEventHandler({ onAdd: (c) => this.enqueue(c.metadata.name!), onUpdate: (_o, c) => this.enqueue(c.metadata.name!) })
  }

  /** SubjectAccessReview: may the CSR's requester create certificatesigningrequests/<sub>? */
  private async allowed(csr: CertificateSigningRequest, subresource: string): Promise<boolean> {
    const sar = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: csr.spec.username ?? '',
        uid: csr.spec.uid ?? '',
        groups: csr.spec.groups ?? [],
        ...(csr.spec.extra ? { extra: csr.spec.extra } : {}),
        resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create', subresource },
      },
    }
    const res = await this.client.raw('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', JSON.stringify(sar), 'application/json')
    if (res.status >= 300) throw new Error(`subjectaccessreview: ${res.status} ${res.body}`)
    return (JSON.parse(res.body) as { status?: { allowed?: boolean } }).status?.allowed === true
  }

  protected async sync(name: string): Promise<void> {
    const csr = this.csrs.store.get(name)
    if (!csr || isApproved(csr) || isDenied(csr) || isIssued(csr)) return
    let parsed
    try {
      parsed = parseCsrObject(csr)
    } catch {
      return // validation refused such a request at create; nothing to approve
    }
    const recognized = recognize(csr, parsed)
    for (const r of recognized) {
      if (!(await this.allowed(csr, r.subresource))) continue
      try {
        await put(this.client, withCondition(csr, { type: 'Approved', status: 'True', reason: 'AutoApproved', message: r.message }), 'approval')
        this.log.info({ csr: name, user: csr.spec.username, via: r.subresource }, 'auto-approved')
      } catch (err) {
        if (isNotFound(err)) return
        throw err // a conflict: the informer has the newer object; retried
      }
      return
    }
    // Not ours to approve: it waits for a human. Said once per CSR, as an Event on it.
    if (!this.told.has(csr.metadata.uid!)) {
      this.told.add(csr.metadata.uid!)
      const why = recognized.length
        ? `${csr.spec.username} may not create certificatesigningrequests/nodeclient or /selfnodeclient`
        : `not a node client certificate request (signer ${csr.spec.signerName})`
      this.recorder?.event(csr, 'Normal', 'WaitingForApproval', `Not auto-approved: ${why}; approve or deny it with kubectl certificate approve|deny`)
    }
  }
}

export class CsrSigningController extends QueueController {
  constructor(private readonly client: Client, private readonly csrs: Informer<CertificateSigningRequest>, private readonly ca: ClusterCA, private readonly maxSeconds: number, metrics: ControllerMetrics, rec: EventRecorder) {
    super('csrsigning', metrics)
    this.recorder = rec
    csrs.addEventHandler({ onAdd: (c) => this.enqueue(c.metadata.name!), onUpdate: (_o, c) => this.enqueue(c.metadata.name!) })
  }

  protected async sync(name: string): Promise<void> {
    const csr = this.csrs.store.get(name)
    if (!csr || !isApproved(csr) || isDenied(csr) || isFailed(csr) || isIssued(csr)) return
    let parsed
    try {
      parsed = parseCsrObject(csr)
    } catch (err) {
      return this.fail(csr, `unable to parse csr: ${(err as Error).message}`)
    }
    const plan = signPlan(csr, parsed, this.maxSeconds)
    if (!plan.sign) return plan.fail ? this.fail(csr, plan.fail) : undefined
    const pem = await signCsr(this.ca, Buffer.from(csr.spec.request, 'base64').toString('utf8'), plan.validSeconds, plan.ekus)
    const next = structuredClone(csr)
    next.status = { ...(next.status ?? {}), certificate: Buffer.from(pem).toString('base64') }
    try {
      await put(this.client, next, 'status')
      this.log.info({ csr: name, signer: csr.spec.signerName, subject: parsed.commonName, validSeconds: plan.validSeconds }, 'certificate issued')
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return // gone, or changed: the informer brings it back
      throw err
    }
  }

  private async fail(csr: CertificateSigningRequest, message: string): Promise<void> {
    this.recorder?.event(csr, 'Warning', 'SignerValidationFailure', message)
    try {
      await put(this.client, withCondition(csr, { type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message }), 'status')
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err
    }
  }
}

export interface CsrControllers {
  stop(): Promise<void>
}

/** Both controllers on one CSR informer; `maxSeconds` is --cluster-signing-duration (default one year). */
export async function startCsrControllers(o: { client: Client; ca: ClusterCA; maxSeconds?: number; workers?: number }): Promise<CsrControllers> {
  const f = new InformerFactory(o.client)
  const metrics = new ControllerMetrics()
  const csrs = f.get<CertificateSigningRequest>(CSRS)
  const approving = new CsrApprovingController(o.client, csrs, metrics, createEventRecorder({ client: o.client, component: 'certificatesigningrequest-approving-controller' }))
  const signing = new CsrSigningController(o.client, csrs, o.ca, o.maxSeconds ?? 365 * 86400, metrics, createEventRecorder({ client: o.client, component: 'certificatesigningrequest-signing-controller' }))
  await f.start()
  approving.run(o.workers ?? 1)
  signing.run(o.workers ?? 1)
  return {
    stop: async () => {
      await Promise.all([approving.stop(), signing.stop()])
      await f.stop()
    },
  }
}
