import { ExitBuffer } from '@seamkit/core';
import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';
import { KVM_RUN_LAYOUT as L } from './uapi/kvmRunLayout.js';

/** Size of the vCPU mapping: struct kvm_run in the first page, PIO data in the second (KVM_PIO_PAGE_OFFSET). */
export const KVM_RUN_MMAP_SIZE = 2 * PAGE_SIZE;

/**
 * The vCPU's kvm_run mapping: a byte-exact `struct kvm_run` (2352 bytes) at offset 0, reused for
 * every exit, in a two-page buffer whose second page holds KVM_EXIT_IO data (`io.data_offset`
 * = 4096), as real KVM maps the PIO page after kvm_run. Data of an exit is valid until the next
 * `run()`; replies (`ret` fields, IO/MMIO read data) must be written before it. Offsets come from
 * {@link KVM_RUN_LAYOUT}.
 */
export class KvmRun extends ExitBuffer {
  /** A zeroed two-page mapping. */
  constructor() {
    super(KVM_RUN_MMAP_SIZE);
  }

  /** `exit_reason` (u32 at 8). */
  get exitReason(): number {
    return this.getU32(L.exit_reason.offset);
  }

  /** `immediate_exit` (u8 at 1): when set, KVM_RUN returns -EINTR without entering the guest. */
  get immediateExit(): number {
    return this.bytes[L.immediate_exit.offset]!;
  }

  /** Sets `immediate_exit`. */
  set immediateExit(v: number) {
    this.bytes[L.immediate_exit.offset] = v;
  }

  /** `tdx.nr`: the TDVMCALL leaf of a KVM_EXIT_TDX. */
  get tdxNr(): number {
    return this.getU64Number(L['tdx.nr'].offset);
  }

  /** `tdx.unknown.ret` (same offset as every member's `ret`). */
  get tdxRet(): bigint {
    return this.getU64(L['tdx.unknown.ret'].offset);
  }

  /** Writes `tdx.*.ret`: the reply the leaf's completion hands to the guest. */
  set tdxRet(v: bigint) {
    this.setU64(L['tdx.unknown.ret'].offset, v);
  }

  /** `system_event.type`. */
  get systemEventType(): number {
    return this.getU32(L['system_event.type'].offset);
  }

  /** `system_event.ndata`. */
  get systemEventNdata(): number {
    return this.getU32(L['system_event.ndata'].offset);
  }

  /** `system_event.data[i]`. */
  systemEventData(i: number): bigint {
    return this.getU64(L['system_event.data'].offset + 8 * i);
  }

  /** `internal.suberror`. */
  get internalSuberror(): number {
    return this.getU32(L['internal.suberror'].offset);
  }

  /** `internal.ndata`. */
  get internalNdata(): number {
    return this.getU32(L['internal.ndata'].offset);
  }

  /** `internal.data[i]`. */
  internalData(i: number): bigint {
    return this.getU64(L['internal.data'].offset + 8 * i);
  }

  /** `hypercall.nr`. */
  get hypercallNr(): bigint {
    return this.getU64(L['hypercall.nr'].offset);
  }

  /** `hypercall.args[i]`. */
  hypercallArg(i: number): bigint {
    return this.getU64(L['hypercall.args'].offset + 8 * i);
  }

  /** `hypercall.ret`. */
  get hypercallRet(): bigint {
    return this.getU64(L['hypercall.ret'].offset);
  }

  /** Writes `hypercall.ret`: the reply to a KVM_EXIT_HYPERCALL. */
  set hypercallRet(v: bigint) {
    this.setU64(L['hypercall.ret'].offset, v);
  }
}
