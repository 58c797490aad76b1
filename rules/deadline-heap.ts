/** Something the engine must wake at an event time; `heapIndex` is -1 while it is not queued. */
export type Wakeable = { wakeAt: number; heapIndex: number };

/**
 * An indexed binary min-heap on `wakeAt`. Each device sits in it at most once, keyed by its
 * earliest deadline, so `advanceTo` touches only the devices that are due (O(k log n)) and the
 * heap never holds more entries than devices, however often their deadlines move.
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
      if (items[parent]!.wakeAt <= items[i]!.wakeAt) return;
      swap(i, parent);
      i = parent;
    }
  }

  function down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && items[left]!.wakeAt < items[smallest]!.wakeAt) smallest = left;
      if (right < items.length && items[right]!.wakeAt < items[smallest]!.wakeAt) smallest = right;
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
      const before = item.wakeAt;
      item.wakeAt = wakeAt;
      if (item.heapIndex < 0) {
        item.heapIndex = items.length;
        items.push(item);
        up(item.heapIndex);
      } else if (wakeAt < before) up(item.heapIndex);
      else if (wakeAt > before) down(item.heapIndex);
    },
    /** Dequeues and returns every item due at or before `at`, earliest first. */
    popDue(at: number): T[] {
      const due: T[] = [];
      while (items.length > 0 && items[0]!.wakeAt <= at) {
        const first = items[0]!;
        remove(first);
        due.push(first);
      }
      return due;
    },
    remove,
    size(): number {
      return items.length;
    },
  };
}
