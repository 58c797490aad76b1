// Preloaded into the gateway by the benchmarks that hold one rate (node --require), so a profile
// covers the load they measure and not start-up or the fleet connecting. The first SIGUSR2 starts
// a profiler, the second stops it and writes the profile to $PROFILE_FILE. $PROFILE_KIND picks it:
// - `allocation` (bench:alloc): V8's sampling heap profiler, counting objects garbage collection
//   has already freed too, so it measures what was allocated, not what stayed;
// - `live` (bench:alloc --live): the same profiler counting only what is still alive when it stops,
//   after a full garbage collection: what the gateway keeps, not what it churns;
// - `promoted` (bench:alloc --promoted): the same profiler counting what outlived the young
//   generation, freed by a later full collection or not: what scavenges copy and promote;
// - `cpu` (bench:fixed --profile): the CPU profiler, a .cpuprofile as --cpu-prof writes.
// CommonJS because it loads before tsx can compile TypeScript.
const { Session } = require('node:inspector')
const { writeFileSync } = require('node:fs')

const session = new Session()
session.connect()
const cpu = process.env.PROFILE_KIND === 'cpu'
let profiling = false
process.on('SIGUSR2', () => {
  profiling = !profiling
  const write = (err, result) => writeFileSync(process.env.PROFILE_FILE, err ? JSON.stringify({ error: err.message }) : JSON.stringify(result.profile))
  if (cpu) {
    if (profiling) session.post('Profiler.enable', () => session.post('Profiler.start'))
    else session.post('Profiler.stop', write)
    return
  }
  const freedToo = process.env.PROFILE_KIND === 'allocation'
  const promoted = process.env.PROFILE_KIND === 'promoted'
  if (profiling) session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: freedToo || promoted, includeObjectsCollectedByMinorGC: freedToo })
  else if (freedToo) session.post('HeapProfiler.stopSampling', write)
  else if (promoted) {
    // What is still in the young generation has not had the chance to die there: a scavenge first
    // (bench:alloc starts the gateway with --expose-gc), or up to a semi-space of allocations is
    // counted as if it had outlived it.
    global.gc({ type: 'minor', execution: 'sync' })
    session.post('HeapProfiler.stopSampling', write)
  }
  else session.post('HeapProfiler.collectGarbage', () => session.post('HeapProfiler.stopSampling', write))
})
