import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { busiestThreadSince, threadCpu } from '../../bench/process-stats.js'

// CPU time, not wall time: test files run two at a time on two cores, so a thread may wait for
// its core. Each test works until the figure it reads has grown, and fails if it never does.
const WORK_US = 150_000
const DEADLINE_MS = 10_000

describe("the bench's per-thread CPU reading", () => {
  it("charges the main thread's work to the main thread", () => {
    const before = threadCpu(process.pid)
    const deadline = performance.now() + DEADLINE_MS
    let main = 0
    while (main < WORK_US && performance.now() < deadline) {
      const now = threadCpu(process.pid)
      main = now.mainUserUs + now.mainSystemUs - before.mainUserUs - before.mainSystemUs
    }
    expect(main).toBeGreaterThanOrEqual(WORK_US)
  })

  it("charges a worker's work to the other threads, not the main one", async () => {
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const worker = new Worker('const { workerData: stop } = require("node:worker_threads"); while (Atomics.load(stop, 0) === 0);', { eval: true, workerData: stop })
    try {
      const before = threadCpu(process.pid)
      const deadline = performance.now() + DEADLINE_MS
      let now = before
      while (now.otherUs - before.otherUs < WORK_US && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20))
        now = threadCpu(process.pid)
      }
      expect(now.otherUs - before.otherUs).toBeGreaterThanOrEqual(WORK_US)
      // Most of it on one thread: the worker's.
      expect(busiestThreadSince(before, now)!.us).toBeGreaterThanOrEqual((now.otherUs - before.otherUs) / 2)
      // The main thread only slept and polled meanwhile.
      expect(now.mainUserUs + now.mainSystemUs - before.mainUserUs - before.mainSystemUs).toBeLessThan(now.otherUs - before.otherUs)
    } finally {
      Atomics.store(stop, 0, 1)
      await new Promise((resolve) => worker.once('exit', resolve))
    }
  })

  it('reads nothing for a process that is gone', () => {
    expect(threadCpu(2 ** 22 + 1)).toEqual({ mainUserUs: 0, mainSystemUs: 0, otherUs: 0, involuntarySwitches: 0, byThread: {} })
  })
})
