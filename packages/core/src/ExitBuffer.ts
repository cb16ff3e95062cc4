import { KVM_RUN_SIZE } from './abi/kvmRun.js';

/**
 * A `struct kvm_run` as bytes with typed views, shared by the kernel model (which fills exits)
 * and userspace (which reads them and writes replies). One instance per vCPU, reused for every
 * exit: data of an exit is valid until the next run.
 *
 * 64-bit fields are read and written as two 32-bit halves on hot paths ({@link setU64Halves});
 * the BigInt accessors are for code off the hot path. All fields are little-endian.
 */
export class ExitBuffer {
  /** The raw bytes. */
  readonly bytes: Uint8Array;
  /** 32-bit view (index = offset / 4). */
  readonly u32: Uint32Array;
  /** DataView for odd-sized or unaligned fields. */
  readonly view: DataView;

  /** @param size - buffer size (default sizeof(struct kvm_run)) */
  constructor(size = KVM_RUN_SIZE) {
    this.bytes = new Uint8Array(size);
    this.u32 = new Uint32Array(this.bytes.buffer);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Reads a u32 at a 4-aligned offset. */
  getU32(offset: number): number {
    return this.u32[offset >>> 2]!;
  }

  /** Writes a u32 at a 4-aligned offset. */
  setU32(offset: number, value: number): void {
    this.u32[offset >>> 2] = value;
  }

  /** Reads a u64 at an 8-aligned offset as a BigInt. */
  getU64(offset: number): bigint {
    return this.view.getBigUint64(offset, true);
  }

  /** Writes a u64 at an 8-aligned offset from a BigInt. */
  setU64(offset: number, value: bigint): void {
    this.view.setBigUint64(offset, BigInt.asUintN(64, value), true);
  }

  /** Writes a u64 at an 8-aligned offset from two 32-bit halves (no BigInt). */
  setU64Halves(offset: number, lo: number, hi: number): void {
    const i = offset >>> 2;
    this.u32[i] = lo;
    this.u32[i + 1] = hi;
  }

  /** Low 32 bits of the u64 at an 8-aligned offset. */
  getU64Lo(offset: number): number {
    return this.u32[offset >>> 2]!;
  }

  /** High 32 bits of the u64 at an 8-aligned offset. */
  getU64Hi(offset: number): number {
    return this.u32[(offset >>> 2) + 1]!;
  }

  /** Reads a u64 as a number (exact below 2^53). */
  getU64Number(offset: number): number {
    const i = offset >>> 2;
    return this.u32[i + 1]! * 0x1_0000_0000 + this.u32[i]!;
  }

  /** Writes a non-negative safe integer as a u64. */
  setU64Number(offset: number, value: number): void {
    const i = offset >>> 2;
    this.u32[i] = value >>> 0;
    this.u32[i + 1] = Math.floor(value / 0x1_0000_0000) >>> 0;
  }

  /** Zeroes `length` bytes from `offset`. */
  clear(offset: number, length: number): void {
    this.bytes.fill(0, offset, offset + length);
  }
}
