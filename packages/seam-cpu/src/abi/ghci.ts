/**
 * The Guest-Hypervisor Communication Interface (GHCI) ABI of TDG.VP.VMCALL: TDVMCALL leaf
 * numbers (R11 with R10 = 0), TDVMCALL status codes (R10) and the GPR-exposure bitmap (RCX).
 * Every layer shares these, so they live in the lowest package.
 *
 * Sources: Linux arch/x86/include/asm/shared/tdx.h (TDVMCALL_* status codes, leaf numbers,
 * TDVMCALL_EXPOSE_REGS_MASK); Linux arch/x86/kvm/vmx/tdx.c (6.16); QEMU target/i386/kvm/tdx.h;
 * docs.rs tdx-guest crate (WBINVD 54, Service 0x10005); GHCI 1.0/1.5.
 * @module
 */

/** R10 value selecting a standard GHCI TDVMCALL (the leaf is in R11). */
export const TDG_VP_VMCALL_STANDARD = 0;

/** TDVMCALL leaf Instruction.CPUID (= VMX exit reason CPUID). */
export const TDVMCALL_CPUID = 10;
/** TDVMCALL leaf Instruction.HLT. */
export const TDVMCALL_HLT = 12;
/** TDVMCALL leaf Instruction.IO. */
export const TDVMCALL_IO = 30;
/** TDVMCALL leaf Instruction.RDMSR. */
export const TDVMCALL_RDMSR = 31;
/** TDVMCALL leaf Instruction.WRMSR. */
export const TDVMCALL_WRMSR = 32;
/** TDVMCALL leaf #VE.RequestMMIO (= VMX exit reason EPT_VIOLATION). */
export const TDVMCALL_REQUEST_MMIO = 48;
/** TDVMCALL leaf Instruction.WBINVD (tdx-guest crate; KVM does not handle it). */
export const TDVMCALL_WBINVD = 54;
/** TDVMCALL leaf Instruction.PCONFIG (EDK2). */
export const TDVMCALL_PCONFIG = 65;
/** TDVMCALL leaf GetTdVmCallInfo. */
export const TDVMCALL_GET_TD_VM_CALL_INFO = 0x10000;
/** TDVMCALL leaf MapGPA. */
export const TDVMCALL_MAP_GPA = 0x10001;
/** TDVMCALL leaf GetQuote. */
export const TDVMCALL_GET_QUOTE = 0x10002;
/** TDVMCALL leaf ReportFatalError. */
export const TDVMCALL_REPORT_FATAL_ERROR = 0x10003;
/** TDVMCALL leaf SetupEventNotifyInterrupt. */
export const TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT = 0x10004;
/** TDVMCALL leaf Service (GHCI 1.5). */
export const TDVMCALL_SERVICE = 0x10005;

/** TDVMCALL_STATUS_SUCCESS. */
export const TDVMCALL_STATUS_SUCCESS = 0x0n;
/** TDVMCALL_STATUS_RETRY. */
export const TDVMCALL_STATUS_RETRY = 0x1n;
/** TDVMCALL_STATUS_INVALID_OPERAND. */
export const TDVMCALL_STATUS_INVALID_OPERAND = 0x8000000000000000n;
/** TDVMCALL_STATUS_GPA_INUSE (GHCI; QEMU name; unused by KVM). */
export const TDVMCALL_STATUS_GPA_INUSE = 0x8000000000000001n;
/** TDVMCALL_STATUS_ALIGN_ERROR. */
export const TDVMCALL_STATUS_ALIGN_ERROR = 0x8000000000000002n;
/** TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED (Linux 6.16). */
export const TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED = 0x8000000000000003n;

/** High 32 bits of every TDVMCALL error status (bit 63 set). */
export const TDVMCALL_STATUS_ERROR_HI = 0x8000_0000;
/** Low 32 bits of TDVMCALL_STATUS_INVALID_OPERAND. */
export const TDVMCALL_STATUS_INVALID_OPERAND_LO = 0;
/** Low 32 bits of TDVMCALL_STATUS_ALIGN_ERROR. */
export const TDVMCALL_STATUS_ALIGN_ERROR_LO = 2;
/** Low 32 bits of TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED. */
export const TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO = 3;

/**
 * TDVMCALL_EXPOSE_REGS_MASK: RDX, RBX, RSI, RDI and R8..R15 (bits 2, 3, 6, 7, 8..15) = 0xFFCC.
 * What a Linux guest passes in RCX.
 */
export const TDVMCALL_EXPOSE_REGS_MASK = 0xffcc;
/** Bits of the RCX bitmap that must always be 0: RAX (0), RCX (1), RSP (4). */
export const TDVMCALL_FORBIDDEN_REGS_MASK = 0x13;
/** RBP's bit (5): forbidden too when the TD has NO_RBP_MOD, which KVM always sets. */
export const TDVMCALL_RBP_BIT = 0x20;
