// Preloaded into the gateway by `npm run bench:alloc` (node --require): the first SIGUSR2 starts
// V8's sampling heap profiler, counting objects that garbage collection has already freed too (so
// it measures what was allocated, not what stayed); the second stops it and writes the profile to
// $ALLOCATION_PROFILE. CommonJS because it loads before tsx can compile TypeScript.
const { Session } = require('node:inspector')
const { writeFileSync } = require('node:fs')

const session = new Session()
session.connect()
let sampling = false
process.on('SIGUSR2', () => {
  sampling = !sampling
  if (sampling) {
    session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    return
  }
  session.post('HeapProfiler.stopSampling', (err, result) => {
    writeFileSync(process.env.ALLOCATION_PROFILE, err ? JSON.stringify({ error: err.message }) : JSON.stringify(result.profile))
  })
})
