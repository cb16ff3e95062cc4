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
  /** `__u8 request_interrupt_window`: userspace asks for an exit when an interrupt can be injected. */
  request_interrupt_window: { offset: 0, size: 1 },
  /** `__u8 immediate_exit`: when set, KVM_RUN returns -EINTR without entering the guest. */
  immediate_exit: { offset: 1, size: 1 },
  /** `__u32 exit_reason`: the KVM_EXIT_* reason of the last exit. */
  exit_reason: { offset: 8, size: 4 },
  /** `__u8 ready_for_interrupt_injection`. */
  ready_for_interrupt_injection: { offset: 12, size: 1 },
  /** `__u8 if_flag`: RFLAGS.IF of the vCPU. */
  if_flag: { offset: 13, size: 1 },
  /** `__u16 flags`: KVM_RUN_X86_* flags. */
  flags: { offset: 14, size: 2 },
  /** `__u64 cr8`. */
  cr8: { offset: 16, size: 8 },
  /** `__u64 apic_base`. */
  apic_base: { offset: 24, size: 8 },
  /** KVM_EXIT_UNKNOWN: `__u64 hw.hardware_exit_reason`. */
  'hw.hardware_exit_reason': { offset: 32, size: 8 },
  /** KVM_EXIT_FAIL_ENTRY: `__u64 hardware_entry_failure_reason` (for a TD, the TDH.VP.ENTER status). */
  'fail_entry.hardware_entry_failure_reason': { offset: 32, size: 8 },
  /** KVM_EXIT_FAIL_ENTRY: `__u32 cpu`. */
  'fail_entry.cpu': { offset: 40, size: 4 },
  /** KVM_EXIT_EXCEPTION: `__u32 exception`. */
  'ex.exception': { offset: 32, size: 4 },
  /** KVM_EXIT_EXCEPTION: `__u32 error_code`. */
  'ex.error_code': { offset: 36, size: 4 },
  /** KVM_EXIT_IO: `__u8 direction` (0 in, 1 out). */
  'io.direction': { offset: 32, size: 1 },
  /** KVM_EXIT_IO: `__u8 size` (1, 2 or 4 bytes). */
  'io.size': { offset: 33, size: 1 },
  /** KVM_EXIT_IO: `__u16 port`. */
  'io.port': { offset: 34, size: 2 },
  /** KVM_EXIT_IO: `__u32 count`. */
  'io.count': { offset: 36, size: 4 },
  /** KVM_EXIT_IO: `__u64 data_offset`, from the start of kvm_run. */
  'io.data_offset': { offset: 40, size: 8 },
  /** KVM_EXIT_MMIO: `__u64 phys_addr`. */
  'mmio.phys_addr': { offset: 32, size: 8 },
  /** KVM_EXIT_MMIO: `__u8 data[8]`. */
  'mmio.data': { offset: 40, size: 8 },
  /** KVM_EXIT_MMIO: `__u32 len`. */
  'mmio.len': { offset: 48, size: 4 },
  /** KVM_EXIT_MMIO: `__u8 is_write`. */
  'mmio.is_write': { offset: 52, size: 1 },
  /** KVM_EXIT_HYPERCALL: `__u64 nr` (e.g. KVM_HC_MAP_GPA_RANGE). */
  'hypercall.nr': { offset: 32, size: 8 },
  /** KVM_EXIT_HYPERCALL: `__u64 args[6]`. */
  'hypercall.args': { offset: 40, size: 48 },
  /** KVM_EXIT_HYPERCALL: `__u64 ret`, written by userspace. */
  'hypercall.ret': { offset: 88, size: 8 },
  /** KVM_EXIT_HYPERCALL: `__u32 longmode` (older name of the low half of `flags`). */
  'hypercall.longmode': { offset: 96, size: 4 },
  /** KVM_EXIT_HYPERCALL: `__u64 flags` (KVM_EXIT_HYPERCALL_LONG_MODE). */
  'hypercall.flags': { offset: 96, size: 8 },
  /** KVM_EXIT_INTERNAL_ERROR: `__u32 suberror` (KVM_INTERNAL_ERROR_*). */
  'internal.suberror': { offset: 32, size: 4 },
  /** KVM_EXIT_INTERNAL_ERROR: `__u32 ndata`. */
  'internal.ndata': { offset: 36, size: 4 },
  /** KVM_EXIT_INTERNAL_ERROR: `__u64 data[16]`. */
  'internal.data': { offset: 40, size: 128 },
  /** KVM_EXIT_SYSTEM_EVENT: `__u32 type` (KVM_SYSTEM_EVENT_*). */
  'system_event.type': { offset: 32, size: 4 },
  /** KVM_EXIT_SYSTEM_EVENT: `__u32 ndata`. */
  'system_event.ndata': { offset: 36, size: 4 },
  /** KVM_EXIT_SYSTEM_EVENT: `__u64 data[16]`. */
  'system_event.data': { offset: 40, size: 128 },
  /** KVM_EXIT_X86_RDMSR / WRMSR: `__u8 error`, written by userspace. */
  'msr.error': { offset: 32, size: 1 },
  /** KVM_EXIT_X86_RDMSR / WRMSR: `__u32 reason` (KVM_MSR_EXIT_REASON_*). */
  'msr.reason': { offset: 40, size: 4 },
  /** KVM_EXIT_X86_RDMSR / WRMSR: `__u32 index`. */
  'msr.index': { offset: 44, size: 4 },
  /** KVM_EXIT_X86_RDMSR / WRMSR: `__u64 data`. */
  'msr.data': { offset: 48, size: 8 },
  /** KVM_EXIT_MEMORY_FAULT: `__u64 flags` (KVM_MEMORY_EXIT_FLAG_PRIVATE). */
  'memory_fault.flags': { offset: 32, size: 8 },
  /** KVM_EXIT_MEMORY_FAULT: `__u64 gpa`. */
  'memory_fault.gpa': { offset: 40, size: 8 },
  /** KVM_EXIT_MEMORY_FAULT: `__u64 size`. */
  'memory_fault.size': { offset: 48, size: 8 },
  /** KVM_EXIT_TDX: `__u64 flags`. */
  'tdx.flags': { offset: 32, size: 8 },
  /** KVM_EXIT_TDX: `__u64 nr`, the TDVMCALL leaf. */
  'tdx.nr': { offset: 40, size: 8 },
  /** KVM_EXIT_TDX: `__u64 ret` (every member's `ret` is here), the TDVMCALL status for R10. */
  'tdx.unknown.ret': { offset: 48, size: 8 },
  /** KVM_EXIT_TDX: `__u64 unknown.data[5]`. */
  'tdx.unknown.data': { offset: 56, size: 40 },
  /** KVM_EXIT_TDX GetQuote: `__u64 ret`. */
  'tdx.get_quote.ret': { offset: 48, size: 8 },
  /** KVM_EXIT_TDX GetQuote: `__u64 gpa` of the shared buffer. */
  'tdx.get_quote.gpa': { offset: 56, size: 8 },
  /** KVM_EXIT_TDX GetQuote: `__u64 size` of the shared buffer. */
  'tdx.get_quote.size': { offset: 64, size: 8 },
  /** KVM_EXIT_TDX GetTdVmCallInfo: `__u64 ret`. */
  'tdx.get_tdvmcall_info.ret': { offset: 48, size: 8 },
  /** KVM_EXIT_TDX GetTdVmCallInfo: `__u64 leaf` (R12). */
  'tdx.get_tdvmcall_info.leaf': { offset: 56, size: 8 },
  /** KVM_EXIT_TDX GetTdVmCallInfo: `__u64 r11`, returned in R11. */
  'tdx.get_tdvmcall_info.r11': { offset: 64, size: 8 },
  /** KVM_EXIT_TDX GetTdVmCallInfo: `__u64 r12`, returned in R12. */
  'tdx.get_tdvmcall_info.r12': { offset: 72, size: 8 },
  /** KVM_EXIT_TDX GetTdVmCallInfo: `__u64 r13`, returned in R13. */
  'tdx.get_tdvmcall_info.r13': { offset: 80, size: 8 },
  /** KVM_EXIT_TDX GetTdVmCallInfo: `__u64 r14`, returned in R14. */
  'tdx.get_tdvmcall_info.r14': { offset: 88, size: 8 },
  /** KVM_EXIT_TDX SetupEventNotifyInterrupt: `__u64 ret`. */
  'tdx.setup_event_notify.ret': { offset: 48, size: 8 },
  /** KVM_EXIT_TDX SetupEventNotifyInterrupt: `__u64 vector`. */
  'tdx.setup_event_notify.vector': { offset: 56, size: 8 },
  /** `char padding[256]`: the whole exit union. */
  padding: { offset: 32, size: 256 },
  /** `__u64 kvm_valid_regs`. */
  kvm_valid_regs: { offset: 288, size: 8 },
  /** `__u64 kvm_dirty_regs`. */
  kvm_dirty_regs: { offset: 296, size: 8 },
  /** `union s` (sync regs), padded to 2048 bytes. */
  s: { offset: 304, size: 2048 },
} as const satisfies Readonly<Record<string, KvmRunField>>;

/** A member path of {@link KVM_RUN_LAYOUT}. */
export type KvmRunMember = keyof typeof KVM_RUN_LAYOUT;
