import { VcpuEmulation, type UserExitContext } from '@seamkit/core';
import { KVM_RUN_LAYOUT as L } from './uapi/kvmRunLayout.js';
import { KVM_MEMORY_EXIT_FLAG_PRIVATE } from './uapi/tdx.js';

/**
 * A VMM's handler for KVM_EXIT_MEMORY_FAULT, as QEMU's kvm_cpu_exec handles it: unknown flags
 * stop the vCPU; otherwise [memory_fault.gpa, + size) is converted to private when the faulting
 * access was private (KVM_MEMORY_EXIT_FLAG_PRIVATE), else to shared (`SharedMemory.convertMemory`:
 * KVM_SET_MEMORY_ATTRIBUTES and a discard of the other side), and the vCPU runs again, re-executing
 * the access (implicit conversion). A conversion that fails stops the vCPU. Use it in
 * `createTd({ handlers: { [KVM_EXIT_MEMORY_FAULT]: handleMemoryFault } })`.
 * @returns a VcpuEmulation value
 */
export function handleMemoryFault(ctx: UserExitContext): number {
  const run = ctx.run;
  const flags = run.getU64(L['memory_fault.flags'].offset);
  if ((flags & ~BigInt(KVM_MEMORY_EXIT_FLAG_PRIVATE)) !== 0n || ctx.memory.convertMemory === undefined) return VcpuEmulation.STOPPED;
  try {
    ctx.memory.convertMemory(run.getU64Number(L['memory_fault.gpa'].offset), run.getU64Number(L['memory_fault.size'].offset), flags !== 0n);
  } catch {
    return VcpuEmulation.STOPPED;
  }
  return VcpuEmulation.HANDLED;
}
