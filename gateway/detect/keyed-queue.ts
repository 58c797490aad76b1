/**
 * Runs tasks in order per key and side by side across keys, at most `concurrency` at once. Each
 * detection is a transaction of several round trips; one after another they capped a busy gateway
 * at a few dozen tickets a second, while only one device's (one customer's) changes need an order.
 */
export function createKeyedQueue(opts: { concurrency: number; onError(err: unknown): void }) {
  const chains = new Map<string, (() => Promise<unknown>)[]>()
  const ready: string[] = []
  let active = 0
  let pending = 0
  let idleWaiters: (() => void)[] = []

  function pump() {
    while (active < opts.concurrency && ready.length > 0) {
      const key = ready.shift()!
      const task = chains.get(key)![0]
      active++
      task().catch(opts.onError).finally(() => {
        active--
        pending--
        const chain = chains.get(key)!
        chain.shift()
        if (chain.length > 0) ready.push(key)
        else chains.delete(key)
        pump()
        if (pending === 0) {
          const waiters = idleWaiters
          idleWaiters = []
          for (const w of waiters) w()
        }
      })
    }
  }

  return {
    push(key: string, task: () => Promise<unknown>): void {
      pending++
      const chain = chains.get(key)
      if (chain) chain.push(task)
      else {
        chains.set(key, [task])
        ready.push(key)
      }
      pump()
    },
    /** Resolves once every task pushed so far (and any they push) has finished. */
    idle(): Promise<void> {
      return pending === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))
    },
    get size() {
      return pending
    },
  }
}
