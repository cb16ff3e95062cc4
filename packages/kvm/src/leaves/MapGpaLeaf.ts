import { injectable } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import {
  R10, R11, R12, R13, TDVMCALL_MAP_GPA, TDVMCALL_STATUS_ALIGN_ERROR_LO, TDVMCALL_STATUS_ERROR_HI,
  TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_RETRY, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO,
} from '@seamkit/seam-cpu/abi';
import { EAGAIN, EINVAL } from '../uapi/errno.js';
import { KVM_EXIT_HYPERCALL, KVM_EXIT_HYPERCALL_LONG_MODE } from '../uapi/exits.js';
import { KVM_RUN_LAYOUT as L } from '../uapi/kvmRunLayout.js';
import {
  KVM_HC_MAP_GPA_RANGE, KVM_MAP_GPA_RANGE_DECRYPTED, KVM_MAP_GPA_RANGE_ENCRYPTED, TDX_MAP_GPA_MAX_LEN,
} from '../uapi/tdx.js';
import { vcpuOf } from './KvmLeafContext.js';

const ARGS = L['hypercall.args'].offset;
const RET = L['hypercall.ret'].offset;
const FLAGS = L['hypercall.flags'].offset;
const PAGE = 4096;
const U64 = (1n << 64n) - 1n;

/** KVM's per-vCPU MapGPA progress (`vcpu_tdx.map_gpa_next` / `map_gpa_end`), raw guest GPAs. */
interface MapGpaState {
  next: number;
  end: number;
}

/**
 * MapGPA (TDVMCALL 0x10001), as KVM handles it (tdx_map_gpa, __tdx_map_gpa,
 * tdx_complete_vmcall_map_gpa; kvm-x86 2026 completion), forwarded to userspace as
 * KVM_EXIT_HYPERCALL with nr KVM_HC_MAP_GPA_RANGE (12):
 *
 * - userspace must have enabled KVM_CAP_EXIT_HYPERCALL with BIT(KVM_HC_MAP_GPA_RANGE), else
 *   SUBFUNC_UNSUPPORTED, R11 = GPA;
 * - R12 = GPA (its shared bit selects the direction), R13 = size: a wrapping or empty range, an
 *   end beyond GPAW, or ends that disagree on the shared bit give INVALID_OPERAND; then a GPA or
 *   size not 4 KiB aligned gives ALIGN_ERROR; both with R11 = GPA;
 * - otherwise one exit per chunk of at most 2 MiB: hypercall.ret = 0, args[0] = chunk GPA without
 *   the shared bit, args[1] = pages, args[2] = KVM_MAP_GPA_RANGE_ENCRYPTED (0x10) for a private
 *   GPA else DECRYPTED (0), flags = KVM_EXIT_HYPERCALL_LONG_MODE; args[3..5] are not written;
 * - completion (the next KVM_RUN): userspace `ret` 0 goes on: the guest resumes with R10 still 0
 *   after the last chunk; with an event pending (`VcpuArch.hasEvents`: a posted interrupt) it
 *   resumes with RETRY and R11 = the next GPA; otherwise the next chunk exits without entering the
 *   guest. `ret` EAGAIN (11) gives RETRY and EINVAL (22) INVALID_OPERAND, both with R11 = the
 *   GPA of the failed chunk (kvm-x86 2026: "allow userspace to request MAP_GPA retry"; Linux
 *   6.16 through 6.19 answered any non-zero `ret` with INVALID_OPERAND). Any other `ret` makes
 *   KVM_RUN fail with EINVAL. R11 keeps the guest's own encoding (the shared bit included).
 *
 * The userspace half is QEMU's (kvm_handle_hc_map_gpa_range): it converts the chunk with
 * `convertMemory` (KVM_SET_MEMORY_ATTRIBUTES and a discard of the other side) and leaves `ret`
 * 0; unknown attribute bits, or a conversion that fails, stop the vCPU as they stop QEMU.
 */
