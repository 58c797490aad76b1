import { spawn, type ChildProcess } from 'node:child_process'
import { TEST_ADMIN_TOKEN } from './gateway.js'
import { createInterface } from 'node:readline'

/** Runs `gateway/main.ts` in a real child process and resolves with its ports once it logs "ready". */
export async function spawnGateway(env: Record<string, string>): Promise<{ child: ChildProcess; httpPort: number; mqttPort: number; logs: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()))
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before ready:\n${logs.join('\n')}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line)
      if (!line.includes('"msg":"ready"')) return
      const { httpPort, mqttPort } = JSON.parse(line)
      child.removeAllListeners('exit')
      resolve({ child, httpPort, mqttPort, logs })
    })
  })
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

/** One API call to a gateway running in a child process, as the test admin; throws on a non-2xx answer. */
export async function callGateway(httpPort: number, method: string, route: string, body?: unknown, token = TEST_ADMIN_TOKEN): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1${route}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`)
  return res.json()
}
