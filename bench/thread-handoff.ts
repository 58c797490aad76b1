/**
 * Thread hand-off benchmark: what a reading would cost to hand from a broker on a thread of its own
 * to the gateway's event loop and be answered back, in batches. The gateway's event loop is its
 * limit with 5,000 and 10,000 devices, and about 30 µs a reading of it is the broker's (bench:fixed:
 * bare aedes's thread in user and kernel time), so whether the broker could move off it depends
 * on what the move costs.
 *
 * A worker thread makes readings as a broker has them (device id, topic, a ~100 B JSON payload) and
 * packs a batch into one ArrayBuffer, transferred; the main thread unpacks each into a device id,
 * a topic and a payload view, and answers the batch's ids in a transferred Uint32Array, as commits
 * would be answered for PUBACKs; up to 8 batches in flight (bench/thread-handoff-worker.mjs). Baseline, in the same run: the main
 * thread making the same readings itself (strings and a payload copy), as the broker's thread does
 * now. Prints CPU µs an item on the main thread and on the others (the worker, and V8's and libuv's
 * helpers), from /proc, and the hand-off's ratio to the baseline.
 * A benchmark, not a test: it asserts nothing.
 *
 *   npm run bench:handoff -- [--batches 50,200,1000] [--items 1000000]
 */
import { Worker } from 'node:worker_threads'
import { parseArgs } from 'node:util'
import { threadCpu } from './process-stats.js'

const PAYLOAD = Buffer.from(JSON.stringify({ ts: 1_796_000_000_000, seq: 12345, metrics: { drain_time_s: 41, motor_current_a: 6.2, water_temp_c: 40.5 } }))
const deviceIdOf = (n: number) => `wm-${String(n % 5000).padStart(5, '0')}`

type Reading = { deviceId: string; topic: string; payload: Buffer }

await main()

async function main() {
  const { values: flags } = parseArgs({ options: { batches: { type: 'string', default: '50,200,1000' }, items: { type: 'string', default: '1000000' } } })
  const batches = flags.batches.split(',').map(Number)
  const items = Number(flags.items)
  if (!(items > 0) || !batches.every((b) => Number.isInteger(b) && b > 0 && b <= 65_535)) {
    console.error('usage: npm run bench:handoff -- [--batches 50,200,1000] [--items 1000000]')
    process.exit(2)
  }
  // The first pass of each warms the JIT up and counts for nothing.
  inThread(Math.min(items, 100_000))
  const baseline = inThread(items)
  console.log(`in one thread (the baseline): ${baseline.toFixed(2)} µs of CPU an item`)
  for (const batch of batches) {
    await handedOver(batch, Math.min(items, 100_000))
    const { main, worker } = await handedOver(batch, items)
    console.log(`handed over in batches of ${batch}: main thread ${main.toFixed(2)} + the worker and other threads ${worker.toFixed(2)} µs an item, ${baseline > 0 ? `${((main + worker) / baseline).toFixed(2)} × the baseline` : 'no ratio: the baseline is under a clock tick (more --items)'}`)
  }
}

/** CPU µs an item for the main thread to make `items` readings itself. */
function inThread(items: number): number {
  const kept: Reading[] = []
  const before = threadCpu(process.pid)
  for (let i = 1; i <= items; i++) {
    const deviceId = deviceIdOf(i)
    kept.push({ deviceId, topic: `devices/${deviceId}/telemetry`, payload: Buffer.from(PAYLOAD) })
    if (kept.length === 1000) kept.length = 0
  }
  const after = threadCpu(process.pid)
  return (after.mainUserUs + after.mainSystemUs - before.mainUserUs - before.mainSystemUs) / items
}

/** CPU µs an item on each side for `items` readings handed over in batches of `batch`. */
async function handedOver(batch: number, items: number): Promise<{ main: number; worker: number }> {
  // Plain JavaScript: tsx's loader is not registered in a worker's thread on Node 20.
  const worker = new Worker(new URL('./thread-handoff-worker.mjs', import.meta.url), { workerData: { batch, items, payload: PAYLOAD.toString() } })
  await new Promise((resolve) => worker.once('message', resolve))
  const before = threadCpu(process.pid)
  const decoder = new TextDecoder()
  let received = 0
  await new Promise<void>((resolve) => {
    worker.on('message', (packed: ArrayBuffer) => {
      const view = new DataView(packed)
      const bytes = new Uint8Array(packed)
      const n = view.getUint16(0)
      const ids = new Uint32Array(n)
      const readings: Reading[] = new Array(n)
      let at = 2
      for (let i = 0; i < n; i++) {
        ids[i] = view.getUint32(at)
        at += 4
        const deviceId = decoder.decode(bytes.subarray(at + 1, at + 1 + bytes[at]!))
        at += 1 + bytes[at]!
        const topic = decoder.decode(bytes.subarray(at + 1, at + 1 + bytes[at]!))
        at += 1 + bytes[at]!
        const length = view.getUint16(at)
        readings[i] = { deviceId, topic, payload: Buffer.from(packed, at + 2, length) }
        at += 2 + length
      }
      received += n
      worker.postMessage(ids, [ids.buffer])
      if (received >= items) resolve()
    })
    worker.postMessage('go')
  })
  const after = threadCpu(process.pid)
  await worker.terminate()
  return { main: (after.mainUserUs + after.mainSystemUs - before.mainUserUs - before.mainSystemUs) / items, worker: (after.otherUs - before.otherUs) / items }
}
