import { injectable } from 'inversify';
import { LEAF_RESUME, type LeafContext, type LeafPlugin } from '@seamkit/core';
import { TDVMCALL_HLT } from '@seamkit/seam-cpu/abi';
import { KVM_MP_STATE_HALTED } from '../uapi/x86.js';
import { vcpuOf } from './KvmLeafContext.js';

/**
 * TDVMCALL<Instruction.HLT> (12), as Linux 6.16 handles it (EXIT_REASON_HLT ->
 * kvm_emulate_halt_noskip): R12 is the guest's "interrupts blocked" flag. If an interrupt is
 * pending and not blocked (`VcpuArch.hasEvents`: a posted interrupt, or the guest's RVI
 * after a HLT with R12 = 0), the guest resumes at once; otherwise mp_state becomes
 * KVM_MP_STATE_HALTED. A halted vCPU wakes (mp_state RUNNABLE) when an interrupt it can take is
 * posted (KVM_SIGNAL_MSI, an IPI) or when userspace sets mp_state; until then KVM_RUN blocks,
 * which the simulator reports as -EINTR with exit_reason KVM_EXIT_INTR (see `Vcpu.run`). Either
 * way the guest continues after its HLT with R10 unchanged (0, implicit success).
 */
@injectable()
export class HltLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = { name: 'kvm.hlt', namespace: 'ghci', leaf: TDVMCALL_HLT } as const;

  /** Kernel half: halt unless an event is pending; resume (KVM_RUN blocks while halted). */
  kernel(ctx: LeafContext): number {
    const arch = vcpuOf(ctx, this.meta.name).arch;
    arch.hltExit = true;
    if (!arch.hasEvents()) arch.mpState = KVM_MP_STATE_HALTED;
    return LEAF_RESUME;
  }
}
