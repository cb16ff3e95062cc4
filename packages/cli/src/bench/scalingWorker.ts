import { parentPort, workerData } from 'node:worker_threads';
import { createVmm } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { EXIT_REASON_TRIPLE_FAULT, R12, TDVMCALL_GET_TD_VM_CALL_INFO, type GuestCpu, type GuestProgram } from '@seamkit/seam-cpu';
import { prepareTdvmcall } from '@seamkit/tdx-module';

/**
 * Worker of the vCPU-scaling benchmark: its own VMM and TD (its own simulated host), one vCPU
 * running `ops` kernel-answered TDVMCALLs. Posts [ops, seconds] when done.
 */
function guest(count: number): GuestProgram {
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

const { ops } = workerData as { ops: number };
const vmm = createVmm({ modules: [kvmModule()] });
vmm.createTd({ guest: guest(Math.min(ops, 200_000)) }).vcpus[0]!.run();
const td = vmm.createTd({ guest: guest(ops) });
parentPort!.postMessage('ready');
parentPort!.once('message', () => {
  const t0 = performance.now();
  td.vcpus[0]!.run();
  parentPort!.postMessage([ops, (performance.now() - t0) / 1000]);
});
