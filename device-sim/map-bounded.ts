// Registration and connection storms are bounded: a few dozen requests in flight keep the gateway
// responsive while still finishing a 10k fleet in seconds.
/** Runs `fn` over `items` with at most `parallel` calls in flight, keeping result order. */
export async function mapBounded<T, R>(items: readonly T[], parallel: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker))
  return results
}
