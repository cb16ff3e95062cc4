/**
 * The VM's memory attributes (`kvm->mem_attr_array`): which guest frames are PRIVATE
 * (KVM_MEMORY_ATTRIBUTE_PRIVATE); every other frame is shared. Kept as sorted, disjoint,
 * non-adjacent [start, end) ranges of guest frame numbers, so a whole-RAM attribute costs one
 * entry and a lookup is a binary search.
 */
export class MemoryAttributes {
  /** Range starts, ascending. */
  readonly #starts: number[] = [];
  /** Range ends (exclusive), parallel to `#starts`. */
  readonly #ends: number[] = [];

  /** Number of private ranges. */
  get rangeCount(): number {
    return this.#starts.length;
  }

  /** True if guest frame `gfn` is PRIVATE. Allocates nothing. */
  isPrivate(gfn: number): boolean {
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= gfn) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && gfn < this.#ends[hi]!;
  }

  /** True if every frame of [start, end) has the attribute `private` (PRIVATE or shared). */
  uniform(start: number, end: number, priv: boolean): boolean {
    for (const [s, e] of this.ranges()) {
      if (e <= start || s >= end) continue;
      if (!priv) return false;
      if (s <= start && e >= end) return true;
      return false;
    }
    return !priv;
  }

  /** Sets [start, end) to PRIVATE (`priv`) or shared, merging neighbouring ranges. */
  set(start: number, end: number, priv: boolean): void {
    const out: [number, number][] = [];
    for (const [s, e] of this.ranges()) {
      if (e <= start || s >= end) {
        out.push([s, e]);
        continue;
      }
      if (s < start) out.push([s, start]);
      if (e > end) out.push([end, e]);
    }
    if (priv) out.push([start, end]);
    out.sort((a, b) => a[0] - b[0]);
    this.#starts.length = 0;
    this.#ends.length = 0;
    for (const [s, e] of out) {
      const last = this.#ends.length - 1;
      if (last >= 0 && this.#ends[last] === s) this.#ends[last] = e;
      else {
        this.#starts.push(s);
        this.#ends.push(e);
      }
    }
  }

  /** The private ranges, as [start, end) guest frame numbers. */
  *ranges(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.#starts.length; i++) yield [this.#starts[i]!, this.#ends[i]!];
  }
}
