import { REGISTER_FILE_BYTES, REGISTER_NAMES, REGISTER_SLOTS, RFLAGS, RFLAGS_FIXED1, TDX_MODULE_ARGS_ORDER } from './abi/registers.js';

/**
 * A register file: 16 GPRs in SDM order, RIP and RFLAGS, in one `ArrayBuffer` with typed views.
 *
 * The hot path reads and writes 64-bit registers as two 32-bit halves through {@link u32}
 * (`u32[2*i]` low, `u32[2*i+1]` high, little-endian), so it never creates a BigInt. Code off the
 * hot path can use the BigInt accessors {@link get} / {@link set} or the {@link u64} view.
 *
 * The `struct tdx_module_args` view ({@link arg}, {@link setArg}) is an index mapping over the
 * same buffer: it never copies.
 *
 * INVARIANT: the views are created once; nothing reallocates the buffer.
 */
export class RegisterFile {
  /** The backing store, {@link REGISTER_FILE_BYTES} bytes. */
  readonly buffer: ArrayBuffer;
  /** 32-bit halves: slot i is `u32[2*i]` (bits 31:0) and `u32[2*i+1]` (bits 63:32). */
  readonly u32: Uint32Array;
  /** 64-bit view of the same slots (allocates a BigInt per read; not for hot loops). */
  readonly u64: BigUint64Array;

  /** Creates a register file with every register zero and RFLAGS = 2 (bit 1 is fixed to 1). */
  constructor() {
    this.buffer = new ArrayBuffer(REGISTER_FILE_BYTES);
    this.u32 = new Uint32Array(this.buffer);
    this.u64 = new BigUint64Array(this.buffer);
    this.u32[RFLAGS * 2] = RFLAGS_FIXED1;
  }

  /** Reads slot `i` as a BigInt. */
  get(i: number): bigint {
    return this.u64[i] ?? 0n;
  }

  /** Writes slot `i` from a BigInt (taken modulo 2^64). */
  set(i: number, value: bigint): void {
    this.u64[i] = BigInt.asUintN(64, value);
  }

  /** Bits 31:0 of slot `i`. */
  lo(i: number): number {
    return this.u32[i << 1]!;
  }

  /** Bits 63:32 of slot `i`. */
  hi(i: number): number {
    return this.u32[(i << 1) | 1]!;
  }

  /** Writes slot `i` from two 32-bit halves. */
  setHalves(i: number, lo: number, hi: number): void {
    this.u32[i << 1] = lo;
    this.u32[(i << 1) | 1] = hi;
  }

  /**
   * Writes a non-negative integer below 2^53 into slot `i` without BigInt.
   * @param value - a safe integer >= 0
   */
  setNumber(i: number, value: number): void {
    const u = this.u32;
    if (value <= 0xffff_ffff) {
      u[i << 1] = value;
      u[(i << 1) | 1] = 0;
    } else {
      u[i << 1] = value >>> 0;
      // value * 2^-32 is exact (a power of two) and below 2^21, so `>>> 0` is the floor.
      u[(i << 1) | 1] = (value * 2.3283064365386963e-10) >>> 0;
    }
  }

  /** Reads slot `i` as a number; exact only if the value is below 2^53. */
  getNumber(i: number): number {
    return this.u32[(i << 1) | 1]! * 0x1_0000_0000 + this.u32[i << 1]!;
  }

  /** True when slot `i` is zero. */
  isZero(i: number): boolean {
    return (this.u32[i << 1]! | this.u32[(i << 1) | 1]!) === 0;
  }

  /** Field `k` of `struct tdx_module_args` (0 = rcx ... 12 = rsi) as a BigInt. */
  arg(k: number): bigint {
    return this.get(TDX_MODULE_ARGS_ORDER[k] ?? -1);
  }

  /** Writes field `k` of `struct tdx_module_args`. */
  setArg(k: number, value: bigint): void {
    const slot = TDX_MODULE_ARGS_ORDER[k];
    if (slot !== undefined) this.set(slot, value);
  }

  /** Zeroes every GPR, RIP, and resets RFLAGS to 2. */
  clear(): void {
    this.u32.fill(0);
    this.u32[RFLAGS * 2] = RFLAGS_FIXED1;
  }

  /** Copies every slot from another register file (used only for snapshots, never per exit). */
  copyFrom(other: RegisterFile): void {
    this.u32.set(other.u32);
  }

  /** A plain object of all registers as BigInts, for tests and traces. */
  snapshot(): Record<(typeof REGISTER_NAMES)[number], bigint> {
    const out = {} as Record<(typeof REGISTER_NAMES)[number], bigint>;
    for (let i = 0; i < REGISTER_SLOTS; i++) out[REGISTER_NAMES[i]!] = this.get(i);
    return out;
  }
}
