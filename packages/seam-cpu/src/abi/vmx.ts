/**
 * VMX basic exit reasons and exception vectors used by the simulated CPU.
 *
 * Sources: Intel SDM Vol. 3 Appendix C "VMX basic exit reasons"; Linux
 * arch/x86/include/uapi/asm/vmx.h (EXIT_REASON_TRIPLE_FAULT 2, EXIT_REASON_EPT_VIOLATION 48,
 * EXIT_REASON_TDCALL 77); TDX module 1.5 vmcs_defs.h (SEAMCALL 76, TDCALL 77).
 * @module
 */

/** EXIT_REASON_EXCEPTION_NMI. */
export const EXIT_REASON_EXCEPTION_NMI = 0;
/** EXIT_REASON_EXTERNAL_INTERRUPT. */
export const EXIT_REASON_EXTERNAL_INTERRUPT = 1;
/** EXIT_REASON_TRIPLE_FAULT. */
export const EXIT_REASON_TRIPLE_FAULT = 2;
/** EXIT_REASON_CPUID. */
export const EXIT_REASON_CPUID = 10;
/** EXIT_REASON_HLT. */
export const EXIT_REASON_HLT = 12;
/** EXIT_REASON_VMCALL. */
export const EXIT_REASON_VMCALL = 18;
/** EXIT_REASON_IO_INSTRUCTION. */
export const EXIT_REASON_IO_INSTRUCTION = 30;
/** EXIT_REASON_MSR_READ. */
export const EXIT_REASON_MSR_READ = 31;
/** EXIT_REASON_MSR_WRITE. */
export const EXIT_REASON_MSR_WRITE = 32;
/** EXIT_REASON_EPT_VIOLATION. */
export const EXIT_REASON_EPT_VIOLATION = 48;
/** EXIT_REASON_EPT_MISCONFIG. */
export const EXIT_REASON_EPT_MISCONFIG = 49;
/** EXIT_REASON_SEAMCALL. */
export const EXIT_REASON_SEAMCALL = 76;
/** EXIT_REASON_TDCALL. */
export const EXIT_REASON_TDCALL = 77;

/** #UD, invalid opcode. */
export const VECTOR_UD = 6;
/** #GP, general protection. */
export const VECTOR_GP = 13;
/** #PF, page fault. */
export const VECTOR_PF = 14;
/** #VE, virtualization exception. */
export const VECTOR_VE = 20;

/** Size of a 4 KiB page. */
export const PAGE_SIZE = 4096;
/** log2 of {@link PAGE_SIZE}. */
export const PAGE_SHIFT = 12;
