import type { LeafDispatcher } from '@seamkit/core';
import { type RegisterFile } from '@seamkit/seam-cpu';
import {
  EXIT_REASON_EPT_VIOLATION, EXIT_REASON_EXTERNAL_INTERRUPT, EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, R10, RAX,
} from '@seamkit/seam-cpu/abi';
import type { KvmRun } from './KvmRun.js';
import {
  KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SHUTDOWN, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
} from './uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from './uapi/kvmRunLayout.js';

/** Where {@link decodeTdExit} sends the exits KVM resolves with its MMU. */
export interface TdExitFaults {
  /**
   * EXIT_REASON_EPT_VIOLATION (tdx_handle_ept_violation): 0 to re-enter the guest, or the
   * KVM_EXIT_* reason; may throw the KVM_RUN error (-EFAULT memory fault, -EIO dead VM).
   */
  handleEptViolation(): number;
}

/** EXIT_REASON_OTHER_SMI (SDM Vol. 3 Appendix C). */
const EXIT_REASON_OTHER_SMI = 6;
/** High half of TDX_SW_ERROR: bit 63 and class 0xFF (bits 47:40). */
const SW_ERROR_HI = 0x8000_ff00;

/**
 * Decides one TD exit the way Linux 6.16 does (`tdx_to_vmx_exit_reason`, then
 * `tdx_handle_exit`), reading the TDH.VP.ENTER outputs straight from the argument block:
 *
 * 1. the VMX exit reason is the low 32 bits of the status when the status is TDX_SUCCESS or a
 *    non-recoverable TD exit (bit 63 clear), and -1 for any other (error) status;
 * 2. a Linux software error (TDX_SW_ERROR: #UD, #GP, VMfailInvalid on the SEAMCALL) is an
 *    unhandled exit: KVM_EXIT_INTERNAL_ERROR;
 * 3. a failed VM entry (exit reason bit 31, which -1 has) is KVM_EXIT_FAIL_ENTRY with
 *    `hardware_entry_failure_reason` = the 32-bit exit reason and `cpu`;
 * 4. an error or non-recoverable status is unhandled, except with a triple fault;
 * 5. triple fault: KVM_EXIT_SHUTDOWN; external interrupt and other SMI: re-enter;
 *    TDCALL (77): R10 != 0 down the KVM hypercall path, R10 = 0 through the leaf registry;
 * 6. anything else: KVM_EXIT_INTERNAL_ERROR, suberror UNEXPECTED_EXIT_REASON, ndata 2,
 *    data[0] = the TDH.VP.ENTER return, data[1] = the CPU.
 *
 * @returns 0 to re-enter the guest, or the KVM_EXIT_* reason (already written to `run`)
 */
export function decodeTdExit(args: RegisterFile, run: KvmRun, dispatcher: LeafDispatcher, cpu: number, faults?: TdExitFaults): number {
  // Both halves as int32 (`| 0`), so every test below is integer-only: no double arithmetic.
  const u = args.u32;
  const hi = u[RAX * 2 + 1]! | 0;
  const lo = u[RAX * 2]! | 0;
  if ((hi & SW_ERROR_HI) === (SW_ERROR_HI | 0)) return unhandled(run, lo, hi, cpu);
  // Status bit 63 set (an error): exit reason -1, which has the failed-entry bit 31.
  if ((hi | lo) < 0) return failEntry(run, hi < 0 ? -1 : lo, cpu);
  const basic = lo & 0xffff;
  // Bit 62: a non-recoverable TD exit.
  if ((hi & 0x4000_0000) !== 0 && basic !== EXIT_REASON_TRIPLE_FAULT) return unhandled(run, lo, hi, cpu);
  switch (basic) {
    case EXIT_REASON_TDCALL:
      return (u[R10 * 2]! | u[R10 * 2 + 1]!) === 0 ? dispatcher.dispatch() : dispatcher.dispatchHypercall();
    case EXIT_REASON_TRIPLE_FAULT:
      run.setU32(L.exit_reason.offset, KVM_EXIT_SHUTDOWN);
      return KVM_EXIT_SHUTDOWN;
    case EXIT_REASON_EPT_VIOLATION:
      return faults === undefined ? unhandled(run, lo, hi, cpu) : faults.handleEptViolation();
    case EXIT_REASON_EXTERNAL_INTERRUPT:
    case EXIT_REASON_OTHER_SMI:
      return 0;
    default:
      return unhandled(run, lo, hi, cpu);
  }
}

/** A failed VM entry: KVM_EXIT_FAIL_ENTRY with the 32-bit exit reason and the CPU. */
function failEntry(run: KvmRun, exitReason: number, cpu: number): number {
  run.setU32(L.exit_reason.offset, KVM_EXIT_FAIL_ENTRY);
  run.setU64Halves(L['fail_entry.hardware_entry_failure_reason'].offset, exitReason >>> 0, 0);
  run.setU32(L['fail_entry.cpu'].offset, cpu);
  return KVM_EXIT_FAIL_ENTRY;
}

/** KVM's `unhandled_exit`: KVM_EXIT_INTERNAL_ERROR / UNEXPECTED_EXIT_REASON with [vp_enter_ret, cpu]. */
function unhandled(run: KvmRun, lo: number, hi: number, cpu: number): number {
  run.setU32(L.exit_reason.offset, KVM_EXIT_INTERNAL_ERROR);
  run.setU32(L['internal.suberror'].offset, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON);
  run.setU32(L['internal.ndata'].offset, 2);
  run.setU64Halves(L['internal.data'].offset, lo >>> 0, hi >>> 0);
  run.setU64Halves(L['internal.data'].offset + 8, cpu, 0);
  return KVM_EXIT_INTERNAL_ERROR;
}
