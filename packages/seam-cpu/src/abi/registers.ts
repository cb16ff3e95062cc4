/**
 * Register numbering and the register-file layout.
 *
 * Sources: Intel SDM Vol. 2, "Register encodings" (the 4-bit GPR encoding RAX=0 .. R15=15);
 * Linux arch/x86/include/asm/shared/tdx.h, `struct tdx_module_args` (field order
 * rcx, rdx, r8..r15, rbx, rdi, rsi; 13 u64 = 104 bytes).
 *
 * This file holds constants only.
 * @module
 */

/** RAX, GPR encoding 0. */
export const RAX = 0;
/** RCX, GPR encoding 1. */
export const RCX = 1;
/** RDX, GPR encoding 2. */
export const RDX = 2;
/** RBX, GPR encoding 3. */
export const RBX = 3;
/** RSP, GPR encoding 4. */
export const RSP = 4;
/** RBP, GPR encoding 5. */
export const RBP = 5;
/** RSI, GPR encoding 6. */
export const RSI = 6;
/** RDI, GPR encoding 7. */
export const RDI = 7;
/** R8, GPR encoding 8. */
export const R8 = 8;
/** R9, GPR encoding 9. */
export const R9 = 9;
/** R10, GPR encoding 10. */
export const R10 = 10;
/** R11, GPR encoding 11. */
export const R11 = 11;
/** R12, GPR encoding 12. */
export const R12 = 12;
/** R13, GPR encoding 13. */
export const R13 = 13;
/** R14, GPR encoding 14. */
export const R14 = 14;
/** R15, GPR encoding 15. */
export const R15 = 15;
/** Slot of RIP in the register file (after the 16 GPRs). */
export const RIP = 16;
/** Slot of RFLAGS in the register file. */
export const RFLAGS = 17;
/** RFLAGS.CF (bit 0): set by a VMfailInvalid. */
export const RFLAGS_CF = 0x1;
/** RFLAGS.ZF (bit 6): set by a VMfailValid. */
export const RFLAGS_ZF = 0x40;
/** RFLAGS bit 1 is reserved and always reads as 1. */
export const RFLAGS_FIXED1 = 0x2;

/** Number of general-purpose registers. */
export const GPR_COUNT = 16;
/** Number of 64-bit slots in a register file: 16 GPRs, RIP, RFLAGS. */
export const REGISTER_SLOTS = 18;
/** Size of a register file in bytes. */
export const REGISTER_FILE_BYTES = REGISTER_SLOTS * 8;

/** Register names in slot order, for traces and error messages. */
export const REGISTER_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const;

/** A register name as used in {@link REGISTER_NAMES}. */
export type RegisterName = (typeof REGISTER_NAMES)[number];

/**
 * `struct tdx_module_args` field order, as GPR slots: rcx, rdx, r8, r9, r10, r11, r12, r13,
 * r14, r15, rbx, rdi, rsi. Entry k is the register-file slot of field k.
 */
export const TDX_MODULE_ARGS_ORDER = [RCX, RDX, R8, R9, R10, R11, R12, R13, R14, R15, RBX, RDI, RSI] as const;
