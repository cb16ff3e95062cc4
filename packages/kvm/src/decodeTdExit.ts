import type { LeafDispatcher } from '@seamkit/core';
import { EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, R10, RAX, type RegisterFile } from '@seamkit/seam-cpu';
import type { KvmRun } from './KvmRun.js';
import {
  KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SHUTDOWN, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
} from './uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from './uapi/kvmRunLayout.js';

/**
 * Decides one TD exit in real KVM's order (tdx_to_vmx_exit_reason, then the exit handlers),
 * reading the TDH.VP.ENTER outputs straight from the argument block:
 * 1. a SEAMCALL status with the error bit (bit 63) is a failed entry: KVM_EXIT_FAIL_ENTRY;
 * 2. TDCALL (77): R10 != 0 goes down the KVM hypercall path, R10 = 0 through the leaf registry;
 * 3. triple fault: KVM_EXIT_SHUTDOWN;
 * 4. anything else: KVM_EXIT_INTERNAL_ERROR, suberror UNEXPECTED_EXIT_REASON, ndata 2,
 *    data[0] = the TDH.VP.ENTER return, data[1] = the CPU.
 *
 * @returns 0 to re-enter the guest, or the KVM_EXIT_* reason (already written to `run`)
 */
export function decodeTdExit(args: RegisterFile, run: KvmRun, dispatcher: LeafDispatcher, cpu: number): number {
  const hi = args.hi(RAX);
  const lo = args.lo(RAX);
  if ((hi & 0x8000_0000) !== 0) {
    run.setU32(L.exit_reason.offset, KVM_EXIT_FAIL_ENTRY);
    run.setU64Halves(L['fail_entry.hardware_entry_failure_reason'].offset, lo, hi);
    run.setU32(L['fail_entry.cpu'].offset, cpu);
    return KVM_EXIT_FAIL_ENTRY;
  }
  const basic = lo & 0xffff;
  if (basic === EXIT_REASON_TDCALL) {
    return args.isZero(R10) ? dispatcher.dispatch() : dispatcher.dispatchHypercall();
  }
  if (basic === EXIT_REASON_TRIPLE_FAULT) {
    run.setU32(L.exit_reason.offset, KVM_EXIT_SHUTDOWN);
    return KVM_EXIT_SHUTDOWN;
  }
  run.setU32(L.exit_reason.offset, KVM_EXIT_INTERNAL_ERROR);
  run.setU32(L['internal.suberror'].offset, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON);
  run.setU32(L['internal.ndata'].offset, 2);
  run.setU64Halves(L['internal.data'].offset, lo, hi);
  run.setU64Halves(L['internal.data'].offset + 8, cpu, 0);
  return KVM_EXIT_INTERNAL_ERROR;
}
