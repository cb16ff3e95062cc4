/**
 * Byte layout of `struct kvm_run` for every member seamkit reads or writes, as data.
 *
 * Source: Linux include/uapi/linux/kvm.h (6.16, x86-64). Offsets measured with gcc
 * (offsetof) against that header: the exit union is at 32 and padded to 256 bytes; the TDX
 * member (KVM_EXIT_TDX) is `{u64 flags; u64 nr; union {unknown{ret,data[5]}, get_quote{ret,gpa,
 * size}, get_tdvmcall_info{ret,leaf,r11,r12,r13,r14}, setup_event_notify{ret,vector}}}`.
 * @module
 */

/** Offset and size in bytes of one member. */
export interface KvmRunField {
  /** Offset from the start of kvm_run. */
  readonly offset: number;
  /** Size in bytes (for arrays, of the whole array). */
  readonly size: number;
}

/** Member path (as in C, `.`-separated inside the exit union) to offset and size. */
export const KVM_RUN_LAYOUT = {
  request_interrupt_window: { offset: 0, size: 1 },
  immediate_exit: { offset: 1, size: 1 },
  exit_reason: { offset: 8, size: 4 },
  ready_for_interrupt_injection: { offset: 12, size: 1 },
  if_flag: { offset: 13, size: 1 },
  flags: { offset: 14, size: 2 },
  cr8: { offset: 16, size: 8 },
  apic_base: { offset: 24, size: 8 },
  'hw.hardware_exit_reason': { offset: 32, size: 8 },
  'fail_entry.hardware_entry_failure_reason': { offset: 32, size: 8 },
  'fail_entry.cpu': { offset: 40, size: 4 },
  'ex.exception': { offset: 32, size: 4 },
  'ex.error_code': { offset: 36, size: 4 },
  'io.direction': { offset: 32, size: 1 },
  'io.size': { offset: 33, size: 1 },
  'io.port': { offset: 34, size: 2 },
  'io.count': { offset: 36, size: 4 },
  'io.data_offset': { offset: 40, size: 8 },
  'mmio.phys_addr': { offset: 32, size: 8 },
  'mmio.data': { offset: 40, size: 8 },
  'mmio.len': { offset: 48, size: 4 },
  'mmio.is_write': { offset: 52, size: 1 },
  'hypercall.nr': { offset: 32, size: 8 },
  'hypercall.args': { offset: 40, size: 48 },
  'hypercall.ret': { offset: 88, size: 8 },
  'hypercall.longmode': { offset: 96, size: 4 },
  'hypercall.flags': { offset: 96, size: 8 },
  'internal.suberror': { offset: 32, size: 4 },
  'internal.ndata': { offset: 36, size: 4 },
  'internal.data': { offset: 40, size: 128 },
  'system_event.type': { offset: 32, size: 4 },
  'system_event.ndata': { offset: 36, size: 4 },
  'system_event.data': { offset: 40, size: 128 },
  'msr.error': { offset: 32, size: 1 },
  'msr.reason': { offset: 40, size: 4 },
  'msr.index': { offset: 44, size: 4 },
  'msr.data': { offset: 48, size: 8 },
  'memory_fault.flags': { offset: 32, size: 8 },
  'memory_fault.gpa': { offset: 40, size: 8 },
  'memory_fault.size': { offset: 48, size: 8 },
  'tdx.flags': { offset: 32, size: 8 },
  'tdx.nr': { offset: 40, size: 8 },
  'tdx.unknown.ret': { offset: 48, size: 8 },
  'tdx.unknown.data': { offset: 56, size: 40 },
  'tdx.get_quote.ret': { offset: 48, size: 8 },
  'tdx.get_quote.gpa': { offset: 56, size: 8 },
  'tdx.get_quote.size': { offset: 64, size: 8 },
  'tdx.get_tdvmcall_info.ret': { offset: 48, size: 8 },
  'tdx.get_tdvmcall_info.leaf': { offset: 56, size: 8 },
  'tdx.get_tdvmcall_info.r11': { offset: 64, size: 8 },
  'tdx.get_tdvmcall_info.r12': { offset: 72, size: 8 },
  'tdx.get_tdvmcall_info.r13': { offset: 80, size: 8 },
  'tdx.get_tdvmcall_info.r14': { offset: 88, size: 8 },
  'tdx.setup_event_notify.ret': { offset: 48, size: 8 },
  'tdx.setup_event_notify.vector': { offset: 56, size: 8 },
  padding: { offset: 32, size: 256 },
  kvm_valid_regs: { offset: 288, size: 8 },
  kvm_dirty_regs: { offset: 296, size: 8 },
  s: { offset: 304, size: 2048 },
} as const satisfies Readonly<Record<string, KvmRunField>>;

/** A member path of {@link KVM_RUN_LAYOUT}. */
export type KvmRunMember = keyof typeof KVM_RUN_LAYOUT;
