import type { LogicalProcessor } from './LogicalProcessor.js';

/**
 * Firmware that runs in SEAM mode: what the CPU calls when the host executes SEAMCALL.
 * The TDX module implements it.
 */
export interface SeamModule {
  /**
   * Handles one SEAMCALL. On entry the LP is in SEAM VMX root mode and `lp.regs` is the caller's
   * register file (RAX = leaf and version, other GPRs as the leaf defines). The module writes its
   * outputs into the same register file and ends with `lp.seamret()`.
   */
  seamcall(lp: LogicalProcessor): void;
}
