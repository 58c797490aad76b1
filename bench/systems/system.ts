/** One system the bench loads: where devices connect, how many readings it has handled, its processes. */
export type SystemUnderTest = {
  mqttUrl: string
  /** Registered devices, as many as the largest fleet of the run. */
  devices: { id: string; secret?: string }[]
  /** Readings the system has fully handled so far (stored, or counted for the ceiling). */
  processed(): Promise<number>
  /**
   * The gateway's event-loop delay since the last call (p99 and max, ms): how long a turn of its
   * loop held everything waiting on it. precall's alone (from its `/metrics`).
   */
  loopDelay?(): Promise<{ p99Ms: number; maxMs: number }>
  /** Processes whose memory the system costs (the database server is shared and not counted); precall's gateway first. */
  pids: number[]
  stop(): Promise<void>
}

export type SystemContext = {
  devices: number
  /** Where the system sends its alerts (webhooks for precall). */
  alertUrl: string
  /** Where precall writes a V8 CPU profile when it stops (`--cpu-prof`). */
  profileDir?: string
  /** More options for precall's node process, and its environment. */
  nodeArgs?: string[]
  env?: Record<string, string>
  /** A file that gets every line precall's process prints. */
  logFile?: string
}

export const benchDeviceIds = (n: number) => Array.from({ length: n }, (_, i) => `bench-${i}`)

/** Reads `{"processed": n}` from a bench child's counting endpoint. */
export async function fetchProcessed(url: string): Promise<number> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return ((await res.json()) as { processed: number }).processed
}
