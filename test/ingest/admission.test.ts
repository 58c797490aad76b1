import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { createAdmission } from '../../gateway/ingest/admission.js'
import { createGroupCommit } from '../../gateway/ingest/group-commit.js'
import { createMetrics } from '../../gateway/metrics.js'
import { publishBurst, startTestGateway } from '../support/gateway.js'

const heldTotal = async (metrics: ReturnType<typeof createMetrics>) => (await metrics.ingestHeld.get()).values[0]?.value ?? 0

describe('admission', () => {
  it('reads at once while there is room; past the limit holds reads, and makes each held one once room comes, in the order they came', async () => {
    let unanswered = 0
    const metrics = createMetrics()
    const admission = createAdmission({ limit: 2, unanswered: () => unanswered, metrics })
    const reads: string[] = []
    // A read that takes one packet in, as aedes's does: one more reading unanswered.
    const connection = (name: string) => () => {
      reads.push(name)
      unanswered++
    }
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(connection)

    admission.admit(a)
    admission.admit(a)
    expect(reads).toEqual(['a', 'a'])
    admission.admit(b)
    admission.admit(c)
    admission.admit(b)
    expect(reads).toEqual(['a', 'a'])
    expect(admission.held).toBe(2)
    expect(await heldTotal(metrics)).toBe(3)

    // One answered: b goes first and gets both its reads (aedes counts them), c waits for room.
    unanswered = 1
    admission.release()
    expect(reads).toEqual(['a', 'a', 'b', 'b'])
    expect(admission.held).toBe(1)

    // Room, but c came first: a newcomer reads behind it, not before.
    unanswered = 0
    admission.admit(d)
    expect(reads).toEqual(['a', 'a', 'b', 'b', 'c', 'd'])
    expect(admission.held).toBe(0)
  })

  it("passes aedes's errors on at once, even while others wait", () => {
    const admission = createAdmission({ limit: 1, unanswered: () => 5, metrics: createMetrics() })
    const seen: unknown[] = []
    admission.admit(() => seen.push('held'))
    const boom = new Error('parse error')
    admission.admit((err) => seen.push(err), boom)
    expect(seen).toEqual([boom])
    expect(admission.held).toBe(1)
  })

  it('counts a group commit item unanswered from when it is added until its callback runs', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => { open = resolve })
    const commits = createGroupCommit<number, number>({ maxBatch: 10, flush: async (items) => { await gate; return items } })
    const seen: number[] = []
    commits.add(1, () => seen.push(commits.unanswered))
    commits.add(2, () => seen.push(commits.unanswered))
    commits.add(3, () => seen.push(commits.unanswered))
    expect(commits.unanswered).toBe(3)
    open()
    await commits.idle()
    // The first flush took 1 alone; 2 and 3 went together once it was answered.
    expect(seen).toEqual([2, 1, 0])
  })
})

describe('an overloaded gateway holds devices back and loses nothing', () => {
  it('with room for 3 unanswered readings, 4 devices × 60 publishes at once: every one stored and acknowledged, the reads held', async () => {
    const t = await startTestGateway('postgres', { INGEST_MAX_PENDING: '3', INGEST_LINGER_MS: '20' })
    try {
      const sent = await publishBurst(t, `adm${process.pid}`, 4, 60)
      const [{ n }] = await t.gateway.database.query<{ n: number }>(sql`select count(*)::int as n from readings where device_id like ${`adm${process.pid}-%`}`)
      expect(n).toBe(sent)
      expect(await heldTotal(t.gateway.metrics)).toBeGreaterThan(0)
      expect((await t.gateway.http.inject({ url: '/metrics' })).body).toMatch(/^precall_ingest_held_reads 0$/m)
    } finally {
      await t.close()
    }
  })
})
