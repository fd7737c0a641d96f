// The CSR admission plugins of kube-apiserver (plugin/pkg/admission/certificates):
// - CertificateApproval: a write to `/approval` needs `approve` on `certificates.k8s.io/signers`
//   named the CSR's signerName (or `<domain>/*`);
// - CertificateSigning: a `/status` write that changes status.certificate needs `sign` likewise;
// - CertificateSubjectRestriction: no `kubernetes.io/kube-apiserver-client` CSR for system:masters.
import type { AdmissionRequest, ValidatingAdmission } from '../apiserver/admission.js'
import type { Authorizer } from '../apiserver/authorizer.js'
import * as E from '../apiserver/errors.js'
import { CERTIFICATES_GROUP, parseCsrObject, SIGNER_APISERVER_CLIENT, type CertificateSigningRequest } from './csr.js'

/** Whether `user` may `verb` the signer (its exact name, then the `<domain>/*` wildcard), as upstream's IsAuthorizedForSignerName. */
export async function authorizedForSigner(authz: Authorizer, user: AdmissionRequest['user'], verb: string, signerName: string): Promise<boolean> {
  const ask = async (name: string): Promise<boolean> =>
    (await authz.authorize({ user, verb, resourceRequest: true, path: '', namespace: '', apiGroup: CERTIFICATES_GROUP, apiVersion: '*', resource: 'signers', subresource: '', name })).decision === 'allow'
  if (await ask(signerName)) return true
  const slash = signerName.indexOf('/')
  return slash > 0 && ask(`${signerName.slice(0, slash)}/*`)
}

export function csrAdmission(authz: Authorizer): ValidatingAdmission {
  return async (a) => {
    if (a.r.group !== CERTIFICATES_GROUP || a.r.kind !== 'CertificateSigningRequest' || !a.obj) return
    const csr = a.obj as CertificateSigningRequest
    const signer = csr.spec?.signerName ?? ''
    const refuse = (why: string): E.ApiError => E.forbidden({ group: CERTIFICATES_GROUP, resource: a.r.plural }, a.name, why)
    if (a.op === 'create' && signer === SIGNER_APISERVER_CLIENT) {
      let groups: string[] = []
      try {
        groups = parseCsrObject(csr).organizations
      } catch {
        return // validation has refused it already
      }
      if (groups.includes('system:masters')) throw refuse(`use of ${SIGNER_APISERVER_CLIENT} signer with system:masters group is not allowed`)
    }
    if (a.op !== 'update') return
    if (a.sub === 'approval' && !(await authorizedForSigner(authz, a.user, 'approve', signer)))
      throw refuse(`user not permitted to approve requests with signerName ${JSON.stringify(signer)}`)
    const old = a.old as CertificateSigningRequest | undefined
    if (a.sub === 'status' && (csr.status?.certificate ?? '') !== (old?.status?.certificate ?? '') && !(await authorizedForSigner(authz, a.user, 'sign', signer)))
      throw refuse(`user not permitted to sign requests with signerName ${JSON.stringify(signer)}`)
  }
}
