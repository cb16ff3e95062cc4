import { injectable } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, type LeafContext, type LeafPlugin } from '@seamkit/core';
import {
  R10, R11, R12, R13, TDVMCALL_RDMSR, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_WRMSR,
} from '@seamkit/seam-cpu/abi';
import { KVM_MSR_RET_FILTERED, KVM_MSR_RET_OK, KVM_MSR_RET_UNSUPPORTED } from '../devices/Msrs.js';
import { KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import {
  KVM_MSR_EXIT_REASON_FILTER, KVM_MSR_EXIT_REASON_INVAL, KVM_MSR_EXIT_REASON_UNKNOWN, KVM_MSR_FILTER_READ, KVM_MSR_FILTER_WRITE,
} from '../uapi/x86.js';
import type { Vcpu } from '../Vcpu.js';
import { vcpuOf } from './KvmLeafContext.js';

const ERROR = L['msr.error'].offset;
const REASON = L['msr.reason'].offset;
const INDEX = L['msr.index'].offset;
const DATA = L['msr.data'].offset;

/** The `struct kvm_run.msr` members both MSR exits fill. */
const MSR_EXIT_LAYOUT = {
  /** `msr.error`: userspace sets it non-zero to fail the access (the guest gets INVALID_OPERAND). */
  error: L['msr.error'],
  /** `msr.reason`: KVM_MSR_EXIT_REASON_INVAL, _UNKNOWN or _FILTER. */
  reason: L['msr.reason'],
  /** `msr.index`: the MSR. */
  index: L['msr.index'],
  /** `msr.data`: the value written (WRMSR), or the value userspace returns (RDMSR). */
  data: L['msr.data'],
} as const;

/** kvm_msr_reason: the KVM_MSR_EXIT_REASON_* of a failed access. */
function msrReason(r: number): number {
  return r === KVM_MSR_RET_UNSUPPORTED ? KVM_MSR_EXIT_REASON_UNKNOWN : r === KVM_MSR_RET_FILTERED ? KVM_MSR_EXIT_REASON_FILTER : KVM_MSR_EXIT_REASON_INVAL;
}

/**
 * kvm_msr_user_space: when userspace asked for this failure's reason (KVM_CAP_X86_USER_SPACE_MSR),
 * fills the msr exit (error and pad 0, reason, index, data).
 * @returns whether the access goes to userspace
 */
function toUserspace(vcpu: Vcpu, ctx: LeafContext, r: number, index: number, lo: number, hi: number): boolean {
  const reason = msrReason(r);
  if ((vcpu.vm.userSpaceMsrMask & reason) === 0) return false;
  const run = ctx.run;
  run.setU64Halves(ERROR, 0, 0); // error and pad[7]
  run.setU32(REASON, reason);
  run.setU32(INDEX, index);
  run.setU64Halves(DATA, lo, hi);
  return true;
}

function invalidOperand(ctx: LeafContext): number {
  ctx.regs.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
  return LEAF_RESUME;
}

/**
 * TDVMCALL<Instruction.RDMSR> (31), as Linux 6.16 handles it (kvm_emulate_rdmsr with R12 in
 * RCX, then tdx_complete_emulated_msr): R12 = MSR index (low 32 bits). The VM's MSR filter
 * (KVM_X86_SET_MSR_FILTER; x2APIC MSRs are never filtered) and then tdx_get_msr decide:
 * success puts the value in R11; a failure exits with KVM_EXIT_X86_RDMSR if userspace enabled its
 * reason with KVM_CAP_X86_USER_SPACE_MSR (filtered: FILTER; unknown to KVM: UNKNOWN; rejected:
 * INVAL), else R10 = INVALID_OPERAND. After the exit, `msr.error` != 0 gives INVALID_OPERAND,
 * else R11 = `msr.data`.
 */
@injectable()
export class RdmsrLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = { name: 'kvm.rdmsr', namespace: 'ghci', leaf: TDVMCALL_RDMSR, exit: { reason: KVM_EXIT_X86_RDMSR, layout: MSR_EXIT_LAYOUT } } as const;

  /** Kernel half: filter, emulated MSR read, userspace exit or INVALID_OPERAND. */
  kernel(ctx: LeafContext): number {
    const vcpu = vcpuOf(ctx, this.meta.name);
    const index = ctx.regs.lo(R12);
    const filter = vcpu.vm.msrFilter;
    const msrs = vcpu.arch.msrs;
    const r = filter !== undefined && !filter.allowed(index, KVM_MSR_FILTER_READ) ? KVM_MSR_RET_FILTERED : msrs.get(index, false);
    if (r === KVM_MSR_RET_OK) {
      ctx.regs.setHalves(R11, msrs.out[0]!, msrs.out[1]!);
      return LEAF_RESUME;
    }
    return toUserspace(vcpu, ctx, r, index, 0, 0) ? LEAF_EXIT : invalidOperand(ctx);
  }

  /** Completion (complete_fast_rdmsr): error -> INVALID_OPERAND, else R11 = msr.data. */
  complete(ctx: LeafContext): void {
    const run = ctx.run;
    if (run.bytes[ERROR] !== 0) {
      invalidOperand(ctx);
      return;
    }
    ctx.regs.setHalves(R11, run.getU64Lo(DATA), run.getU64Hi(DATA));
  }
}

/**
 * TDVMCALL<Instruction.WRMSR> (32), as Linux 6.16 handles it (kvm_emulate_wrmsr with R12 in RCX
 * and R13 split into EAX/EDX): R12 = MSR index (low 32 bits), R13 = value. Filter and
 * tdx_set_msr (APICBASE, EFER, FEAT_CTL are read-only) decide; a failure exits with
 * KVM_EXIT_X86_WRMSR (`msr.data` = the value) if userspace enabled its reason, else R10 =
 * INVALID_OPERAND. After the exit, `msr.error` != 0 gives INVALID_OPERAND.
 */
@injectable()
export class WrmsrLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = { name: 'kvm.wrmsr', namespace: 'ghci', leaf: TDVMCALL_WRMSR, exit: { reason: KVM_EXIT_X86_WRMSR, layout: MSR_EXIT_LAYOUT } } as const;

  /** Kernel half: filter, emulated MSR write, userspace exit or INVALID_OPERAND. */
  kernel(ctx: LeafContext): number {
    const vcpu = vcpuOf(ctx, this.meta.name);
    const r12 = ctx.regs;
    const index = r12.lo(R12);
    const lo = r12.lo(R13);
    const hi = r12.hi(R13);
    const filter = vcpu.vm.msrFilter;
    const r = filter !== undefined && !filter.allowed(index, KVM_MSR_FILTER_WRITE) ? KVM_MSR_RET_FILTERED : vcpu.arch.msrs.set(index, lo, hi, false);
    if (r === KVM_MSR_RET_OK) return LEAF_RESUME;
    return toUserspace(vcpu, ctx, r, index, lo, hi) ? LEAF_EXIT : invalidOperand(ctx);
  }

  /** Completion (complete_fast_msr_access): error -> INVALID_OPERAND. */
  complete(ctx: LeafContext): void {
    if (ctx.run.bytes[ERROR] !== 0) invalidOperand(ctx);
  }
}
