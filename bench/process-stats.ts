import { readFileSync } from 'node:fs'

// Linux only: the bench reads memory and CPU from /proc, which counts native memory (aedes
// buffers, PGlite's WASM heap, mosquitto) that process.memoryUsage() in a child could not see.
const TICK_US = 1e6 / 100 // USER_HZ is 100 on every Linux the bench runs on

/** Resident set size of a process in bytes; 0 once it has gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** CPU time the whole machine spent busy (all cores, every process), in µs. */
function machineBusyUs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/)
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number)
  return (user + nice + system + irq + softirq + (steal ?? 0)) * TICK_US
}

/**
 * CPU spent by everything but this process (the load generator and receiver) over an interval:
 * the system under test with whatever it needs (PostgreSQL, a broker), which is what a reading
 * costs the machine. Idle background services add a little; the bench runs on a quiet machine.
 */
export function startCpuMeter() {
  const busy0 = machineBusyUs()
  const own0 = process.cpuUsage()
  return {
    /** µs of CPU the system under test used since the meter started. */
    read(): number {
      const own = process.cpuUsage(own0)
      return Math.max(0, machineBusyUs() - busy0 - (own.user + own.system))
    },
  }
}
