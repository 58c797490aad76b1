import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase, sqlState, type Database } from '../db/database.js'
import { createDetectionIntake } from './detection-intake.js'
import { DETECTION_POOL_SIZE, type DetectionReply, type DetectionRequest, type DetectionThreadData } from './detection-thread.js'
import type { Queued } from './ticket-change.js'

// The detection thread (see startDetectionThread): one detection intake per request, with the
// request's time and lease, on a pool of its own onto the database the gateway has migrated.
const port = parentPort!
const { url, policy } = workerData as DetectionThreadData

let database: Database
try {
  database = await openDatabase({ url, dataDir: 'memory', poolSize: DETECTION_POOL_SIZE, migrate: false })
} catch (err) {
  port.postMessage({ failed: String(err) })
  process.exit(1)
}

port.on('message', (m: DetectionRequest | { op: 'close' }) => {
  if (m.op === 'close') {
    void database.close().finally(() => process.exit(0))
    return
  }
  void answer(m).then((reply) => port.postMessage(reply))
})
port.postMessage({ ready: true })

async function answer(m: DetectionRequest): Promise<DetectionReply> {
  let queued: Queued | undefined
  const intake = createDetectionIntake({ database, policy, now: () => m.at, outboxLease: () => m.lease, onOutbox: (q) => { queued = q } })
  try {
    const value = m.op === 'record' ? await intake.record(m.detection, m.customer) : await intake.clear(m.clearance)
    return { id: m.id, ok: true, value, queued }
  } catch (err) {
    const e = err as { message?: string; stack?: string; cause?: { message?: string } } | undefined
    return { id: m.id, ok: false, error: { message: String(e?.message ?? err), cause: e?.cause?.message, stack: e?.stack, code: sqlState(err) } }
  }
}
