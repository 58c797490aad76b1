/**
 * A sliding event-time window kept as a ring of time buckets, each holding a few running sums.
 *
 * Why buckets and not the readings themselves: a 7-day fit window over once-a-minute telemetry
 * is 10,080 readings per device and rule, while 20 buckets of sums are a few hundred bytes and
 * never grow, however fast the device reports. The price is the window's edge: buckets are
 * `windowMs / 20` wide and aligned to the epoch, and the window holds the current bucket and the
 * 19 before it, so a reading stays in the window for between 95% and 100% of `windowMs`.
 */
export const WINDOW_BUCKETS = 20;

export type BucketRing = {
  readonly width: number;
  readonly fields: number;
  /**
   * One array per window, laid out as [totals | bucket numbers | bucket sums]: the sums over the
   * whole window at `buf[0 .. fields)`, kept by whoever adds to a bucket; then `capacity` bucket
   * numbers (`floor(ts / width)`); then `fields` sums per bucket. A plain array of doubles, not a
   * Float64Array: V8 gives each typed array an ArrayBuffer and an off-heap backing store, some
   * 250 bytes of overhead that would be a quarter of a window's memory; an array costs ~50.
   */
  buf: number[];
  capacity: number;
  head: number;
  size: number;
};

// Rings start small and double up to WINDOW_BUCKETS, so a device reporting once an hour into a
// day-long window pays for the buckets it fills, not for twenty.
const INITIAL_CAPACITY = 2;

export function createBucketRing(windowMs: number, fields: number): BucketRing {
  return {
    width: windowMs / WINDOW_BUCKETS,
    fields,
    buf: zeros(fields + INITIAL_CAPACITY * (1 + fields)),
    capacity: INITIAL_CAPACITY,
    head: 0,
    size: 0,
  };
}

/**
 * An array of exactly `length` zeros. Built by `push` an array over-allocates by half again;
 * preallocated and filled it is exact, and V8 still stores the doubles unboxed.
 */
export function zeros(length: number): number[] {
  return new Array<number>(length).fill(0);
}

export function bucketKey(ring: BucketRing, ts: number): number {
  return Math.floor(ts / ring.width);
}

function slotAt(ring: BucketRing, i: number): number {
  return (ring.head + i) % ring.capacity;
}

function keyOf(ring: BucketRing, slot: number): number {
  return ring.buf[ring.fields + slot]!;
}

function offsetOf(ring: BucketRing, slot: number): number {
  return ring.fields + ring.capacity + slot * ring.fields;
}

/**
 * Drops the buckets that have left the window ending at bucket `key`, subtracting them from the
 * totals. With `into` (a ring with the same fields), each dropped bucket numbered above
 * `skipUpTo` is added to it at its own time: an anomaly baseline takes over what the recent
 * window lets go.
 */
export function evictBuckets(
  ring: BucketRing,
  key: number,
  into?: BucketRing,
  skipUpTo = Number.NEGATIVE_INFINITY,
): void {
  const oldestKept = key - WINDOW_BUCKETS + 1;
  const { buf, fields } = ring;
  while (ring.size > 0 && keyOf(ring, ring.head) < oldestKept) {
    const offset = offsetOf(ring, ring.head);
    const evicted = keyOf(ring, ring.head);
    if (into && evicted > skipUpTo) {
      const target = bucketOffset(into, bucketKey(into, evicted * ring.width));
      for (let f = 0; f < fields; f++) {
        into.buf[target + f] += buf[offset + f]!;
        into.buf[f] += buf[offset + f]!;
      }
    }
    for (let f = 0; f < fields; f++) buf[f] -= buf[offset + f]!;
    ring.head = (ring.head + 1) % ring.capacity;
    ring.size -= 1;
  }
}

/**
 * Offset into `buf` of the bucket numbered `key`, opened if needed. Keys arrive in event-time
 * order (the engine sorts); a key older than the newest bucket is folded into the newest.
 */
export function bucketOffset(ring: BucketRing, key: number): number {
  if (ring.size > 0) {
    const newest = slotAt(ring, ring.size - 1);
    if (keyOf(ring, newest) >= key) return offsetOf(ring, newest);
  }
  evictBuckets(ring, key);
  if (ring.size === ring.capacity) grow(ring);
  const slot = slotAt(ring, ring.size);
  ring.buf[ring.fields + slot] = key;
  const offset = offsetOf(ring, slot);
  ring.buf.fill(0, offset, offset + ring.fields);
  ring.size += 1;
  return offset;
}

function grow(ring: BucketRing): void {
  const capacity = Math.min(ring.capacity * 2, WINDOW_BUCKETS);
  const { fields } = ring;
  const buf = zeros(fields + capacity * (1 + fields));
  for (let f = 0; f < fields; f++) buf[f] = ring.buf[f]!;
  for (let i = 0; i < ring.size; i++) {
    const from = slotAt(ring, i);
    buf[fields + i] = keyOf(ring, from);
    const offset = offsetOf(ring, from);
    for (let f = 0; f < fields; f++) buf[fields + capacity + i * fields + f] = ring.buf[offset + f]!;
  }
  ring.buf = buf;
  ring.capacity = capacity;
  ring.head = 0;
}

/** Calls `visit` with each bucket's offset into `buf` and its number, oldest first. */
export function forEachBucket(ring: BucketRing, visit: (offset: number, key: number) => void): void {
  for (let i = 0; i < ring.size; i++) {
    const slot = slotAt(ring, i);
    visit(offsetOf(ring, slot), keyOf(ring, slot));
  }
}

/**
 * Re-adds the totals from the buckets. Adding and subtracting floats for months lets rounding
 * errors pile up; callers do this every few windows so the error stays that of one window.
 */
export function recomputeTotals(ring: BucketRing): void {
  const { buf, fields } = ring;
  buf.fill(0, 0, fields);
  forEachBucket(ring, (offset) => {
    for (let f = 0; f < fields; f++) buf[f] += buf[offset + f]!;
  });
}
