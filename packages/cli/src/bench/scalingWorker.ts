import { parentPort, workerData } from 'node:worker_threads';
import { createVmm } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { kernelGuest as guest } from './kernelGuest.js';

/*
 * Worker of the vCPU-scaling benchmark: its own VMM and TD (its own simulated host), one vCPU
 * running `ops` kernel-answered TDVMCALLs. Posts 'ready', then [ops, seconds] once told to go.
 */
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
