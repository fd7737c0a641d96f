// ObjectMeta rules (apimachinery ValidateObjectMeta / ValidateObjectMetaUpdate).
import { forbidden, invalid, required, tooLong } from '../field-errors.js';
import { isDNS1123Label, isQualifiedName } from '../names.js';
import { asArray, asObj, asString, asStringMap, immutable, isObj, validateLabels } from './common.js';
/** Total size of annotation keys+values, as TotalAnnotationSizeLimitB. */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;
const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];
export function validateObjectMeta(r, metaIn, nameFn, errs, path = 'metadata') {
    const meta = asObj(metaIn, path, errs);
    if (!meta) {
        errs.push(required(`${path}.name`, 'name or generateName is required'));
        return;
    }
    const name = asString(meta.name, `${path}.name`, errs);
    const gen = asString(meta.generateName, `${path}.generateName`, errs);
    if (gen) {
        // A generateName prefix may end in '-': validate it as if the dash were not there.
        const masked = gen.endsWith('-') ? gen.slice(0, -1) + 'a' : gen;
        for (const m of nameFn(masked))
            errs.push(invalid(`${path}.generateName`, gen, m));
    }
    if (!name) {
        if (!gen)
            errs.push(required(`${path}.name`, 'name or generateName is required'));
    }
    else {
        for (const m of nameFn(name))
            errs.push(invalid(`${path}.name`, name, m));
    }
    const ns = asString(meta.namespace, `${path}.namespace`, errs);
    if (r.namespaced) {
        if (!ns)
            errs.push(required(`${path}.namespace`));
        else
            for (const m of isDNS1123Label(ns))
                errs.push(invalid(`${path}.namespace`, ns, m));
    }
    else if (ns) {
        errs.push(forbidden(`${path}.namespace`, 'not allowed on this type'));
    }
    validateLabels(meta.labels, `${path}.labels`, errs);
    validateAnnotations(meta.annotations, `${path}.annotations`, errs);
    validateOwnerReferences(meta.ownerReferences, `${path}.ownerReferences`, errs);
    validateFinalizers(meta.finalizers, `${path}.finalizers`, errs);
}
export function validateAnnotations(v, path, errs) {
    const ann = asStringMap(v, path, errs);
    let total = 0;
    for (const [k, val] of Object.entries(ann)) {
        for (const m of isQualifiedName(k.toLowerCase()))
            errs.push(invalid(path, k, m));
        total += Buffer.byteLength(k) + Buffer.byteLength(val);
    }
    if (total > ANNOTATIONS_MAX_BYTES)
        errs.push(tooLong(path, '', ANNOTATIONS_MAX_BYTES));
}
function validateOwnerReferences(v, path, errs) {
    const refs = asArray(v, path, errs);
    const controllers = [];
    refs.forEach((raw, i) => {
        const p = `${path}[${i}]`;
        const ref = asObj(raw, p, errs);
        if (!ref)
            return;
        for (const f of ['apiVersion', 'kind', 'name', 'uid']) {
            const s = asString(ref[f], `${p}.${f}`, errs);
            if (!s)
                errs.push(f === 'apiVersion' ? invalid(`${p}.apiVersion`, ref.apiVersion ?? '', 'version must not be empty') : required(`${p}.${f}`));
        }
        if (ref.controller === true)
            controllers.push(String(ref.name));
    });
    if (controllers.length > 1)
        errs.push(invalid(path, refs, `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`));
}
function validateFinalizers(v, path, errs) {
    const list = asArray(v, path, errs);
    const seen = new Set();
    list.forEach((raw, i) => {
        const f = asString(raw, `${path}[${i}]`, errs);
        if (f === undefined)
            return;
        const msgs = isQualifiedName(f);
        for (const m of msgs)
            errs.push(invalid(path, f, m));
        if (msgs.length === 0 && !f.includes('/') && !STANDARD_FINALIZERS.includes(f))
            errs.push(invalid(path, f, 'name is neither a standard finalizer name nor is it fully qualified'));
        if (seen.has(f))
            errs.push({ type: 'FieldValueDuplicate', field: path, value: f, message: `Duplicate value: ${JSON.stringify(f)}` });
        seen.add(f);
    });
}
/** Name, namespace and uid never change. */
export function validateObjectMetaUpdate(newMeta, oldMeta, errs) {
    if (!isObj(newMeta) || !isObj(oldMeta))
        return;
    immutable(newMeta.name, oldMeta.name, 'metadata.name', errs);
    immutable(newMeta.namespace ?? '', oldMeta.namespace ?? '', 'metadata.namespace', errs);
    if (newMeta.uid !== undefined && oldMeta.uid !== undefined)
        immutable(newMeta.uid, oldMeta.uid, 'metadata.uid', errs);
    // deletionTimestamp/creationTimestamp/generation are carried over by the apiserver, not checked here.
}
