/**
 * What the gateway's thread and the broker's thread (broker-thread.ts, broker-thread-worker.ts)
 * say to each other, and the one piece of bookkeeping both sides need: calls answered by id.
 */
import type { PublishOptions } from './mqtt-broker.js'
import type { MqttLogin } from './mqtt-logins.js'

/** What the broker's thread is started with. */
export type BrokerThreadSettings = {
  host: string
  port: number
  maxPacketBytes: number
  maxPending: number
  readBudgetMs: number
  /** The levels of debug, warn and error that the gateway's logger writes. */
  logLevels: ('debug' | 'warn' | 'error')[]
}

/** A packed reading: its id, its topic's code and its payload's length (each a big-endian uint32), then the payload. */
export const ITEM_HEADER_BYTES = 12

/** From the broker's thread to the gateway's. */
export type FromBroker =
  | { t: 'listening'; port: number }
  | { t: 'failed'; message: string; code?: string; port?: number }
  | { t: 'readings'; buffer: ArrayBuffer; items: number; topics: [code: number, deviceId: string, channel: string, topic: string][]; resetTopics: boolean; held: number; heldReads: number }
  | { t: 'auth'; id: number; username: string; password: string }
  | { t: 'published'; id: number; error?: string }
  | { t: 'refused'; reason: string }
  | { t: 'clients'; by: number }
  | { t: 'log'; level: 'debug' | 'warn' | 'error'; fields: Record<string, unknown>; message: string }
  | { t: 'synced' }
  | { t: 'closed' }

/** From the gateway's thread to the broker's. */
export type ToBroker =
  | { t: 'answers'; buffer: ArrayBuffer; count: number; failed: [seq: number, reason: string][] }
  | { t: 'auth'; id: number; login: MqttLogin | null; error?: string }
  | ({ t: 'publish'; id: number; topic: string; payload: Uint8Array | string } & PublishOptions)
  | { t: 'sync' }
  | { t: 'close' }

/**
 * Calls to the other thread that wait for its answer, by id: the broker's authentications on its
 * side, the gateway's publishes on the other. `call` sends one with a fresh id; `settle` answers
 * it (an error text rejects it); `failAll` rejects those still waiting when no answer can come.
 */
export function createPendingCalls<T>() {
  let next = 1
  const waiting = new Map<number, { resolve(value: T): void; reject(err: Error): void }>()
  return {
    call(send: (id: number) => void): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const id = next++
        waiting.set(id, { resolve, reject })
        send(id)
      })
    },
    settle(id: number, error: string | undefined, value: T): void {
      const call = waiting.get(id)
      if (!call) return
      waiting.delete(id)
      if (error !== undefined) call.reject(new Error(error))
      else call.resolve(value)
    },
    failAll(reason: string): void {
      for (const call of waiting.values()) call.reject(new Error(reason))
      waiting.clear()
    },
  }
}
