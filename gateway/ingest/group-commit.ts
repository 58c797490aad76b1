/** Called once an item's batch is stored (`null`, its result) or failed (the error). */
export type Done<R> = (err: unknown, result?: R) => void
type Pending<T, R> = { item: T; done: Done<R>; at: number }
type Outcome<R> = { ok: true; results: R[] } | { ok: false; error: unknown }

/**
 * Group commit: callers submit items one by one; while flushes are in flight the next items
 * accumulate and go out together. Under load batches grow by themselves, and no timer adds
 * latency when the system is idle. Up to `concurrency` flushes overlap (a database round trip
 * need not wait for the previous one), but results are handed back in submission order, so
 * whatever `afterFlush` feeds downstream sees commits in the order items arrived. `lingerMs`
 * holds a batch that is not full until its first item has waited that long: needed where a
 * flush runs on this thread (PGlite), where items never pile up behind it and every flush would
 * otherwise carry one.
 *
 * `answerBudgetMs` answers a batch in slices of that much time, a turn of the event loop between
 * slices. A batch's answers run its items' callbacks, which on the ingest path acknowledge and read
 * each device's next packets: a thousand at once held the loop for tens of milliseconds, and every
 * round trip waiting on it (a ticket's, another batch's) waited that much longer. Rules still see
 * the whole batch at once (`afterFlush` runs as it commits), answers still come in submission
 * order, and a batch answered within the budget is answered at once.
 */
export function createGroupCommit<T, R>(opts: {
  flush(items: T[]): Promise<R[]>
  maxBatch: number
  concurrency?: number
  lingerMs?: number
  answerBudgetMs?: number
  afterFlush?(items: T[], results: R[]): void
  /**
   * `afterFlush` (or `onBatch`, `onFailedBatch`, `onAnswered`) threw. The batch is stored all the
   * same, so its items still get their results, and later batches go on being flushed and answered.
   * Unset, the error is thrown again on its own (an uncaught exception), outside the chain that
   * keeps answers in order.
   */
  onHookError?(err: unknown): void
  onBatch?(size: number, seconds: number): void
  /** A flush failed: every item of the batch gets its error. */
  onFailedBatch?(size: number): void
  /** A batch's items have all been answered (see `unanswered`). */
  onAnswered?(): void
}) {
  const concurrency = opts.concurrency ?? 1
  // Waiting items in batches-to-be of at most maxBatch, oldest first. One array sliced at each
  // flush copied everything behind the batch: with 300,000 readings waiting on an overloaded
  // gateway, megabytes a flush, in arrays large enough to go straight to the old generation.
  const waiting: Pending<T, R>[][] = []
  let queued = 0
  // Added and not yet answered: waiting, being flushed, or waiting for their slice of answers.
  let unanswered = 0
  let active = 0
  let ordered: Promise<void> = Promise.resolve()
  let idleWaiters: (() => void)[] = []
  let lingering: NodeJS.Timeout | undefined

  function pump() {
    while (active < concurrency && queued > 0) {
      if (opts.lingerMs && queued < opts.maxBatch) {
        // From when the oldest item arrived, which may be before the last batch left.
        const wait = waiting[0]![0]!.at + opts.lingerMs - performance.now()
        if (wait > 0) {
          lingering ??= setTimeout(() => { lingering = undefined; pump() }, wait)
          return
        }
      }
      clearTimeout(lingering)
      lingering = undefined
      const batch = waiting.shift()!
      queued -= batch.length
      active++
      const items = batch.map((p) => p.item)
      const started = performance.now()
      const flushed = opts.flush(items).then(
        (results): Outcome<R> => ({ ok: true, results }),
        (error: unknown): Outcome<R> => ({ ok: false, error: error ?? new Error('flush failed') }),
      )
      ordered = ordered.then(async () => {
        const outcome = await flushed
        hook(() => {
          if (outcome.ok) {
            opts.onBatch?.(batch.length, (performance.now() - started) / 1000)
            opts.afterFlush?.(items, outcome.results)
          } else {
            opts.onFailedBatch?.(batch.length)
          }
        })
        // The flush holds its place until its batch is answered: while answering lags, the
        // items arriving meanwhile gather into the next batch rather than go out in more flushes.
        await answerBatch(batch, outcome)
        active--
        pump()
        if (opts.onAnswered) hook(opts.onAnswered)
        if (active === 0 && queued === 0) {
          const waiters = idleWaiters
          idleWaiters = []
          for (const w of waiters) w()
        }
      })
    }
  }

  function add(item: T, done: Done<R>): void {
    const last = waiting.at(-1)
    const pending = { item, done, at: opts.lingerMs ? performance.now() : 0 }
    if (last && last.length < opts.maxBatch) last.push(pending)
    else waiting.push([pending])
    queued++
    unanswered++
    pump()
  }

  /** Runs a hook of `opts`. Thrown in the chain, its error would reject `ordered`: no later batch would be answered. */
  function hook(fn: () => void) {
    try {
      fn()
    } catch (err) {
      if (opts.onHookError) opts.onHookError(err)
      else queueMicrotask(() => { throw err })
    }
  }

  async function answerBatch(batch: Pending<T, R>[], outcome: Outcome<R>) {
    const budget = opts.answerBudgetMs ?? Infinity
    let sliceStarted = performance.now()
    for (let i = 0; i < batch.length; i++) {
      if (i > 0 && performance.now() - sliceStarted >= budget) {
        await new Promise((resolve) => setImmediate(resolve))
        sliceStarted = performance.now()
      }
      if (outcome.ok) answer(batch[i]!, null, outcome.results[i])
      else answer(batch[i]!, outcome.error)
    }
  }

  /** A callback that throws must not keep the rest of its batch from their answers. */
  function answer(p: Pending<T, R>, err: unknown, result?: R) {
    unanswered--
    try {
      p.done(err, result)
    } catch (thrown) {
      queueMicrotask(() => { throw thrown })
    }
  }

  return {
    /**
     * Queues `item`; `done` is called when its batch is flushed. A callback rather than a
     * promise for the ingest path, which answers a broker's callback: a promise and its
     * reactions were ~0.5 KB and three microtasks a reading.
     */
    add,
    submit(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => add(item, (err, result) => (err === null ? resolve(result as R) : reject(err))))
    },
    /** Resolves when everything submitted so far has been flushed and handed back. */
    idle(): Promise<void> {
      if (active === 0 && queued === 0) return Promise.resolve()
      return new Promise((resolve) => idleWaiters.push(resolve))
    },
    get queued() {
      return queued
    },
    get unanswered() {
      return unanswered
    },
  }
}
