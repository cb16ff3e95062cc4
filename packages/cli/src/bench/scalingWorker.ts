import { parentPort, workerData } from 'node:worker_threads';
import { createVmm } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { kernelGuest as guest } from './kernelGuest.js';

/*
 * Worker of the vCPU-scaling benchmark: its own VMM and TD (its own simulated host), one vCPU
 * running `segments` x `ops` kernel-answered TDVMCALLs. Posts 'ready' once warm, then
 * [ops done, seconds] once told to go.
 */
const { ops, segments } = workerData as { ops: number; segments: number };
const vmm = createVmm({ modules: [kvmModule()] });
// Warm-up on the measured vCPU itself: its guest exits to userspace (KVM_EXIT_IO) once warm,
// and again after each segment.
const vcpu = vmm.createTd({ guest: guest(Math.min(ops, 200_000), ops, segments) }).vcpus[0]!;
vcpu.run();
parentPort!.postMessage('ready');
parentPort!.once('message', () => {
  const t0 = performance.now();
  for (let s = 0; s < segments; s++) vcpu.run();
  parentPort!.postMessage([ops * segments, (performance.now() - t0) / 1000]);
});
