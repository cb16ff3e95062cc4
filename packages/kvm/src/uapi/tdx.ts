/**
 * KVM TDX uapi constants: VM type, KVM_TDX_* sub-commands, capabilities, hypercall numbers.
 *
 * Sources: Linux arch/x86/include/uapi/asm/kvm.h (KVM_X86_TDX_VM 5, enum kvm_tdx_cmd_id,
 * KVM_TDX_MEASURE_MEMORY_REGION), Documentation/virt/kvm/x86/intel-tdx.rst (TERMINATE_VM is 6.17+),
 * include/uapi/linux/kvm.h (KVM_CAP_EXIT_HYPERCALL 201), include/uapi/linux/kvm_para.h
 * (KVM_HC_MAP_GPA_RANGE 12, KVM_ENOSYS 1000, KVM_MAP_GPA_RANGE_*), arch/x86/kvm/x86.c
 * (KVM_EXIT_HYPERCALL_VALID_MASK).
 * @module
 */

/** KVM_X86_DEFAULT_VM */
export const KVM_X86_DEFAULT_VM = 0;
/** KVM_X86_TDX_VM */
export const KVM_X86_TDX_VM = 5;

/** KVM_TDX_CAPABILITIES */
export const KVM_TDX_CAPABILITIES = 0;
/** KVM_TDX_INIT_VM */
export const KVM_TDX_INIT_VM = 1;
/** KVM_TDX_INIT_VCPU */
export const KVM_TDX_INIT_VCPU = 2;
/** KVM_TDX_INIT_MEM_REGION */
export const KVM_TDX_INIT_MEM_REGION = 3;
/** KVM_TDX_FINALIZE_VM */
export const KVM_TDX_FINALIZE_VM = 4;
/** KVM_TDX_GET_CPUID */
export const KVM_TDX_GET_CPUID = 5;
/** KVM_TDX_TERMINATE_VM (6.17+) */
export const KVM_TDX_TERMINATE_VM = 6;
/** KVM_TDX_MEASURE_MEMORY_REGION: flag of KVM_TDX_INIT_MEM_REGION. */
export const KVM_TDX_MEASURE_MEMORY_REGION = 1;

/** KVM_CAP_EXIT_HYPERCALL */
export const KVM_CAP_EXIT_HYPERCALL = 201;
/** KVM_HC_MAP_GPA_RANGE */
export const KVM_HC_MAP_GPA_RANGE = 12;
/** KVM_EXIT_HYPERCALL_VALID_MASK: only BIT(KVM_HC_MAP_GPA_RANGE). */
export const KVM_EXIT_HYPERCALL_VALID_MASK = 1 << KVM_HC_MAP_GPA_RANGE;
/** KVM_ENOSYS */
export const KVM_ENOSYS = 1000;
/** KVM_MAP_GPA_RANGE_ENCRYPTED */
export const KVM_MAP_GPA_RANGE_ENCRYPTED = 1 << 4;
/** KVM_MAP_GPA_RANGE_DECRYPTED */
export const KVM_MAP_GPA_RANGE_DECRYPTED = 0;

/** KVM_MEM_LOG_DIRTY_PAGES: memslot flag, KVM tracks guest writes to the slot (not with KVM_MEM_GUEST_MEMFD). */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
/** KVM_MEM_GUEST_MEMFD: memslot flag, private memory comes from a guest_memfd. */
export const KVM_MEM_GUEST_MEMFD = 1 << 2;

/** TD attribute bits KVM supports (6.16: only SEPT_VE_DISABLE). */
export const KVM_SUPPORTED_TDX_TD_ATTRS = 1n << 28n;

/** GetTdVmCallInfo leaf 1 R11 bit 1: SetupEventNotifyInterrupt. */
export const TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT = 1 << 1;

/** KVM_MEMORY_ATTRIBUTE_PRIVATE (bit 3): the memory attribute of guest_memfd-backed private memory. */
export const KVM_MEMORY_ATTRIBUTE_PRIVATE = 1 << 3;
/** KVM_MEMORY_EXIT_FLAG_PRIVATE (memory_fault.flags bit 3): the faulting access was private. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1 << 3;
/** TDX_MAP_GPA_MAX_LEN: KVM forwards a MapGPA to userspace in chunks of at most 2 MiB. */
export const TDX_MAP_GPA_MAX_LEN = 2 * 2 ** 20;
