import type { LeafContext } from '@seamkit/core';
import { kvmError } from '../errors.js';
import { EINVAL } from '../uapi/errno.js';
import type { Vcpu } from '../Vcpu.js';

/**
 * The leaf context the simulated KVM hands its plugins: core's {@link LeafContext} plus the vCPU
 * the TDVMCALL came from, so in-kernel leaves reach KVM's per-vCPU state (`vcpu.arch`: CPUID
 * table, local APIC, MSRs, mp_state) and the VM's I/O buses and MSR filter. Created once per
 * vCPU at KVM_TDX_INIT_VCPU.
 */
export interface KvmLeafContext extends LeafContext {
  /** The vCPU. */
  readonly vcpu: Vcpu;
}

/**
 * The vCPU of a kernel half's context.
 * @throws SEAMKIT_ERR_KVM_STATE (EINVAL) when the context does not come from a simulated KVM
 *   vCPU (for example core's LeafTestBed); the dispatcher turns that into INVALID_OPERAND for the
 *   guest and a `plugin-error` event
 */
export function vcpuOf(ctx: LeafContext, leaf: string): Vcpu {
  const v = (ctx as Partial<KvmLeafContext>).vcpu;
  if (v === undefined) throw kvmError('SEAMKIT_ERR_KVM_STATE', [leaf, 'the leaf needs a vCPU of the simulated KVM'], EINVAL);
  return v;
}
