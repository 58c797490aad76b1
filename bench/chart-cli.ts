/**
 * Draws the throughput chart of a finished run again from its JSON (`npm run bench` draws it
 * itself, next to the JSON file):
 *
 *   npm run bench:chart -- bench/results/2026-11-24-3.json   # writes bench/results/2026-11-24-3.svg
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { chartTitle, renderThroughputChart } from './chart.js'

const file = process.argv[2]
if (!file?.endsWith('.json')) {
  console.error('usage: npm run bench:chart -- RESULTS.json')
  process.exit(2)
}
const run = JSON.parse(readFileSync(file, 'utf8'))
const out = file.replace(/\.json$/, '.svg')
writeFileSync(out, renderThroughputChart(run.rows, chartTitle(run)))
console.log(out)
