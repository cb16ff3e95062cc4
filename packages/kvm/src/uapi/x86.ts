/**
 * x86 KVM uapi constants for the vCPU state, interrupt and MSR ioctls: mp_state values,
 * `struct kvm_cpuid_entry2` flags, the MSR filter and userspace-MSR-exit flags, the x2APIC API
 * flags, `struct kvm_msi` flags, the PIO data page, and the capability numbers the simulated KVM
 * answers.
 *
 * Sources: Linux include/uapi/linux/kvm.h (6.16: KVM_MP_STATE_*, KVM_MSR_EXIT_REASON_*,
 * KVM_MSI_VALID_DEVID, KVM_X2APIC_API_*, KVM_CAP_*), arch/x86/include/uapi/asm/kvm.h
 * (KVM_CPUID_FLAG_*, struct kvm_msr_filter, KVM_MSR_FILTER_*), include/uapi/linux/kvm.h
 * KVM_EXIT_IO_IN/OUT, arch/x86/include/asm/kvm_host.h (KVM_PIO_PAGE_OFFSET,
 * KVM_MAX_CPUID_ENTRIES, KVM_MAX_MCE_BANKS), arch/x86/kvm/x86.c (KVM_MSR_FILTER_MAX_BITMAP_SIZE,
 * MAX_IO_MSRS).
 * @module
 */

/** KVM_MP_STATE_RUNNABLE: the vCPU runs. */
export const KVM_MP_STATE_RUNNABLE = 0;
/** KVM_MP_STATE_UNINITIALIZED: waiting for INIT (an AP before KVM_TDX_INIT_VCPU). */
export const KVM_MP_STATE_UNINITIALIZED = 1;
/** KVM_MP_STATE_INIT_RECEIVED */
export const KVM_MP_STATE_INIT_RECEIVED = 2;
/** KVM_MP_STATE_HALTED: after HLT, until an interrupt wakes it. */
export const KVM_MP_STATE_HALTED = 3;
/** KVM_MP_STATE_SIPI_RECEIVED */
export const KVM_MP_STATE_SIPI_RECEIVED = 4;
/** KVM_MP_STATE_AP_RESET_HOLD */
export const KVM_MP_STATE_AP_RESET_HOLD = 9;

/** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic): `index` (ECX) selects the entry. */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0;
/** KVM_CPUID_FLAG_STATEFUL_FUNC (deprecated). */
export const KVM_CPUID_FLAG_STATEFUL_FUNC = 1 << 1;
/** KVM_CPUID_FLAG_STATE_READ_NEXT (deprecated). */
export const KVM_CPUID_FLAG_STATE_READ_NEXT = 1 << 2;
/** KVM_MAX_CPUID_ENTRIES: the most entries KVM_SET_CPUID2 takes. */
export const KVM_MAX_CPUID_ENTRIES = 256;

/** KVM_EXIT_IO_IN: `io.direction` of a port read. */
export const KVM_EXIT_IO_IN = 0;
/** KVM_EXIT_IO_OUT: `io.direction` of a port write. */
export const KVM_EXIT_IO_OUT = 1;
/** KVM_PIO_PAGE_OFFSET: the page of the vCPU mapping (after kvm_run) that holds PIO data. */
export const KVM_PIO_PAGE_OFFSET = 1;

/** KVM_MSR_EXIT_REASON_INVAL: exit on an access KVM rejects (#GP). */
export const KVM_MSR_EXIT_REASON_INVAL = 1 << 0;
/** KVM_MSR_EXIT_REASON_UNKNOWN: exit on an MSR KVM does not know. */
export const KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
/** KVM_MSR_EXIT_REASON_FILTER: exit on an access the MSR filter denies. */
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;
/** KVM_MSR_EXIT_REASON_VALID_MASK */
export const KVM_MSR_EXIT_REASON_VALID_MASK = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER;

