// A small YAML reader for the subset kubeconfig files use (what `kubectl config view`,
// kubeadm and kube-apiserver tooling write): block mappings, block sequences (also at the
// parent key's indentation, kubectl's style), plain/quoted scalars, comments, flow `{}`/`[]`,
// `|`/`>` block scalars, and JSON (which is YAML). Not a general YAML parser: anchors, tags and
// multi-document streams are refused with an error naming the line.
export class YamlError extends Error {
    constructor(msg, line) {
        super(line === undefined ? msg : `line ${line}: ${msg}`);
        this.name = 'YamlError';
    }
}
/** Parses JSON or the block-YAML subset above. */
export function parseYaml(src) {
    const trimmed = src.trim();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
        try {
            return JSON.parse(trimmed);
        }
        catch {
            // flow YAML that is not JSON: fall through to the block parser, which will refuse it
        }
    }
    const p = new Parser(src);
    return p.parseDocument();
}
class Parser {
    lines = [];
    i = 0;
    raw;
    constructor(src) {
        this.raw = src.replace(/^\uFEFF/, '').split(/\r?\n/);
        this.raw.forEach((text, idx) => {
            if (/^\s*(#.*)?$/.test(text))
                return;
            if (text === '---' && this.lines.length === 0)
                return;
            if (text === '---' || text === '...') {
                if (text === '---')
                    throw new YamlError('multi-document streams are not supported', idx + 1);
                return;
            }
            if (/^\s*\t/.test(text))
                throw new YamlError('tabs are not allowed for indentation', idx + 1);
            const indent = text.length - text.trimStart().length;
            this.lines.push({ no: idx + 1, indent, text: text.trimStart().replace(/\s+$/, '') });
        });
    }
    parseDocument() {
        if (this.lines.length === 0)
            return null;
        const first = this.lines[0];
        const v = this.parseBlock(first.indent);
        if (this.i < this.lines.length) {
            const l = this.lines[this.i];
            throw new YamlError(`unexpected content at indentation ${l.indent}: ${l.text}`, l.no);
        }
        return v;
    }
    peek() {
        return this.lines[this.i];
    }
    parseBlock(indent) {
        const l = this.peek();
        if (isSeqItem(l.text))
            return this.parseSeq(indent);
        if (findMapColon(l.text) >= 0)
            return this.parseMap(indent);
        this.i++;
        return parseScalar(l.text, l.no);
    }
    parseSeq(indent) {
        const out = [];
        for (let l = this.peek(); l && l.indent === indent && isSeqItem(l.text); l = this.peek()) {
            const rest = l.text === '-' ? '' : l.text.slice(2).trimStart();
            if (rest === '') {
                this.i++;
                const next = this.peek();
                out.push(next && next.indent > indent ? this.parseBlock(next.indent) : null);
                continue;
            }
            // "- key: value" opens a mapping whose keys sit where "key" starts.
            const childIndent = indent + (l.text.length - rest.length);
            if (isSeqItem(rest) || findMapColon(rest) >= 0) {
                this.lines[this.i] = { no: l.no, indent: childIndent, text: rest };
                out.push(this.parseBlock(childIndent));
            }
            else {
                this.i++;
                out.push(this.scalarOrBlockScalar(rest, l.no, indent));
            }
        }
        return out;
    }
    parseMap(indent) {
        const out = {};
        for (let l = this.peek(); l && l.indent === indent && !isSeqItem(l.text); l = this.peek()) {
            const colon = findMapColon(l.text);
            if (colon < 0)
                throw new YamlError(`expected "key: value", got: ${l.text}`, l.no);
            const key = parseKey(l.text.slice(0, colon), l.no);
            const rest = l.text.slice(colon + 1).trim();
            this.i++;
            if (rest === '' || rest.startsWith('#')) {
                const next = this.peek();
                if (next && next.indent > indent)
                    out[key] = this.parseBlock(next.indent);
                else if (next && next.indent === indent && isSeqItem(next.text))
                    out[key] = this.parseSeq(indent);
                else
                    out[key] = null;
            }
            else {
                out[key] = this.scalarOrBlockScalar(rest, l.no, indent);
            }
        }
        return out;
    }
    /** A value on the key's line: a scalar, a flow collection, or the header of a | / > block. */
    scalarOrBlockScalar(text, no, parentIndent) {
        const m = /^([|>])([+-]?)\s*(#.*)?$/.exec(text);
        if (!m)
            return parseScalar(text, no);
        // Block scalars: take raw lines (blank ones included) indented deeper than the parent.
        const startRaw = no; // raw index of the next line
        const body = [];
        let rawIdx = startRaw;
        let blockIndent = -1;
        while (rawIdx < this.raw.length) {
            const t = this.raw[rawIdx];
            if (t.trim() === '') {
                body.push('');
                rawIdx++;
                continue;
            }
            const ind = t.length - t.trimStart().length;
            if (ind <= parentIndent)
                break;
            if (blockIndent < 0)
                blockIndent = ind;
            if (ind < blockIndent)
                break;
            body.push(t.slice(blockIndent));
            rawIdx++;
        }
        // Skip the parsed lines in the line table.
        while (this.i < this.lines.length && this.lines[this.i].no <= rawIdx)
            this.i++;
        while (body.length && body[body.length - 1] === '')
            body.pop();
        let s = m[1] === '|' ? body.join('\n') : foldLines(body);
        if (m[2] !== '-')
            s += '\n';
        return s;
    }
}
function foldLines(lines) {
    let out = '';
    for (let k = 0; k < lines.length; k++) {
        const l = lines[k];
        if (k === 0)
            out = l;
        else if (l === '')
            out += '\n';
        else
            out += (out.endsWith('\n') || out === '' ? '' : ' ') + l;
    }
    return out;
}
function isSeqItem(text) {
    return text === '-' || text.startsWith('- ');
}
/** Index of the ':' that separates key from value (outside quotes), or -1. */
function findMapColon(text) {
    if (text.startsWith('{') || text.startsWith('['))
        return -1;
    let k = 0;
    if (text[0] === '"' || text[0] === "'") {
        const q = text[0];
        k = 1;
        while (k < text.length) {
            if (q === '"' && text[k] === '\\')
                k += 2;
            else if (text[k] === q) {
                if (q === "'" && text[k + 1] === "'")
                    k += 2;
                else
                    break;
            }
            else
                k++;
        }
        k++;
        return text[k] === ':' && (k + 1 === text.length || text[k + 1] === ' ') ? k : -1;
    }
    for (; k < text.length; k++) {
        if (text[k] === ':' && (k + 1 === text.length || text[k + 1] === ' '))
            return k;
        if (text[k] === ' ' && text[k + 1] === '#')
            return -1;
    }
    return -1;
}
function parseKey(raw, no) {
    const v = parseScalar(raw.trim(), no);
    return v === null ? 'null' : String(v);
}
function parseScalar(text, no) {
    if (text.startsWith('&') || text.startsWith('*') || text.startsWith('!')) {
        throw new YamlError(`anchors, aliases and tags are not supported: ${text}`, no);
    }
    if (text.startsWith('"')) {
        const end = closingQuote(text, '"');
        if (end < 0)
            throw new YamlError(`unterminated string: ${text}`, no);
        checkTrailing(text.slice(end + 1), no);
        try {
            return JSON.parse(text.slice(0, end + 1).replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1'));
        }
        catch {
            throw new YamlError(`bad escape in string: ${text}`, no);
        }
    }
    if (text.startsWith("'")) {
        const end = closingQuote(text, "'");
        if (end < 0)
            throw new YamlError(`unterminated string: ${text}`, no);
        checkTrailing(text.slice(end + 1), no);
        return text.slice(1, end).replace(/''/g, "'");
    }
    if (text.startsWith('{') || text.startsWith('[')) {
        const flow = stripComment(text);
        if (flow === '{}')
            return {};
        if (flow === '[]')
            return [];
        try {
            return JSON.parse(flow);
        }
        catch {
            throw new YamlError(`flow collections other than JSON are not supported: ${text}`, no);
        }
    }
    const plain = stripComment(text);
    if (/^(null|Null|NULL|~)?$/.test(plain))
        return null;
    if (/^(true|True|TRUE)$/.test(plain))
        return true;
    if (/^(false|False|FALSE)$/.test(plain))
        return false;
    if (/^[-+]?(0|[1-9][0-9]*)$/.test(plain)) {
        const n = Number(plain);
        if (Number.isSafeInteger(n))
            return n;
    }
    if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(plain))
        return Number(plain);
    return plain;
}
function closingQuote(text, q) {
    for (let k = 1; k < text.length; k++) {
        if (q === '"' && text[k] === '\\') {
            k++;
            continue;
        }
        if (text[k] === q) {
            if (q === "'" && text[k + 1] === "'") {
                k++;
                continue;
            }
            return k;
        }
    }
    return -1;
}
function checkTrailing(rest, no) {
    const r = rest.trim();
    if (r !== '' && !r.startsWith('#'))
        throw new YamlError(`unexpected text after string: ${rest}`, no);
}
function stripComment(text) {
    const m = /\s#/.exec(text);
    return (m ? text.slice(0, m.index) : text).trim();
}
