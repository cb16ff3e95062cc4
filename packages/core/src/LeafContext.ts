import type { RegisterFile } from '@seamkit/seam-cpu';
import type { ExitBuffer } from './ExitBuffer.js';

/**
 * What a kernel half sees: one per vCPU, reused for every exit (no allocation).
 *
 * `regs` is the per-vCPU TDH.VP.ENTER argument block: on a TDVMCALL exit it holds exactly the
 * GPRs the guest exposed (others read as 0), and what the plugin writes to R10, R11, ... is what
 * the TDX module copies back into the guest on the next entry (bitmap-selected registers only).
 */
export interface LeafContext {
  /** Exposed guest GPRs / reply registers. */
  readonly regs: RegisterFile;
  /** The vCPU's kvm_run. */
  readonly run: ExitBuffer;
  /** Value of the TD's shared GPA bit, 2^(gpaw - 1): 2^47 or 2^51. */
  readonly sharedBit: number;
  /** Guest physical address width (48 or 52). */
  readonly gpaw: number;
  /** Index of the vCPU. */
  readonly vcpuIndex: number;
}
