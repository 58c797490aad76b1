import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export type GatewayProcess = { pid: number; httpPort: number; mqttPort: number; url: string; mqttUrl: string; stop(): Promise<void> }

/**
 * Starts `gateway/main.ts` as a child process on its embedded defaults (aedes, PGlite) with a
 * throw-away database and free ports, and resolves once it logs its `"msg":"ready"` line.
 */
export async function startGatewayProcess(env: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<GatewayProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', DATA_DIR: 'memory', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const tail: string[] = []
  const keep = (line: string) => { tail.push(line); if (tail.length > 30) tail.shift() }
  createInterface({ input: child.stderr! }).on('line', keep)
  const lines = createInterface({ input: child.stdout! })

  const ready = await new Promise<{ httpPort: number; mqttPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`gateway not ready after ${(opts.timeoutMs ?? 60_000) / 1000} s`)), opts.timeoutMs ?? 60_000)
    const onExit = (code: number | null) => fail(new Error(`gateway exited with ${code} before it was ready`))
    function fail(err: Error) {
      clearTimeout(timer)
      child.off('exit', onExit)
      if (child.exitCode === null) child.kill('SIGKILL')
      reject(new Error(`${err.message}\n${tail.join('\n')}`))
    }
    child.once('exit', onExit)
    lines.on('line', (line) => {
      keep(line)
      if (!line.includes('"msg":"ready"')) return
      clearTimeout(timer)
      child.off('exit', onExit)
      const { httpPort, mqttPort } = JSON.parse(line)
      resolve({ httpPort, mqttPort })
    })
  })
  return {
    pid: child.pid!,
    ...ready,
    url: `http://127.0.0.1:${ready.httpPort}`,
    mqttUrl: `mqtt://127.0.0.1:${ready.mqttPort}`,
    /** SIGTERM to this PID (a graceful drain), SIGKILL if it has not exited within 15 s. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      process.kill(child.pid!, 'SIGTERM')
      const timer = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL') }, 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}
