// A minimal OpenAPI v2 document. kubectl 1.27–1.33 download /openapi/v2 (as gnostic
// protobuf) before `apply` and validation, and fail without one. An empty document is
// enough: kubectl skips schema validation for kinds it finds no schema for, and computes
// strategic merge patches from its compiled-in types instead.
import { VERSION } from '../version.js';
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
function varint(n) {
    const out = [];
    while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
}
/** A length-delimited protobuf field. */
function field(num, payload) {
    return Buffer.concat([varint((num << 3) | 2), varint(payload.length), payload]);
}
/** openapi_v2.Document{swagger: "2.0", info: {title, version}} in protobuf wire format. */
export function openapiV2Protobuf() {
    const info = Buffer.concat([field(1, Buffer.from('Kubernetes')), field(2, Buffer.from(VERSION.gitVersion))]);
    return Buffer.concat([field(1, Buffer.from('2.0')), field(2, info)]);
}
export function openapiV2Json() {
    return { swagger: '2.0', info: { title: 'Kubernetes', version: VERSION.gitVersion }, paths: {}, definitions: {} };
}
