import { describe, expect, it } from 'vitest'
import { createKeyedQueue } from '../../gateway/detect/keyed-queue.js'

/** A task that records when it starts and ends, and finishes when the test says so. */
function gate(log: string[], name: string) {
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, task: async () => { log.push(`start ${name}`); await opened; log.push(`end ${name}`) } }
}

describe('keyed queue', () => {
  it('runs one key in order and other keys side by side, up to the limit', async () => {
    const log: string[] = []
    const q = createKeyedQueue({ concurrency: 2, onError: (err) => { throw err } })
    const a1 = gate(log, 'a1'), a2 = gate(log, 'a2'), b1 = gate(log, 'b1'), c1 = gate(log, 'c1')
    q.push('a', a1.task)
    q.push('a', a2.task)
    q.push('b', b1.task)
    q.push('c', c1.task)
    await Promise.resolve()
    expect(log).toEqual(['start a1', 'start b1']) // a2 waits for a1, c1 for a free slot
    a1.open()
    await new Promise((r) => setImmediate(r))
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start c1'])
    b1.open()
    await new Promise((r) => setImmediate(r))
    expect(log.slice(4)).toEqual(['end b1', 'start a2'])
    expect(q.size).toBe(2)
    const idle = q.idle()
    a2.open()
    c1.open()
    await idle
    expect(q.size).toBe(0)
    expect(log.filter((l) => l.startsWith('end'))).toHaveLength(4)
  })

  it('reports a failed task and goes on with the next one of its key', async () => {
    const errors: unknown[] = []
    const done: string[] = []
    const q = createKeyedQueue({ concurrency: 4, onError: (err) => errors.push(err) })
    q.push('a', async () => { throw new Error('boom') })
    q.push('a', async () => { done.push('a2') })
    await q.idle()
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom'])
    expect(done).toEqual(['a2'])
  })
})
