/**
 * Reads a finished run again from its JSON: prints its table and draws its throughput chart (`npm
 * run bench` does both itself). Each row's sustained rate is worked out again from its steps with
 * the rule the bench has now (see sustainedOf); each step's verdict stays as it was recorded (a
 * run before a1d6286 judged every step its generator fell short on as not kept up), and so does
 * the rate of its half-load step.
 *
 *   npm run bench:chart -- bench/results/2026-11-24-3.json   # the table, and bench/results/2026-11-24-3.svg
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { chartTitle, renderThroughputChart } from './chart.js'
import { formatNotes, formatTable, type RunRow } from './report.js'
import { sustainedOf } from './step-load.js'

const file = process.argv[2]
if (!file?.endsWith('.json')) {
  console.error('usage: npm run bench:chart -- RESULTS.json')
  process.exit(2)
}
const run = JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof chartTitle>[0] & { rows: RunRow[] }
const rows = run.rows.map((r) => ({ ...r, sustainedPerSecond: sustainedOf(r.steps) }))
console.log(formatTable(rows))
for (const note of formatNotes(rows)) console.log(`- ${note}`)
const out = file.replace(/\.json$/, '.svg')
writeFileSync(out, renderThroughputChart(rows, chartTitle(run)))
console.error(`throughput chart: ${out}`)
