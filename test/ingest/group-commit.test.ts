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
})
