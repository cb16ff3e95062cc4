import { EXIT_REASON_TRIPLE_FAULT, R12, TDVMCALL_GET_TD_VM_CALL_INFO, type GuestCpu, type GuestProgram } from '@seamkit/seam-cpu';
import { prepareTdvmcall } from '@seamkit/tdx-module';

/**
 * The benchmarks' step-form guest: `count` GetTdVmCallInfo(0) TDVMCALLs (answered in the kernel
 * model), then nothing left to run. Allocates nothing per step.
 */
export function kernelGuest(count: number): GuestProgram {
  return () => {
    let left = count;
    return {
      step(c: GuestCpu): number {
        if (left-- <= 0) return EXIT_REASON_TRIPLE_FAULT;
        c.regs.setHalves(R12, 0, 0);
        return prepareTdvmcall(c.regs, TDVMCALL_GET_TD_VM_CALL_INFO);
      },
    };
  };
}
