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
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => admission.admitter(connection(name)))

    a()
    a()
    expect(reads).toEqual(['a', 'a'])
    b()
    c()
    b()
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
    d()
    expect(reads).toEqual(['a', 'a', 'b', 'b', 'c', 'd'])
    expect(admission.held).toBe(0)
  })

  it("passes aedes's errors on at once, even while others wait", () => {
    const admission = createAdmission({ limit: 1, unanswered: () => 5, metrics: createMetrics() })
    const seen: unknown[] = []
    admission.admitter(() => seen.push('held'))()
    const boom = new Error('parse error')
    admission.admitter((err) => seen.push(err))(boom)
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

/** A burst from `devices` × `each` at once on a gateway with `env`: every publish stored and acknowledged, some reads held, none left held. */
async function expectBurstStoredWithReadsHeld(env: Record<string, string>, prefix: string, devices: number, each: number) {
  const t = await startTestGateway('postgres', env)
  try {
    const sent = await publishBurst(t, prefix, devices, each)
    const [{ n }] = await t.gateway.database.query<{ n: number }>(sql`select count(*)::int as n from readings where device_id like ${`${prefix}-%`}`)
    expect(n).toBe(sent)
    // A scrape first: a broker thread sends what it has counted before /metrics answers.
    expect((await t.gateway.http.inject({ url: '/metrics' })).body).toMatch(/^precall_ingest_held_reads 0$/m)
    expect(await heldTotal(t.gateway.metrics)).toBeGreaterThan(0)
  } finally {
    await t.close()
  }
}

describe('an overloaded gateway holds devices back and loses nothing', () => {
  it('with room for 3 unanswered readings, 4 devices × 60 publishes at once: every one stored and acknowledged, the reads held', async () => {
    await expectBurstStoredWithReadsHeld({ INGEST_MAX_PENDING: '3', INGEST_LINGER_MS: '20' }, `adm${process.pid}`, 4, 60)
  })

  it('with the broker on its own thread, the same: its admission counts the readings on their way to the event loop\'s thread', async () => {
    await expectBurstStoredWithReadsHeld({ INGEST_MAX_PENDING: '3', INGEST_LINGER_MS: '20', MQTT_BROKER_THREAD: 'true' }, `adt${process.pid}`, 4, 60)
  })
})

describe('a read budget a turn', () => {
  /** A socket handle as net.js drives it, recording what admission does to it. */
  const fakeConnection = (log: string[], name: string) => {
    const handle = { reading: true, readStop: () => { log.push(`${name} stopped`); return 0 }, readStart: () => { log.push(`${name} started`); return 0 } }
    return { _handle: handle }
  }
  const busy = (ms: number) => { const until = performance.now() + ms; while (performance.now() < until) { /* a read that takes `ms` */ } }
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

  it('reads at once until a turn has spent the budget, then holds the rest with their sockets stopped and reads them from the next turn on, oldest first, restarting each socket', async () => {
    const log: string[] = []
    const admission = createAdmission({ limit: 100, unanswered: () => 0, metrics: createMetrics(), readBudgetMs: 2, longPollConnections: 1 })
    const reader = (name: string) => () => { log.push(`${name} read`); busy(3) }
    const [ca, cb, cc] = ['a', 'b', 'c'].map((n) => fakeConnection(log, n))
    const [a, b, c] = [ca, cb, cc].map((socket, i) => admission.admitter(reader('abc'[i]!), socket))

    a()
    b()
    c()
    // a spent the budget: b and c wait, their sockets raising no more events meanwhile.
    expect(log).toEqual(['a read', 'b stopped', 'c stopped'])
    expect(admission.held).toBe(2)
    expect(cb._handle.reading).toBe(false)

    await nextTurn()
    // The next turn's budget goes to b, the first held; c waits one more.
    expect(log.slice(3)).toEqual(['b started', 'b read'])
    expect(cb._handle.reading).toBe(true)
    expect(admission.held).toBe(1)
    await nextTurn()
    expect(log.slice(5)).toEqual(['c started', 'c read'])
    expect(admission.held).toBe(0)
  })

  it('without a budget, or before a turn has read as many connections as a poll that runs on, reads everything in the same turn and stops no socket', () => {
    for (const opts of [{ readBudgetMs: 0, longPollConnections: 1 }, { readBudgetMs: 2, longPollConnections: 3 }]) {
      const log: string[] = []
      const admission = createAdmission({ limit: 100, unanswered: () => 0, metrics: createMetrics(), ...opts })
      // a is read twice (it counts once): the budget binds from the third connection on.
      const a = admission.admitter(() => { log.push('a read'); busy(3) }, fakeConnection(log, 'a'))
      a()
      a()
      admission.admitter(() => { log.push('b read'); busy(3) }, fakeConnection(log, 'b'))()
      expect(log).toEqual(['a read', 'a read', 'b read'])
    }
  })

  it('connections held for room stop reading and start again, with no budget: 20 devices × 30 publishes at once, every one stored and acknowledged', async () => {
    // Held connections stop reading their sockets and start again when released.
    await expectBurstStoredWithReadsHeld({ INGEST_READ_BUDGET_MS: '0', INGEST_MAX_PENDING: '5' }, `bud${process.pid}`, 20, 30)
  })
})
