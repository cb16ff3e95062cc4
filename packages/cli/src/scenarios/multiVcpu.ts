import { fromGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import type { Scenario } from './Scenario.js';

/**
 * Several vCPUs at once (default 4), each with its own register file and run loop: every vCPU
 * asks the TDX module who it is (TDG.VP.INFO, no exit), asks KVM for the optional TDVMCALLs
 * (GetTdVmCallInfo leaf 1: an exit to userspace, answered from the registered plugins), calls a
 * leaf nobody registered, and ends.
 */
export const multiVcpu: Scenario = {
  name: 'multi-vcpu',
  description: 'four vCPUs, each with its own run loop: TDG.VP.INFO, GetTdVmCallInfo(1), an unknown leaf',
  vcpus: 4,
  guest: fromGenerator(function* (cpu) {
    const info = yield* ghci.tdgVpInfo(cpu);
    yield* ghci.getTdVmCallInfo(cpu, 1);
    yield* ghci.tdvmcall(cpu, 0x1_0100 + info.vcpuIndex);
  }),
};