@injectable()
export class MapGpaLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'kvm.map-gpa',
    namespace: 'ghci',
    leaf: TDVMCALL_MAP_GPA,
    exit: {
      reason: KVM_EXIT_HYPERCALL,
      key: KVM_HC_MAP_GPA_RANGE,
      layout: HYPERCALL_LAYOUT,
      shared: true,
    },
  } as const;

  readonly #state = new WeakMap<LeafContext, MapGpaState>();

  /** Kernel half: tdx_map_gpa (checks, then the first chunk). */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const vcpu = vcpuOf(ctx, this.meta.name);
    if ((vcpu.vm.hypercallExitMask & (1 << KVM_HC_MAP_GPA_RANGE)) === 0) {
      return fail(r, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, r.lo(R12), r.hi(R12));
    }
    const gpa = r.get(R12);
    const size = r.get(R13);
    const end = (gpa + size) & U64;
    const limit = 1n << BigInt(ctx.gpaw);
    const shared = BigInt(ctx.sharedBit);
    if (end <= gpa || gpa >= limit || end - 1n >= limit || (gpa & shared) !== ((end - 1n) & shared)) {
      return fail(r, TDVMCALL_STATUS_INVALID_OPERAND_LO, r.lo(R12), r.hi(R12));
    }
    if ((gpa & 0xfffn) !== 0n || (size & 0xfffn) !== 0n) return fail(r, TDVMCALL_STATUS_ALIGN_ERROR_LO, r.lo(R12), r.hi(R12));
    let state = this.#state.get(ctx);
    if (state === undefined) {
      state = { next: 0, end: 0 };
      this.#state.set(ctx, state);
    }
    state.next = Number(gpa);
    state.end = Number(end);
    exitChunk(ctx, state);
    return LEAF_EXIT;
  }

  /** Completion: tdx_complete_vmcall_map_gpa (kvm-x86 2026). */
  complete(ctx: LeafContext): number {
    const r = ctx.regs;
    const state = this.#state.get(ctx)!;
    const ret = ctx.run.getU64(RET);
    if (ret === BigInt(EAGAIN) || ret === BigInt(EINVAL)) {
      if (ret === BigInt(EAGAIN)) r.set(R10, TDVMCALL_STATUS_RETRY);
      else r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      r.setNumber(R11, state.next);
      return LEAF_RESUME;
    }
    if (ret !== 0n) return -EINVAL;
    state.next += TDX_MAP_GPA_MAX_LEN;
    if (state.next >= state.end) return LEAF_RESUME;
    if (vcpuOf(ctx, this.meta.name).arch.hasEvents()) {
      r.set(R10, TDVMCALL_STATUS_RETRY);
      r.setNumber(R11, state.next);
      return LEAF_RESUME;
    }
    exitChunk(ctx, state);
    return LEAF_EXIT;
  }

  /** Userspace half: QEMU's kvm_handle_hc_map_gpa_range (convert, ret stays 0). */
  user(ctx: UserExitContext): number {
    return mapGpaRangeUser(ctx, this.meta.name);
  }
}

/** The KVM_EXIT_HYPERCALL members of KVM_HC_MAP_GPA_RANGE. */
const HYPERCALL_LAYOUT = {
  /** `hypercall.args[6]`: GPA, pages, ENCRYPTED/DECRYPTED. */
  args: L['hypercall.args'],
  /** `hypercall.ret`: userspace's answer. */
  ret: L['hypercall.ret'],
  /** `hypercall.flags`: KVM_EXIT_HYPERCALL_LONG_MODE. */
  flags: L['hypercall.flags'],
} as const;

/** QEMU's kvm_handle_hc_map_gpa_range for either origin of the exit. */
function mapGpaRangeUser(ctx: UserExitContext, plugin: string): number {
  const run = ctx.run;
  const gpa = run.getU64Number(ARGS);
  const size = run.getU64Number(ARGS + 8) * PAGE;
  const attributes = run.getU64(ARGS + 16);
  if ((attributes & ~BigInt(KVM_MAP_GPA_RANGE_ENCRYPTED)) !== 0n || ctx.memory.convertMemory === undefined) return VcpuEmulation.STOPPED;
  try {
    ctx.memory.convertMemory(gpa, size, attributes !== 0n);
  } catch (error) {
    ctx.emit({ type: 'plugin-error', plugin, half: 'user', error });
    return VcpuEmulation.STOPPED;
  }
  return VcpuEmulation.HANDLED;
}

/** -KVM_ENOSYS and -KVM_EINVAL as u64 halves (include/uapi/linux/kvm_para.h). */
const MINUS_KVM_ENOSYS_LO = -1000 >>> 0;
const MINUS_KVM_EINVAL_LO = -22 >>> 0;

