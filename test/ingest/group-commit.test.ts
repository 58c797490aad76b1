import { describe, expect, it } from 'vitest'
import { createGroupCommit } from '../../gateway/ingest/group-commit.js'

/** A flush that records its batches and finishes when the test says so. */
function recordingFlush() {
  const batches: number[][] = []
  const finish: (() => void)[] = []
  let finished = 0
  return {
    batches,
    /** Finishes the oldest unfinished flush. */
    finishNext: () => finish[finished++]?.(),
    /** Finishes the i-th flush (0-based), whatever the order. */
    finish: (i: number) => finish[i]?.(),
    flush: (items: number[]) => {
      batches.push(items)
      return new Promise<number[]>((resolve) => finish.push(() => resolve(items.map((n) => n * 10))))
    },
  }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('group commit', () => {
  it('sends the first item at once and gathers the ones that arrive while it is in flight', async () => {
    const f = recordingFlush()
    const commits = createGroupCommit({ flush: f.flush, maxBatch: 100 })
    const results = [1, 2, 3, 4].map((n) => commits.submit(n))
    expect(f.batches).toEqual([[1]])
    f.finishNext()
    await tick()
    expect(f.batches).toEqual([[1], [2, 3, 4]])
    f.finishNext()
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40])
  })

  it('hands results back in submission order when a later flush finishes first', async () => {
    const f = recordingFlush()
    const seen: number[][] = []
    const commits = createGroupCommit({ flush: f.flush, maxBatch: 1, concurrency: 2, afterFlush: (items) => seen.push(items) })
    const first = commits.submit(1)
    const second = commits.submit(2)
    expect(f.batches).toEqual([[1], [2]])
    const order: number[] = []
    void first.then(() => order.push(1))
    void second.then(() => order.push(2))
    f.finish(1)
    await tick()
    expect(order).toEqual([])
    expect(seen).toEqual([])
    f.finish(0)
    await Promise.all([first, second])
    expect(order).toEqual([1, 2])
    expect(seen).toEqual([[1], [2]])
  })

  it('with a linger, holds a batch that is not full until its first item has waited that long', async () => {
    const f = recordingFlush()
    const commits = createGroupCommit({ flush: f.flush, maxBatch: 100, lingerMs: 30 })
    const started = performance.now()
    const results = [1, 2].map((n) => commits.submit(n))
    await new Promise((r) => setTimeout(r, 10))
    results.push(commits.submit(3))
    expect(f.batches).toEqual([])
    while (f.batches.length === 0) await new Promise((r) => setTimeout(r, 2))
    expect(performance.now() - started).toBeGreaterThanOrEqual(29)
    expect(f.batches).toEqual([[1, 2, 3]])
    f.finishNext()
    expect(await Promise.all(results)).toEqual([10, 20, 30])
  })

  it('with a linger, sends a full batch at once', async () => {
    const f = recordingFlush()
    const commits = createGroupCommit({ flush: f.flush, maxBatch: 3, lingerMs: 10_000 })
    const results = [1, 2, 3, 4].map((n) => commits.submit(n))
    expect(f.batches).toEqual([[1, 2, 3]])
    f.finishNext()
    expect(await Promise.all(results.slice(0, 3))).toEqual([10, 20, 30])
    // The fourth waits for the linger (or for more items): idle() is not yet resolved.
    let idle = false
    void commits.idle().then(() => { idle = true })
    await tick()
    expect(idle).toBe(false)
    expect(commits.queued).toBe(1)
    commits.submit(5)
    commits.submit(6)
    expect(f.batches).toEqual([[1, 2, 3], [4, 5, 6]])
    f.finishNext()
    await commits.idle()
    expect(await results[3]).toBe(40)
  })

  it('with a linger, counts a remainder\'s wait from its own arrival, not from when the batch before it left', async () => {
    const f = recordingFlush()
    const commits = createGroupCommit({ flush: f.flush, maxBatch: 3, lingerMs: 50 })
    const results = [1, 2, 3, 4, 5, 6, 7].map((n) => commits.submit(n))
    expect(f.batches).toEqual([[1, 2, 3]])
    await new Promise((r) => setTimeout(r, 50))
    f.finishNext() // [4, 5, 6] leaves full; 7 has already waited the linger
    while (f.batches.length < 2) await tick()
    f.finishNext()
    await new Promise((r) => setTimeout(r, 15))
    // Timed from when [4, 5, 6] left, 7 would still wait ~35 ms.
    expect(f.batches).toEqual([[1, 2, 3], [4, 5, 6], [7]])
    f.finishNext()
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60, 70])
  })

  it('with an answer budget, answers a batch in slices of that much time, the loop turning between slices', async () => {
    const f = recordingFlush()
    const answered: number[] = []
    const commits = createGroupCommit({
      flush: f.flush, maxBatch: 5, lingerMs: 10_000, answerBudgetMs: 3,
      // Rules see the whole batch before any item is answered; the marker is something else the
      // loop has to do, queued as the batch commits.
      afterFlush: (items) => {
        answered.push(-items.length)
        setImmediate(() => answered.push(0))
      },
    })
    // Each answer takes at least 2 ms, so a slice holds one or two of them.
    for (const n of [1, 2, 3, 4, 5]) commits.add(n, (_, result) => {
      answered.push(result as number)
      spin(2)
    })
    expect(f.batches).toEqual([[1, 2, 3, 4, 5]])
    f.finishNext()
    await commits.idle()
    expect(answered.filter((n) => n !== 0)).toEqual([-5, 10, 20, 30, 40, 50])
    expect([2, 3]).toContain(answered.indexOf(0))
  })

  it('with an answer budget, answers batches in submission order, a later one waiting for every slice of the one before', async () => {
    const f = recordingFlush()
    const answered: number[] = []
    const commits = createGroupCommit({ flush: f.flush, maxBatch: 3, concurrency: 2, lingerMs: 10_000, answerBudgetMs: 1 })
    for (const n of [1, 2, 3, 4, 5, 6]) commits.add(n, (_, result) => {
      answered.push(result as number)
      spin(2)
    })
    expect(f.batches).toEqual([[1, 2, 3], [4, 5, 6]])
    f.finish(1)
    f.finish(0)
    let idle = false
    void commits.idle().then(() => { idle = true })
    await tick()
    // A slice at a time, the first batch is not through yet, and idle() waits for it.
    expect(answered.length).toBeLessThan(3)
    expect(idle).toBe(false)
    await commits.idle()
    expect(answered).toEqual([10, 20, 30, 40, 50, 60])
  })

  it('when afterFlush throws, answers that batch and every later one, and reports the error', async () => {
    const errors: unknown[] = []
    const commits = createGroupCommit({
      flush: async (items: number[]) => items.map((n) => n * 10), maxBatch: 2, concurrency: 2,
      afterFlush: (items) => { if (items.includes(1)) throw new Error('rules failed on 1') },
      onHookError: (err) => errors.push(err),
    })
    const results = [1, 2, 3, 4, 5, 6].map((n) => commits.submit(n))
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60])
    await commits.idle()
    expect(errors.map((e) => (e as Error).message)).toEqual(['rules failed on 1'])
    expect(await commits.submit(7)).toBe(70)
  })
})

/** Keeps the thread busy for `ms`, as a callback that does real work would. */
function spin(ms: number) {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy */ }
}
