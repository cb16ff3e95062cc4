import type { SharedMemory } from '../UserExitContext.js';
import { coreError } from '../errors.js';

/**
 * Guest memory for tests: one flat buffer mapped at GPA `base` (as userspace sees GPAs, without
 * the shared bit). Accesses outside it throw, like a VMM touching an unmapped GPA.
 */
export class TestMemory implements SharedMemory {
  /** The backing bytes. */
  readonly bytes: Uint8Array;
  /** First GPA covered. */
  readonly base: number;
  readonly #view: DataView;

  /**
   * @param size - bytes of memory (default 1 MiB)
   * @param base - GPA of the first byte (default 0)
   */
  constructor(size = 1 << 20, base = 0) {
    this.bytes = new Uint8Array(size);
    this.base = base;
    this.#view = new DataView(this.bytes.buffer);
  }

  /** {@inheritDoc SharedMemory.contains} */
  contains(gpa: number, length: number): boolean {
    return Number.isSafeInteger(gpa) && gpa >= this.base && length >= 0 && gpa + length <= this.base + this.bytes.length;
  }

  /** {@inheritDoc SharedMemory.read} */
  read(gpa: number, dst: Uint8Array): void {
    this.#check(gpa, dst.length);
    dst.set(this.bytes.subarray(gpa - this.base, gpa - this.base + dst.length));
  }

  /** {@inheritDoc SharedMemory.write} */
  write(gpa: number, src: Uint8Array): void {
    this.#check(gpa, src.length);
    this.bytes.set(src, gpa - this.base);
  }

  /** Reads a little-endian u64. */
  readU64(gpa: number): bigint {
    this.#check(gpa, 8);
    return this.#view.getBigUint64(gpa - this.base, true);
  }

  /** Writes a little-endian u64. */
  writeU64(gpa: number, value: bigint): void {
    this.#check(gpa, 8);
    this.#view.setBigUint64(gpa - this.base, BigInt.asUintN(64, value), true);
  }

  /** Reads a little-endian u32. */
  readU32(gpa: number): number {
    this.#check(gpa, 4);
    return this.#view.getUint32(gpa - this.base, true);
  }

  /** Writes a little-endian u32. */
  writeU32(gpa: number, value: number): void {
    this.#check(gpa, 4);
    this.#view.setUint32(gpa - this.base, value >>> 0, true);
  }

  #check(gpa: number, length: number): void {
    if (!this.contains(gpa, length)) throw coreError('SEAMKIT_ERR_TESTBED_MEMORY', [`0x${gpa.toString(16)}`, length]);
  }
}
