import {
  EXIT_REASON_TRIPLE_FAULT, R12, R13, R14, R15, TDVMCALL_GET_TD_VM_CALL_INFO, TDVMCALL_IO,
} from '@seamkit/seam-cpu/abi';
import type { GuestCpu, GuestProgram } from '@seamkit/seam-cpu';
import { prepareTdvmcall } from '@seamkit/tdx-module';

/** The port the benchmark guest writes to end a segment (no device claims it: KVM_EXIT_IO). */
export const WARM_DONE_PORT = 0x5eed;

/**
 * The benchmarks' step-form guest: `warm` GetTdVmCallInfo(0) TDVMCALLs (answered in the kernel
 * model), then `segments` times `count` more; each of those 1 + `segments` runs ends with a
 * 1-byte OUT to {@link WARM_DONE_PORT}, so KVM_RUN returns (KVM_EXIT_IO) and the benchmark can
 * time each segment on the same, already warm vCPU. Then nothing is left to run (triple fault).
 * Allocates nothing per step.
 */
export function kernelGuest(warm: number, count: number, segments = 1): GuestProgram {
  return () => {
    let left = warm;
    let segmentsLeft = segments;
    return {
      step(c: GuestCpu): number {
        const r = c.regs;
        if (left-- > 0) {
          r.setHalves(R12, 0, 0);
          return prepareTdvmcall(r, TDVMCALL_GET_TD_VM_CALL_INFO);
        }
        if (left === -1 && segmentsLeft-- >= 0) {
          // GHCI Instruction.IO: R12 size, R13 direction (1 = out), R14 port, R15 data.
          r.setHalves(R12, 1, 0);
          r.setHalves(R13, 1, 0);
          r.setHalves(R14, WARM_DONE_PORT, 0);
          r.setHalves(R15, 0, 0);
          left = count;
          return prepareTdvmcall(r, TDVMCALL_IO);
        }
        left = -1;
        return EXIT_REASON_TRIPLE_FAULT;
      },
    };
  };
}
