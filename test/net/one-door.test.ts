// One way into a namespace, one way to start a process. A scan of src/ and cni/ (comments
// stripped, so prose may still name the tools) holds the code to it:
//  - only src/util/exec.ts imports node:child_process;
//  - the argv that enters a namespace (nsenter, `ip netns exec`) is built only in entryArgv;
//  - only src/net runs the `ip` program or calls setns;
//  - the pre-handle wrappers (nsenterRun, execInNetns, …) are not used by new code.
// The rules are table-tested on made-up sources first, so a rule that stops matching fails here.
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

import { ROOT } from '../helpers/root.js'

interface Rule {
  name: string
  pattern: RegExp
  /** The file allowed to match, and (optionally) the one top-level function it must be in. */
  allowed: (file: string) => boolean
  onlyInFunction?: string
}

const inNet = (f: string): boolean => f.startsWith('src/net/')

const RULES: Rule[] = [
  { name: 'imports node:child_process', pattern: /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](?:node:)?child_process['"]/, allowed: (f) => f === 'src/util/exec.ts' },
  { name: 'builds a namespace-entry argv', pattern: /\bnsenter\b|--net=|\bnetns['"]?\s*,\s*['"]exec\b|\bip netns exec\b/, allowed: (f) => f === 'src/net/netns.ts', onlyInFunction: 'entryArgv' },
  {
    name: 'runs the ip program',
    pattern: /\b(?:run|runIn|start|spawn|spawnSync|execFile|execFileSync)\s*\(\s*['"]ip['"]|\[\s*['"]ip['"]\s*,\s*['"](?:-|link|addr|route|neigh|netns|rule)/,
    allowed: inNet,
  },
  { name: 'calls setns', pattern: /\bsetns\s*\(/, allowed: (f) => f === 'src/net/netns.ts' || f === 'src/net/native.ts' },
  { name: 'uses a pre-handle wrapper', pattern: /\b(?:nsenterRun|execInNetns|ipBatchIn|spawnInNetns)\b/, allowed: (f) => f === 'src/net/netns.ts' || f === 'src/net/spawn.ts' },
]

/**
 * Files other branches are changing right now (merged separately): their violations are listed,
 * not failed. An entry whose file is gone is reported so it can be deleted.
 */
const PENDING: Record<string, string> = {
}

/**
 * The text with comments blanked out (strings kept; newlines kept so line numbers hold), by
 * TypeScript's own scanner: regex literals and nested template literals cannot fool it.
 */
export function stripComments(src: string): string {
  const sc = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, src)
  const K = ts.SyntaxKind
  // after these a `/` divides; anywhere else it starts a regex literal
  const valueEnds = new Set([K.Identifier, K.NumericLiteral, K.StringLiteral, K.CloseParenToken, K.CloseBracketToken, K.CloseBraceToken, K.NoSubstitutionTemplateLiteral, K.TemplateTail, K.ThisKeyword])
  const braces: ('code' | 'template')[] = []
  let out = ''
  let prev: ts.SyntaxKind = K.Unknown
  for (let tok = sc.scan(); tok !== K.EndOfFileToken; tok = sc.scan()) {
    if ((tok === K.SlashToken || tok === K.SlashEqualsToken) && !valueEnds.has(prev)) tok = sc.reScanSlashToken()
    if (tok === K.CloseBraceToken && braces.pop() === 'template') tok = sc.reScanTemplateToken(false)
    if (tok === K.OpenBraceToken) braces.push('code')
    if (tok === K.TemplateHead || tok === K.TemplateMiddle) braces.push('template')
    const text = sc.getTokenText()
    const comment = tok === K.SingleLineCommentTrivia || tok === K.MultiLineCommentTrivia
    out += comment ? text.replace(/[^\n]/g, ' ') : text
    if (!comment && tok !== K.WhitespaceTrivia && tok !== K.NewLineTrivia) prev = tok
  }
  return out
}

/** [start, end) of a top-level `function NAME(` through its closing `}` at column 0. */
function functionSpan(text: string, name: string): [number, number] | undefined {
  const start = text.search(new RegExp(`^(?:export )?function ${name}\\(`, 'm'))
  if (start < 0) return undefined
  const end = text.indexOf('\n}\n', start)
  return end < 0 ? undefined : [start, end + 3]
}

export interface Violation {
  file: string
  line: number
  rule: string
  text: string
}

export function findViolations(files: { path: string; text: string }[]): Violation[] {
  const out: Violation[] = []
  for (const { path, text } of files) {
    const code = stripComments(text)
    const lines = code.split('\n')
    for (const rule of RULES) {
      const span = rule.allowed(path) && rule.onlyInFunction ? functionSpan(code, rule.onlyInFunction) : undefined
      if (rule.allowed(path) && rule.onlyInFunction && !span) {
        out.push({ file: path, line: 0, rule: `${rule.name}: function ${rule.onlyInFunction} not found`, text: '' })
        continue
      }
      let offset = 0
      lines.forEach((l, n) => {
        const at = offset
        offset += l.length + 1
        if (!rule.pattern.test(l)) return
        if (rule.allowed(path) && (!span || (at >= span[0] && at < span[1]))) return
        out.push({ file: path, line: n + 1, rule: rule.name, text: text.split('\n')[n]!.trim() })
      })
    }
  }
  return out
}

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'build') out.push(...sources(p))
    } else if (/\.(?:[cm]?ts|[cm]?js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

t.test('the rules catch each way around the door (made-up sources)', async (t) => {
  const cases: [string, string, string | string[] | undefined][] = [
    ['src/proxy/x.ts', `import { spawn } from 'node:child_process'`, 'imports node:child_process'],
    ['cni/x.ts', `import type { ChildProcess } from "child_process"`, 'imports node:child_process'],
    ['src/lab/x.ts', `const cp = await import('node:child_process')`, 'imports node:child_process'],
    ['src/lab/x.ts', `import 'child_process'`, 'imports node:child_process'],
    ['src/util/exec.ts', `import { spawn } from 'node:child_process'`, undefined],
    ['src/lab/x.ts', `const argv = ['nsenter', \`--net=\${p}\`, ...rest]`, 'builds a namespace-entry argv'],
    ['src/etcd/x.ts', `run('ip', ['netns', 'exec', ns, 'etcd'])`, ['builds a namespace-entry argv', 'runs the ip program']],
    ['src/net/nft.ts', `run('nsenter', ['--net=/run/netns/a', 'nft'])`, 'builds a namespace-entry argv'],
    ['src/net/netns.ts', `export function entryArgv(ref: string) {\n  return ['nsenter', \`--net=\${ref}\`]\n}\n`, undefined],
    ['src/net/netns.ts', `export function entryArgv() {\n  return []\n}\nexport function other() {\n  return ['nsenter']\n}\n`, 'builds a namespace-entry argv'],
    ['src/net/netns.ts', `export function renamed() {\n  return ['nsenter']\n}\n`, 'builds a namespace-entry argv: function entryArgv not found'],
    ['src/proxy/x.ts', `await run('ip', ['-j', 'route', 'show'])`, 'runs the ip program'],
    ['src/proxy/x.ts', `const argv = ['ip', 'route', 'replace', cidr]`, 'runs the ip program'],
    ['src/proxy/x.ts', `const q = s.replace(/'/g, \`'\\\\''\`); run('ip', ['-j'])`, 'runs the ip program'],
    ['src/proxy/x.ts', `const q = s.replace(/'/g, \`\${a} '\${\`\${b}'\`}' \`)\n// nsenter --net=x`, undefined],
    ['src/net/ipops.ts', `await run('ip', ['-j', 'route', 'show'])`, undefined],
    ['src/kubelet/x.ts', `addon.setns(fd)`, 'calls setns'],
    ['src/proxy/x.ts', `await nsenterRun(ns, 'cat', [p])`, 'uses a pre-handle wrapper'],
    ['src/proxy/x.ts', `// nsenter --net=/run/netns/x, like ip netns exec; run('ip', [])\n/* import 'node:child_process' */`, undefined],
    ['src/proxy/x.ts', `const s = 'http://x' + nft('ip', 'tbl')`, undefined],
  ]
  for (const [path, text, rule] of cases) {
    const v = findViolations([{ path, text }])
    if (rule) t.same(v.map((x) => x.rule), [rule].flat(), `${path}: ${text.split('\n')[0]}`)
    else t.same(v, [], `allowed: ${path}: ${text.split('\n')[0]}`)
  }
})

t.test('src/ and cni/ go through the one door', async (t) => {
  const files = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'cni'))].map((p) => ({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') }))
  t.ok(files.length > 50, `scanned ${files.length} files`)
  const all = findViolations(files)
  for (const [file, why] of Object.entries(PENDING)) {
    const mine = all.filter((v) => v.file === file)
    if (!existsSync(join(ROOT, file))) t.comment(`pending exception ${file} no longer exists: delete it from PENDING`)
    else t.comment(`pending (${why}): ${file}: ${mine.length} violation(s)`)
  }
  const real = all.filter((v) => !(v.file in PENDING))
  t.same(real.map((v) => `${v.file}:${v.line}: ${v.rule}: ${v.text}`), [], 'no violations')
})
