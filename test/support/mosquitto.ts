import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const MOSQUITTO = '/usr/sbin/mosquitto'
const BIND_ATTEMPTS = 3
const READY_TIMEOUT_MS = 10_000
const KILL_AFTER_MS = 3_000

function mosquittoConf(port: number) {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    // Unlimited here; the real cap is the fd limit the process inherits (one fd per client, mosquitto 2 polls with epoll).
    'max_connections -1',
    // The default of 1000 per client would drop messages for the single subscriber under load. 10000 is still
    // bounded: loss beyond it is real behaviour of this baseline and the bench reports it.
    'max_queued_messages 10000',
    'max_inflight_messages 100',
    'log_dest stderr',
    'log_type error',
    '',
  ].join('\n')
}

// The port is free when we look and taken by mosquitto a moment later; a race lost here is retried in startMosquitto.
function freePort() {
  return new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

// A port found free can be taken by another process before mosquitto binds it (and then mosquitto exits), so a
// connection accepted on it proves nothing until the listening socket is seen among our child's own fds.
function listensOn(pid: number, port: number) {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const listening = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(hexPort) && f[3] === '0A') // 0A: TCP_LISTEN
    .map((f) => `socket:[${f[9]}]`)
  if (listening.length === 0) return false
  const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { return '' } })
  return listening.some((socket) => fds.includes(socket))
}

function acceptsTcp(port: number) {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

function exited(child: ChildProcess) {
  return new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
}

async function launch(dir: string, port: number, log: (line: string) => void) {
  const conf = path.join(dir, 'mosquitto.conf')
  writeFileSync(conf, mosquittoConf(port))
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
    for (const line of chunk.split('\n')) if (line.trim()) log(line)
  })
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject))
  const early = exited(child).then((code) => { throw new Error(`mosquitto exited early (${code}): ${stderr.trim()}`) })
  const up = (async () => {
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (Date.now() < deadline && child.exitCode === null) {
      if (listensOn(child.pid!, port) && await acceptsTcp(port)) return
      await sleep(25)
    }
    throw new Error(`mosquitto did not accept connections on ${port} within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`)
  })()
  // Only the first to settle matters; the losers must not surface later as unhandled rejections.
  for (const p of [up, early, spawnFailed]) p.catch(() => {})
  try {
    await Promise.race([up, early, spawnFailed])
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return child
}

async function stopChild(child: ChildProcess) {
  const done = exited(child)
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS)
  await done
  clearTimeout(killer)
}

/**
 * Starts a private mosquitto on a free loopback port (or on `port`, say to start it again where it
 * was), with a config sized for the bench, whose baselines and precall-mosquitto run on one. Tests
 * start one to take it away from a gateway.
 */
export async function startMosquitto(opts: { log?: (line: string) => void; port?: number } = {}) {
  const log = opts.log ?? (() => {})
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-mosquitto-'))
  let lastError: unknown
  for (let attempt = 1; attempt <= (opts.port ? 1 : BIND_ATTEMPTS); attempt++) {
    const port = opts.port ?? await freePort()
    try {
      const child = await launch(dir, port, log)
      // A bench that dies without calling stop() must not leave a broker behind.
      const killOnExit = () => child.kill('SIGKILL')
      process.once('exit', killOnExit)
      return {
        url: `mqtt://127.0.0.1:${port}`,
        port,
        pid: child.pid!,
        async stop() {
          process.off('exit', killOnExit)
          await stopChild(child)
          rmSync(dir, { recursive: true, force: true })
        },
      }
    } catch (error) {
      lastError = error
      if (!/address already in use/i.test(String(error))) break
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}
