// The depth scanner that guards every JSON request body (json-body.ts): it must count only
// structural brackets, never ones inside strings, and refuse exactly past the limit.
import t from 'tap'
import { ApiError } from '../../src/apiserver/errors.js'
import { MAX_JSON_DEPTH, decodeJsonBody, findDepthOverflow } from '../../src/apiserver/json-body.js'
import { nestedJson } from './fuzz-cases.js'

const b = (s: string): Buffer => Buffer.from(s, 'utf8')

t.test('findDepthOverflow counts structure, not string contents', async (t) => {
  t.equal(findDepthOverflow(b('{"a":[1,{"b":2}]}'), 3), undefined, 'depth 3 within 3')
  t.same(findDepthOverflow(b('{"a":[1,{"b":2}]}'), 2), { offset: 8, char: '{' }, 'the third level is where it passes 2')
  t.equal(findDepthOverflow(b('[[]],[[]],[[]]'), 2), undefined, 'siblings do not add up')
  t.equal(findDepthOverflow(b(`{"s":"${'['.repeat(100)}"}`), 1), undefined, 'brackets inside a string')
  t.equal(findDepthOverflow(b(`{"s":"\\"${'{'.repeat(100)}"}`), 1), undefined, 'an escaped quote does not end the string')
  t.same(findDepthOverflow(b('{"s":"\\\\","t":{}}'), 1), { offset: 14, char: '{' }, 'an escaped backslash does end it')
  t.equal(findDepthOverflow(b(`{"ü🦄":"${'{'.repeat(10)}"}`), 1), undefined, 'multi-byte UTF-8 inside strings')
  t.equal(findDepthOverflow(b(nestedJson(MAX_JSON_DEPTH, true)), MAX_JSON_DEPTH), undefined, 'exactly the limit (arrays)')
  t.equal(findDepthOverflow(b(nestedJson(MAX_JSON_DEPTH, false)), MAX_JSON_DEPTH), undefined, 'exactly the limit (objects)')
  t.same(findDepthOverflow(b(nestedJson(MAX_JSON_DEPTH + 1, true)), MAX_JSON_DEPTH), { offset: MAX_JSON_DEPTH, char: '[' }, 'one past it')
  t.ok(findDepthOverflow(b(nestedJson(1_000_000, false)), MAX_JSON_DEPTH), 'a million levels: refused without recursing')
})

t.test('decodeJsonBody: past the limit a 400 BadRequest in upstream wording; within it the parsed value', async (t) => {
  t.same(decodeJsonBody(b(nestedJson(3, true))), [[[1]]])
  const deep = nestedJson(MAX_JSON_DEPTH + 1, false)
  const err = t.throws(() => decodeJsonBody(b(deep))) as unknown
  t.ok(err instanceof ApiError)
  const st = (err as ApiError).status
  t.match(st, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 })
  t.match(st.message, /^the body of the request was not valid JSON: invalid character '\{' at offset \d+: exceeded max depth of 512$/)
  const bad = t.throws(() => decodeJsonBody(b('{"a":'))) as ApiError
  t.match(bad.status, { reason: 'BadRequest', code: 400, message: /^the body of the request was not valid JSON: / })
})
