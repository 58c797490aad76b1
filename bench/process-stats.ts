import { readdirSync, readFileSync } from 'node:fs'

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

/** CPU time one process has used so far (user and system), in µs; 0 once it has gone. */
export function processCpuUs(pid: number): number {
  const [user, system] = cpuTicks(`/proc/${pid}/stat`)
  return (user + system) * TICK_US
}

/** User and system ticks from a process's or thread's `stat` ([0, 0] once it has gone). */
function cpuTicks(statPath: string): [number, number] {
  try {
    // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
    const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ')
    return [Number(fields[11]), Number(fields[12])]
  } catch {
    return [0, 0]
  }
}

/**
 * A process's main thread apart from its other threads, in µs so far: what the event loop spent in
 * JavaScript and V8 (user) and in the kernel (system: socket reads and writes, which on loopback
 * include the receiving side's TCP work), what its helper threads spent (V8's GC helpers, libuv's
 * pool), and how often the main thread lost its core while runnable (involuntary switches). A V8
 * profile samples wall time, so it charges time spent waiting for the CPU to whatever call was
 * running: these are the CPU figures. A thread that has ended is no longer listed, so over an
 * interval `otherUs` leaves out threads that ended within it (the gateway's live as long as it does).
 * `byThread` has each other thread's CPU by its id.
 */
export function threadCpu(pid: number): { mainUserUs: number; mainSystemUs: number; otherUs: number; involuntarySwitches: number; byThread: Record<string, number> } {
  const [mainUser, mainSystem] = cpuTicks(`/proc/${pid}/task/${pid}/stat`)
  let other = 0
  const byThread: Record<string, number> = {}
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (tid === String(pid)) continue
      const [user, system] = cpuTicks(`/proc/${pid}/task/${tid}/stat`)
      other += user + system
      byThread[tid] = (user + system) * TICK_US
    }
  } catch { /* gone */ }
  let involuntarySwitches = 0
  try {
    involuntarySwitches = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch { /* gone */ }
  return { mainUserUs: mainUser * TICK_US, mainSystemUs: mainSystem * TICK_US, otherUs: other * TICK_US, involuntarySwitches, byThread }
}

/** The other thread that used the most CPU between two readings of threadCpu (a broker thread, say): its id and µs. */
export function busiestThreadSince(before: ReturnType<typeof threadCpu>, after: ReturnType<typeof threadCpu>): { tid: string; us: number } | undefined {
  let busiest: { tid: string; us: number } | undefined
  for (const [tid, us] of Object.entries(after.byThread)) {
    const used = us - (before.byThread[tid] ?? 0)
    if (!busiest || used > busiest.us) busiest = { tid, us: used }
  }
  return busiest
}

/** A process's command name (`node`, `mosquitto`), from /proc; its pid when it is gone. */
export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return String(pid)
  }
}

/** CPU time every PostgreSQL process on this machine has used so far, in µs (the server is shared: run on a quiet machine). */
export function postgresCpuUs(): number {
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += processCpuUs(Number(entry))
    } catch { /* gone meanwhile */ }
  }
  return total
}

/**
 * WAL the whole PostgreSQL server has written so far, read with either client: bytes from the WAL
 * insert position, exact at once; full-page images from `pg_stat_wal`, which each backend updates
 * at most once a second, so a short measurement can miss the last second of them (its bytes read
 * 0 B a row for a 0.2 s round of `bench:insert`).
 */
export const WAL_WRITTEN = `select (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::text as bytes, wal_fpi::text as fpi from pg_stat_wal`
export const walWritten = (row: Record<string, unknown>) => ({ bytes: Number(row.bytes), fpi: Number(row.fpi) })
