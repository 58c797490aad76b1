import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'

/**
 * Keeps every turn of this process's event loop busy for `ms` in its poll phase, where socket
 * reads run, as a gateway reading device sockets is: two sockets pass a byte back and forth, each
 * receipt spinning `ms`. Resolves to the function that stops it.
 */
export async function keepLoopBusy(ms: number): Promise<() => Promise<void>> {
  let running = true
  const sockets: Socket[] = []
  const spin = (socket: Socket) => {
    sockets.push(socket)
    return socket.on('error', () => {}).on('data', () => {
      const until = performance.now() + ms
      while (performance.now() < until);
      if (running) socket.write('x')
    })
  }
  const server = createServer((socket) => spin(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const client = createConnection((server.address() as { port: number }).port, '127.0.0.1')
  await once(client, 'connect')
  spin(client).write('x')
  return async () => {
    running = false
    for (const socket of sockets) socket.destroy()
    server.close()
    await once(server, 'close')
  }
}

/**
 * How many turns of an event loop kept busy `ms` a turn (see `keepLoopBusy`) `fn` takes: each
 * sequential step it waits for (a database round trip, a wake-up) costs at least one.
 */
export async function turnsTaken(ms: number, fn: () => Promise<unknown>): Promise<number> {
  const stopBusy = await keepLoopBusy(ms)
  let turns = 0
  let counting = true
  const count = () => { turns++; if (counting) setImmediate(count) }
  setImmediate(count)
  try {
    await fn()
    return turns
  } finally {
    counting = false
    await stopBusy()
  }
}
