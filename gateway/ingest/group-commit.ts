type Pending<T, R> = { item: T; resolve(r: R): void; reject(e: unknown): void }

/**
 * Group commit: callers submit items one by one; while one flush is in flight the next items
 * accumulate and go out together in the following flush. Under load batches grow by themselves
 * and no timer adds latency when the system is idle.
 */
export function createGroupCommit<T, R>(opts: {
  flush(items: T[]): Promise<R[]>
  maxBatch: number
  onBatch?(size: number, seconds: number): void
}) {
  let queue: Pending<T, R>[] = []
  let running: Promise<void> | undefined

  async function drain() {
    while (queue.length > 0) {
      const batch = queue.length <= opts.maxBatch ? queue : queue.slice(0, opts.maxBatch)
      queue = batch === queue ? [] : queue.slice(opts.maxBatch)
      const started = performance.now()
      try {
        const results = await opts.flush(batch.map((p) => p.item))
        opts.onBatch?.(batch.length, (performance.now() - started) / 1000)
        batch.forEach((p, i) => p.resolve(results[i]))
      } catch (err) {
        for (const p of batch) p.reject(err)
      }
    }
    running = undefined
  }

  return {
    submit(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        running ??= drain()
      })
    },
    /** Resolves when everything submitted so far has been flushed. */
    async idle(): Promise<void> {
      while (running) await running
    },
    get queued() {
      return queue.length
    },
  }
}