/**
 * KVM_HC_MAP_GPA_RANGE as a KVM hypercall (TDVMCALL with R10 = 12; Linux tdx_emulate_vmcall into
 * __kvm_emulate_hypercall): R11 = GPA, R12 = number of pages, R13 = attributes. Without
 * KVM_CAP_EXIT_HYPERCALL for it: R10 = -KVM_ENOSYS. A GPA not 4 KiB aligned, no pages, or a
 * wrapping frame range: R10 = -KVM_EINVAL. Otherwise one KVM_EXIT_HYPERCALL for the whole range,
 * args[0..2] = R11..R13 as given (no chunking, no shared-bit stripping), ret = 0, flags =
 * KVM_EXIT_HYPERCALL_LONG_MODE; the completion (complete_hypercall_exit) puts `ret` in R10.
 * The exit is shared with {@link MapGpaLeaf}, whose userspace half (the conversion) serves both.
 */
@injectable()
export class MapGpaRangeHypercallLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'kvm.hc-map-gpa-range',
    namespace: 'hypercall',
    leaf: KVM_HC_MAP_GPA_RANGE,
    exit: { reason: KVM_EXIT_HYPERCALL, key: KVM_HC_MAP_GPA_RANGE, layout: HYPERCALL_LAYOUT, shared: true },
  } as const;

  /** Kernel half: the KVM_HC_MAP_GPA_RANGE case of __kvm_emulate_hypercall. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    if ((vcpuOf(ctx, this.meta.name).vm.hypercallExitMask & (1 << KVM_HC_MAP_GPA_RANGE)) === 0) {
      r.setHalves(R10, MINUS_KVM_ENOSYS_LO, 0xffff_ffff);
      return LEAF_RESUME;
    }
    const gpa = r.get(R11);
    const npages = r.get(R12);
    const gfn = gpa >> 12n;
    if ((gpa & 0xfffn) !== 0n || npages === 0n || ((gfn + npages) & U64) <= gfn) {
      r.setHalves(R10, MINUS_KVM_EINVAL_LO, 0xffff_ffff);
      return LEAF_RESUME;
    }
    const run = ctx.run;
    run.setU64Halves(RET, 0, 0);
    run.setU64(ARGS, gpa);
    run.setU64(ARGS + 8, npages);
    run.setU64(ARGS + 16, r.get(R13));
    run.setU64Halves(FLAGS, KVM_EXIT_HYPERCALL_LONG_MODE, 0);
    return LEAF_EXIT;
  }

  /** Completion: complete_hypercall_exit, R10 = hypercall.ret. */
  complete(ctx: LeafContext): void {
    ctx.regs.setHalves(R10, ctx.run.getU64Lo(RET), ctx.run.getU64Hi(RET));
  }

  /** Userspace half: the same conversion as MapGPA's (never reached while MapGpaLeaf owns the exit). */
  user(ctx: UserExitContext): number {
    return mapGpaRangeUser(ctx, this.meta.name);
  }
}

/** R10 = status (error class), R11 = the guest's GPA; resume. */
function fail(r: LeafContext['regs'], statusLo: number, gpaLo: number, gpaHi: number): number {
  r.setHalves(R10, statusLo, TDVMCALL_STATUS_ERROR_HI);
  r.setHalves(R11, gpaLo, gpaHi);
  return LEAF_RESUME;
}

/** __tdx_map_gpa: fills the KVM_EXIT_HYPERCALL fields for the chunk at `state.next`. */
function exitChunk(ctx: LeafContext, state: MapGpaState): void {
  const run = ctx.run;
  const size = Math.min(state.end - state.next, TDX_MAP_GPA_MAX_LEN);
  const sharedBit = ctx.sharedBit;
  const shared = Math.floor(state.next / sharedBit) % 2 === 1;
  run.setU64Halves(RET, 0, 0);
  run.setU64Number(ARGS, shared ? state.next - sharedBit : state.next);
  run.setU64Number(ARGS + 8, size / PAGE);
  run.setU64Halves(ARGS + 16, shared ? KVM_MAP_GPA_RANGE_DECRYPTED : KVM_MAP_GPA_RANGE_ENCRYPTED, 0);
  run.setU64Halves(FLAGS, KVM_EXIT_HYPERCALL_LONG_MODE, 0);
}
