/**
 * Runs `pass` now and then again `everyMs` after each one ends, never two at once. A pass that
 * fails goes to `onError` and the next one runs as usual. `stop` waits for a pass under way.
 */
export function createPeriodicPass(pass: () => Promise<unknown>, everyMs: number, onError: (err: unknown) => void) {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined

  function tick() {
    running = pass()
      .catch(onError)
      .finally(() => { if (timer) timer = setTimeout(tick, everyMs) })
  }

  return {
    start() {
      timer = setTimeout(tick, 0)
    },
    async stop() {
      clearTimeout(timer)
      timer = undefined
      await running
    },
  }
}
