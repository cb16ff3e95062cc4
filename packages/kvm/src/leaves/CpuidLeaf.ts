import { injectable } from 'inversify';
import { LEAF_RESUME, type LeafContext, type LeafPlugin } from '@seamkit/core';
import { R12, R13, R14, R15, TDVMCALL_CPUID } from '@seamkit/seam-cpu/abi';
import { vcpuOf } from './KvmLeafContext.js';

/**
 * TDVMCALL<Instruction.CPUID> (10), answered in the kernel as Linux 6.16 tdx_emulate_cpuid does:
 * R12 = leaf (EAX, low 32 bits), R13 = subleaf (ECX, low 32 bits); kvm_cpuid() over the vCPU's
 * KVM_SET_CPUID2 table (`KvmCpuid.kvmCpuid`: exact entry, else Intel's out-of-range rule
 * to the max basic leaf, else zeros with the 0xB/0x1F x2APIC-ID special case) gives R12 = EAX,
 * R13 = EBX, R14 = ECX, R15 = EDX (zero-extended). R10 is not written: success is implicit.
 * There is no error path; a leaf missing from the table returns what kvm_cpuid returns for it.
 */
@injectable()
export class CpuidLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = { name: 'kvm.cpuid', namespace: 'ghci', leaf: TDVMCALL_CPUID } as const;

  /** Kernel half: kvm_cpuid() into R12..R15, resume. */
  kernel(ctx: LeafContext): number {
    const cpuid = vcpuOf(ctx, this.meta.name).arch.cpuid;
    const r = ctx.regs;
    cpuid.kvmCpuid(r.lo(R12), r.lo(R13));
    const out = cpuid.out;
    r.setHalves(R12, out[0]!, 0);
    r.setHalves(R13, out[1]!, 0);
    r.setHalves(R14, out[2]!, 0);
    r.setHalves(R15, out[3]!, 0);
    return LEAF_RESUME;
  }
}
