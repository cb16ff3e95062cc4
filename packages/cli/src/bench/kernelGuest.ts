import {
  EXIT_REASON_TRIPLE_FAULT, R12, R13, R14, R15, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_IO,
} from '@seamkit/seam-cpu/abi';
import type { GuestCpu, GuestProgram } from '@seamkit/seam-cpu';
import { prepareTdvmcall } from '@seamkit/tdx-module';

/** The port the benchmark guest writes once its warm-up TDVMCALLs are done (no device claims it). */
export const WARM_DONE_PORT = 0x5eed;

/**
 * The benchmarks' step-form guest: `warm` GetTdVmCallInfo(0) TDVMCALLs (answered in the kernel
 * model), one 1-byte OUT to {@link WARM_DONE_PORT} (KVM_EXIT_IO: KVM_RUN returns, so the
 * benchmark can start its clock with the same vCPU already warm), then `count` more
 * GetTdVmCallInfo(0), then nothing left to run (triple fault). Allocates nothing per step.
 */
export function kernelGuest(warm: number, count: number): GuestProgram {
  return () => {
    let left = warm + count + 1;
    return {
      step(c: GuestCpu): number {
        const n = left--;
        if (n <= 0) return EXIT_REASON_TRIPLE_FAULT;
        const r = c.regs;
        if (n === count + 1) {
          // GHCI Instruction.IO: R12 size, R13 direction (1 = out), R14 port, R15 data.
          r.setHalves(R12, 1, 0);
          r.setHalves(R13, 1, 0);
          r.setHalves(R14, WARM_DONE_PORT, 0);
          r.setHalves(R15, 0, 0);
          return prepareTdvmcall(r, TDVMCALL_IO);
        }
        r.setHalves(R12, 0, 0);
        return prepareTdvmcall(r, TDVMCALL_GET_TD_VM_CALL_INFO);
      },
    };
  };
}