/** KVM_MSR_FILTER_READ: a range applies to RDMSR. */
export const KVM_MSR_FILTER_READ = 1 << 0;
/** KVM_MSR_FILTER_WRITE: a range applies to WRMSR. */
export const KVM_MSR_FILTER_WRITE = 1 << 1;
/** KVM_MSR_FILTER_RANGE_VALID_MASK */
export const KVM_MSR_FILTER_RANGE_VALID_MASK = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
/** KVM_MSR_FILTER_DEFAULT_ALLOW: accesses no range covers are allowed. */
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
/** KVM_MSR_FILTER_DEFAULT_DENY: accesses no range covers are denied. */
export const KVM_MSR_FILTER_DEFAULT_DENY = 1 << 0;
/** KVM_MSR_FILTER_VALID_MASK */
export const KVM_MSR_FILTER_VALID_MASK = KVM_MSR_FILTER_DEFAULT_DENY;
/** KVM_MSR_FILTER_MAX_RANGES: `ranges[]` of struct kvm_msr_filter. */
export const KVM_MSR_FILTER_MAX_RANGES = 16;
/** KVM_MSR_FILTER_MAX_BITMAP_SIZE: the largest bitmap (bytes, rounded up to longs) of one range. */
export const KVM_MSR_FILTER_MAX_BITMAP_SIZE = 0x600;
/** MAX_IO_MSRS: KVM_GET_MSRS / KVM_SET_MSRS take fewer entries than this. */
export const MAX_IO_MSRS = 256;

/** KVM_X2APIC_API_USE_32BIT_IDS: MSI address_hi bits 31:8 extend the destination ID. */
export const KVM_X2APIC_API_USE_32BIT_IDS = 1 << 0;
/** KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK: destination 0xff is not an x2APIC broadcast. */
export const KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1;
/** KVM_X2APIC_API_VALID_FLAGS */
export const KVM_X2APIC_API_VALID_FLAGS = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;

/** KVM_MSI_VALID_DEVID: `struct kvm_msi.devid` is valid. */
export const KVM_MSI_VALID_DEVID = 1 << 0;

/** KVM_MAX_MCE_BANKS: machine-check banks of a vCPU (MCG_CAP.Count at creation). */
export const KVM_MAX_MCE_BANKS = 32;

/** KVM_CAP_HLT */
export const KVM_CAP_HLT = 1;
/** KVM_CAP_EXT_CPUID: KVM_SET_CPUID2 / KVM_GET_CPUID2. */
export const KVM_CAP_EXT_CPUID = 7;
/** KVM_CAP_MP_STATE: KVM_GET_MP_STATE / KVM_SET_MP_STATE. */
export const KVM_CAP_MP_STATE = 14;
/** KVM_CAP_MCE: reports KVM_MAX_MCE_BANKS. */
export const KVM_CAP_MCE = 31;
/** KVM_CAP_IOEVENTFD (the in-kernel PIO/MMIO buses devices register on). */
export const KVM_CAP_IOEVENTFD = 36;
/** KVM_CAP_SIGNAL_MSI: KVM_SIGNAL_MSI. */
export const KVM_CAP_SIGNAL_MSI = 77;
/** KVM_CAP_SPLIT_IRQCHIP (TDX requires a split irqchip: local APICs in KVM, no I/O APIC). */
export const KVM_CAP_SPLIT_IRQCHIP = 121;
/** KVM_CAP_X2APIC_API: reports and enables KVM_X2APIC_API_* flags. */
export const KVM_CAP_X2APIC_API = 129;
/** KVM_CAP_IMMEDIATE_EXIT: `kvm_run.immediate_exit`. */
export const KVM_CAP_IMMEDIATE_EXIT = 136;
/** KVM_CAP_X86_USER_SPACE_MSR: MSR accesses can exit with KVM_EXIT_X86_RDMSR / WRMSR. */
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
/** KVM_CAP_X86_MSR_FILTER: KVM_X86_SET_MSR_FILTER. */
export const KVM_CAP_X86_MSR_FILTER = 189;
