import { type PhysicalMemory } from '@seamkit/seam-cpu';
import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';

/**
 * Anonymous userspace memory (what a VMM mmaps and hands to KVM_SET_USER_MEMORY_REGION2 as
 * `userspace_addr`). Pages are backed by host physical pages on first touch, so declaring a
 * large region costs nothing until it is used. Host mappings use no memory-encryption key.
 */
export class UserMemory {
  /** Size in bytes. */
  readonly size: number;
  readonly #phys: PhysicalMemory;
  readonly #pages = new Map<number, number>();

  /**
   * @param phys - host physical memory
   * @param size - bytes (a multiple of 4 KiB)
   */
  constructor(phys: PhysicalMemory, size: number) {
    this.#phys = phys;
    this.size = size;
  }

  /** Pages backed so far. */
  get touchedPages(): number {
    return this.#pages.size;
  }

  /** Host physical address of page `index`, backing it if needed. */
  hpaOf(index: number): number {
    let hpa = this.#pages.get(index);
    if (hpa === undefined) {
      hpa = this.#phys.allocPage();
      this.#pages.set(index, hpa);
    }
    return hpa;
  }

  /** Reads `dst.length` bytes at `offset`. Untouched pages read as zero. */
  read(offset: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const o = offset + done;
      const page = Math.floor(o / PAGE_SIZE);
      const within = o - page * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - within, dst.length - done);
      const hpa = this.#pages.get(page);
      if (hpa === undefined) dst.fill(0, done, done + n);
      else this.#phys.read(hpa + within, dst.subarray(done, done + n), 0);
      done += n;
    }
  }

  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const o = offset + done;
      const page = Math.floor(o / PAGE_SIZE);
      const within = o - page * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - within, src.length - done);
      this.#phys.write(this.hpaOf(page) + within, src.subarray(done, done + n), 0);
      done += n;
    }
  }

  /**
   * Discards the backing of [offset, offset + size) (madvise(MADV_DONTNEED) / fallocate punch
   * hole, what QEMU's ram_block_discard_range does): the pages go back to host memory and read as
   * zeros until written again.
   */
  discard(offset: number, size: number): void {
    const first = Math.floor(offset / PAGE_SIZE);
    const last = Math.ceil((offset + size) / PAGE_SIZE);
    for (const [index, hpa] of this.#pages) {
      if (index >= first && index < last) {
        this.#phys.freePage(hpa);
        this.#pages.delete(index);
      }
    }
  }

  /** Returns every backing page to host memory. */
  release(): void {
    for (const hpa of this.#pages.values()) this.#phys.freePage(hpa);
    this.#pages.clear();
  }
}
