// The CNI error catalogue (SPEC "Error"): one typed error carrying the spec's code. Exactly
// one place (skel.ts) turns it into `{cniVersion, code, msg, details}` on stdout.
export const CniCode = {
    INCOMPATIBLE_VERSION: 1,
    UNSUPPORTED_FIELD: 2,
    UNKNOWN_CONTAINER: 3,
    INVALID_ENV: 4,
    IO_FAILURE: 5,
    DECODE_FAILURE: 6,
    INVALID_CONFIG: 7,
    TRY_AGAIN: 11,
    NOT_AVAILABLE: 50,
    NOT_AVAILABLE_DAMAGED: 51,
    // netkube's own (100+)
    IPAM_EXHAUSTED: 100,
    KERNEL: 101,
    CHECK_FAILED: 102,
    INTERNAL: 999,
};
export class CniError extends Error {
    code;
    details;
    name = 'CniError';
    constructor(code, msg, details = '') {
        super(msg);
        this.code = code;
        this.details = details;
    }
    toJSON(cniVersion) {
        const out = { cniVersion, code: this.code, msg: this.message };
        if (this.details)
            out.details = this.details;
        return out;
    }
}
/** Any failure as a CniError: kernel errors keep their op/object text under code 101. */
export function asCniError(err) {
    if (err instanceof CniError)
        return err;
    if (err instanceof Error && err.name === 'NetError')
        return new CniError(CniCode.KERNEL, err.message);
    return new CniError(CniCode.INTERNAL, err instanceof Error ? err.message : String(err), err instanceof Error ? (err.stack ?? '') : '');
}
