import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'

export type Child = {
  pid: number
  /** The JSON line the process printed when it was ready (ports and the like). */
  ready: Record<string, unknown>
  stop(): Promise<void>
}

const children = new Set<ChildProcess>()

/**
 * Starts a TypeScript script (or any command) and resolves once it prints a JSON line with
 * `"msg":"ready"`. Everything the bench starts goes through here, so `stopAll` can end it by PID
 * whatever way the bench itself ends.
 */
export async function startChild(
  command: string[],
  opts: { env?: Record<string, string>; nodeArgs?: string[]; name: string; timeoutMs?: number; logFile?: string },
): Promise<Child> {
  const [file, ...args] = command[0].endsWith('.ts') ? [process.execPath, ...(opts.nodeArgs ?? []), '--import', 'tsx', ...command] : command
  const child = spawn(file, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const tail: string[] = []
  // With logFile, every line the process prints (its log, --trace-gc) goes there too. Ended on
  // 'close', once its output is read to the end: lines can still come after 'exit'.
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined
  if (log) child.once('close', () => log.end())
  const keep = (line: string) => {
    log?.write(line + '\n')
    tail.push(line)
    if (tail.length > 40) tail.shift()
  }
  createInterface({ input: child.stderr! }).on('line', keep)

  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => fail(`not ready after ${(opts.timeoutMs ?? 60_000) / 1000} s`), opts.timeoutMs ?? 60_000)
    const fail = (why: string) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`${opts.name} ${why}:\n${tail.join('\n')}`))
    }
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`))
    child.once('error', (err) => fail(`could not start: ${err.message}`))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      keep(line)
      if (!line.includes('"msg":"ready"')) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      child.once('exit', () => children.delete(child))
      resolve(JSON.parse(line))
    })
  })
  return { pid: child.pid!, ready, stop: () => stopChild(child) }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Every child still running, stopped by PID: for the bench's own exit paths. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, 3_000)))
}
