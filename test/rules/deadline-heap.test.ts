import { describe, expect, it } from 'vitest'
import { createDeadlineHeap, type Wakeable } from '../../rules/deadline-heap.js'

type Item = Wakeable & { id: number }
const item = (id: number): Item => ({ id, wakeAt: Number.POSITIVE_INFINITY, heapIndex: -1, heapKey: Number.POSITIVE_INFINITY })

// Deterministic pseudo-random numbers, so a failure can be replayed.
function lcg(seed: number) {
  let s = seed
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
}

describe('deadline heap', () => {
  it('does not wake an item at a deadline that has since moved later, and wakes it at the new one', () => {
    const heap = createDeadlineHeap<Item>()
    const a = item(1)
    const b = item(2)
    heap.schedule(a, 100)
    heap.schedule(b, 150)
    heap.schedule(a, 200) // a reading pushed a's silence deadline back
    expect(heap.popDue(120)).toEqual([])
    expect(heap.popDue(160).map((i) => i.id)).toEqual([2])
    expect(heap.popDue(199)).toEqual([])
    expect(heap.popDue(200).map((i) => i.id)).toEqual([1])
    expect(heap.size()).toBe(0)
  })

  it('moves an item up at once when its deadline comes earlier, and drops it for an infinite one', () => {
    const heap = createDeadlineHeap<Item>()
    const [a, b, c] = [item(1), item(2), item(3)]
    heap.schedule(a, 100)
    heap.schedule(b, 300)
    heap.schedule(c, 200)
    heap.schedule(b, 50)
    heap.schedule(c, Number.POSITIVE_INFINITY)
    expect(heap.popDue(1_000).map((i) => i.id)).toEqual([2, 1])
    expect(c.heapIndex).toBe(-1)
  })

  it('pops exactly what is due, earliest first, through any mix of moves (against a plain list)', () => {
    const random = lcg(7)
    const heap = createDeadlineHeap<Item>()
    const items = Array.from({ length: 300 }, (_, i) => item(i))
    const due = new Map<number, number>() // the model: id → deadline
    let now = 0
    for (let step = 0; step < 20_000; step++) {
      const it = items[Math.floor(random() * items.length)]!
      const roll = random()
      // Mostly later (as readings push deadlines back), sometimes earlier, now and then none.
      const at = roll < 0.05 ? Number.POSITIVE_INFINITY : now + Math.floor((roll < 0.8 ? 50 : 5) + random() * 500)
      heap.schedule(it, at)
      if (at === Number.POSITIVE_INFINITY) due.delete(it.id)
      else due.set(it.id, at)
      if (step % 50 === 0) {
        now += Math.floor(random() * 100)
        const popped = heap.popDue(now)
        const expected = [...due].filter(([, at]) => at <= now).sort((x, y) => x[1] - y[1] || x[0] - y[0])
        expect(popped.map((i) => i.wakeAt)).toEqual(expected.map(([, at]) => at))
        expect(new Set(popped.map((i) => i.id))).toEqual(new Set(expected.map(([id]) => id)))
        for (const [id] of expected) due.delete(id)
      }
    }
    expect(heap.size()).toBe(due.size)
  })
})
