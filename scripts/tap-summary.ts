// `node dist/scripts/tap-summary.js RUN.tap…`: the closing block of scripts/test.sh, counted from
// the TAP files the tap invocations wrote. Exits 1 when any point failed.
import { readFileSync } from 'node:fs'
import { closingLines, countTap } from './tap-count.js'

const tally = countTap(process.argv.slice(2).map((f) => readFileSync(f, 'utf8')))
for (const line of closingLines(tally)) console.log(line)
process.exitCode = tally.fail > 0 ? 1 : 0
