/**
 * Group-commit backlog benchmark: the group commit alone, no database. Queues a backlog of N items
 * at once, as an overloaded gateway's readings wait for their commits, and drains it with flushes
 * that answer at once (batches of 1,000, 4 in flight, as the reading writer on PostgreSQL). Prints
 * what an item cost for each backlog and its ratio to the smallest: a queue whose bookkeeping
 * grows with its own length shows ratios well above 1. A benchmark, not a test: it asserts nothing.
 *
 *   npm run bench:drain -- [--backlogs 10000,100000,300000] [--rounds 3]
 */
import { parseArgs } from 'node:util'
import { createGroupCommit } from '../gateway/ingest/group-commit.js'

const { values: flags } = parseArgs({
  options: { backlogs: { type: 'string', default: '10000,100000,300000' }, rounds: { type: 'string', default: '3' } },
})
const backlogs = flags.backlogs.split(',').map(Number)
const rounds = Number(flags.rounds)

async function drain(items: number): Promise<number> {
  const commits = createGroupCommit<number, number>({ flush: async (batch) => batch, maxBatch: 1000, concurrency: 4 })
  let answered = 0
  const started = performance.now()
  for (let i = 0; i < items; i++) commits.add(i, () => { answered++ })
  await commits.idle()
  const ms = performance.now() - started
  if (answered !== items) throw new Error(`${answered} of ${items} answered`)
  return ms
}

// Drains that count for nothing warm the JIT up first; the best of the rounds after them counts.
// A backlog under ~10,000 drains in a few milliseconds, where one scavenge moves the figure by
// several times (CI's smoke, 1,000 and 5,000 in one round, is there so the script runs, not to read).
for (let i = 0; i < 3; i++) await drain(20_000)
const perItem = new Map<number, number>()
for (const items of backlogs) {
  let best = Infinity
  for (let round = 0; round < rounds; round++) best = Math.min(best, await drain(items))
  perItem.set(items, (best * 1000) / items)
}
const smallest = perItem.get(backlogs[0]!)!
console.log(`group commit, a backlog drained in batches of 1,000 (best of ${rounds})`)
for (const [items, us] of perItem) console.log(`  ${String(items).padStart(8)} items: ${us.toFixed(2)} µs an item, ${(us / smallest).toFixed(2)} × the ${backlogs[0]}-item backlog's`)
