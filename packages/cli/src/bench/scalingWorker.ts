import { parentPort, workerData } from 'node:worker_threads';
import { createVmm } from '@seamkit/core';
import { kvmModule } from '@seamkit/kvm';
import { kernelGuest as guest } from './kernelGuest.js';

/*
 * Worker of the vCPU-scaling benchmark: its own VMM and TD (its own simulated host), one vCPU
 * whose guest runs `segments` segments of `ops` kernel-answered TDVMCALLs. Posts 'ready' once
 * warm (the warm-up and three untimed segments); then each 'go' runs one segment and posts its
 * seconds.
 */
const { ops, segments } = workerData as { ops: number; segments: number };
/** Untimed segments before 'ready' (JIT tiering and background compilation settle in these). */
const WARMUP_SEGMENTS = 3;
const vmm = createVmm({ modules: [kvmModule()] });
// Warm-up on the measured vCPU itself: its guest exits to userspace (KVM_EXIT_IO) once warm,
// and again after each segment.
const vcpu = vmm.createTd({ guest: guest(Math.min(ops, 200_000), ops, segments + WARMUP_SEGMENTS) }).vcpus[0]!;
vcpu.run();
for (let i = 0; i < WARMUP_SEGMENTS; i++) vcpu.run();
parentPort!.postMessage('ready');
parentPort!.on('message', () => {
  const t0 = performance.now();
  vcpu.run();
  parentPort!.postMessage((performance.now() - t0) / 1000);
});
