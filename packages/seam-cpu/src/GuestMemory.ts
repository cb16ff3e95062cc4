import { PAGE_SIZE } from './abi/vmx.js';
import type { Ept } from './Ept.js';
import { EptViolation } from './EptViolation.js';
import type { PhysicalMemory } from './PhysicalMemory.js';

/**
 * A TD's view of guest physical memory, as the CPU resolves it during guest execution.
 *
 * A GPA with the shared bit set goes through the shared EPT (host-owned, plain memory, key id 0);
 * any other GPA goes through the secure EPT and is accessed with the TD's private key id. An
 * access without a mapping throws {@link EptViolation}, which the CPU turns into a VM exit.
 *
 * GPAs are plain numbers: with GPAW 52 the largest GPA is below 2^52, exact in a double.
 */
export class GuestMemory {
  readonly #phys: PhysicalMemory;
  readonly #private: Ept;
  #shared: Ept | undefined;
  readonly #keyId: number;
  /** Value of the shared bit (2^47 or 2^51). */
  readonly sharedBit: number;
  readonly #scratch = new Uint8Array(8);
  readonly #scratchView = new DataView(this.#scratch.buffer);

  /**
   * @param phys - host physical memory
   * @param privateEpt - the secure EPT of the TD
   * @param keyId - the TD's private HKID
   * @param sharedBitPosition - 47 (GPAW 48) or 51 (GPAW 52)
   */
  constructor(phys: PhysicalMemory, privateEpt: Ept, keyId: number, sharedBitPosition: number) {
    this.#phys = phys;
    this.#private = privateEpt;
    this.#keyId = keyId;
    this.sharedBit = 2 ** sharedBitPosition;
  }

  /** Installs the shared EPT (KVM writes the SHARED_EPTP field of the TD VMCS). */
  setSharedEpt(ept: Ept): void {
    this.#shared = ept;
  }

  /** True if `gpa` has the shared bit set. */
  isShared(gpa: number): boolean {
    return Math.floor(gpa / this.sharedBit) % 2 === 1;
  }

  /** Reads `dst.length` bytes at `gpa`; may cross pages. */
  read(gpa: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const a = gpa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, dst.length - done);
      const [hpa, key] = this.#resolve(a, false);
      this.#phys.read(hpa + off, dst.subarray(done, done + n), key);
      done += n;
    }
  }

  /** Writes `src` at `gpa`; may cross pages. */
  write(gpa: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const a = gpa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, src.length - done);
      const [hpa, key] = this.#resolve(a, true);
      this.#phys.write(hpa + off, src.subarray(done, done + n), key);
      done += n;
    }
  }

  /** Reads a little-endian u32. */
  readU32(gpa: number): number {
    this.read(gpa, this.#scratch.subarray(0, 4));
    return this.#scratchView.getUint32(0, true);
  }

  /** Writes a little-endian u32. */
  writeU32(gpa: number, value: number): void {
    this.#scratchView.setUint32(0, value >>> 0, true);
    this.write(gpa, this.#scratch.subarray(0, 4));
  }

  /** Reads a little-endian u64. */
  readU64(gpa: number): bigint {
    this.read(gpa, this.#scratch);
    return this.#scratchView.getBigUint64(0, true);
  }

  /** Writes a little-endian u64. */
  writeU64(gpa: number, value: bigint): void {
    this.#scratchView.setBigUint64(0, BigInt.asUintN(64, value), true);
    this.write(gpa, this.#scratch);
  }

  #resolve(gpa: number, write: boolean): [number, number] {
    const shared = this.isShared(gpa);
    const gfn = Math.floor((shared ? gpa - this.sharedBit : gpa) / PAGE_SIZE);
    const ept = shared ? this.#shared : this.#private;
    const hpa = ept === undefined ? -1 : ept.translate(gfn, write);
    if (hpa < 0) throw new EptViolation(gpa, write);
    return [hpa, shared ? 0 : this.#keyId];
  }
}
