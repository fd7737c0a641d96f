export function objectKey(obj) {
    const ns = obj.metadata.namespace;
    return ns ? `${ns}/${obj.metadata.name}` : `${obj.metadata.name}`;
}
