/**
 * Something the engine must wake at an event time. `heapIndex` is -1 while it is not queued;
 * `heapKey` is the time it is queued at, never later than `wakeAt` (see the heap).
 */
export type Wakeable = { wakeAt: number; heapIndex: number; heapKey: number };

/**
 * An indexed binary min-heap of deadlines. Each device sits in it at most once, so `advanceTo`
 * touches only the devices that are due (O(k log n)) and the heap never holds more entries than
 * devices, however often their deadlines move.
 *
 * A deadline that moves later (every reading pushes a silence deadline back) only updates
 * `wakeAt`: the entry stays where it is, queued early at `heapKey`, and is moved down to its
 * real time when that early key comes due. Sifting it down on every reading was a walk through
 * the heap (log2 of the devices, a cache miss a level) for a deadline that usually moves again
 * long before it is reached. An earlier deadline still moves the entry up at once, and an entry
 * leaves only from the top with its key equal to its deadline, so none is due sooner than it:
 * popped entries come out earliest first.
 */
export function createDeadlineHeap<T extends Wakeable>() {
  const items: T[] = [];

  function swap(i: number, j: number): void {
    const a = items[i]!;
    const b = items[j]!;
    items[i] = b;
    items[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  function up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.heapKey <= items[i]!.heapKey) return;
      swap(i, parent);
      i = parent;
    }
  }

  function down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && items[left]!.heapKey < items[smallest]!.heapKey) smallest = left;
      if (right < items.length && items[right]!.heapKey < items[smallest]!.heapKey) smallest = right;
      if (smallest === i) return;
      swap(i, smallest);
      i = smallest;
    }
  }

  function remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const last = items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    items[i] = last;
    last.heapIndex = i;
    up(i);
    down(last.heapIndex);
  }

  return {
    /** Queues, moves or (for an infinite time) dequeues `item`. */
    schedule(item: T, wakeAt: number): void {
      if (wakeAt === Number.POSITIVE_INFINITY) {
        remove(item);
        item.wakeAt = wakeAt;
        return;
      }
      item.wakeAt = wakeAt;
      if (item.heapIndex < 0) {
        item.heapKey = wakeAt;
        item.heapIndex = items.length;
        items.push(item);
        up(item.heapIndex);
      } else if (wakeAt < item.heapKey) {
        item.heapKey = wakeAt;
        up(item.heapIndex);
      }
      // Later: stays queued early at heapKey (see above).
    },
    /** Dequeues and returns every item due at or before `at`, earliest first. */
    popDue(at: number): T[] {
      const due: T[] = [];
      while (items.length > 0 && items[0]!.heapKey <= at) {
        const first = items[0]!;
        if (first.heapKey === first.wakeAt) {
          remove(first);
          due.push(first);
        } else {
          // Queued early: its deadline moved on since. Now it goes where it belongs, which may
          // still be due, but after others due sooner.
          first.heapKey = first.wakeAt;
          down(0);
        }
      }
      return due;
    },
    remove,
    size(): number {
      return items.length;
    },
  };
}
