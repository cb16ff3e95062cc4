import { describe, expect, it } from 'vitest';
import * as ghci from './ghci.js';
import * as regs from './registers.js';
import * as vmx from './vmx.js';

// Expected values are the ones of ../shared/reference/tdx-module-abi.md §1, §3, §7 and kvm-tdx-abi.md §1.1.
describe('seam-cpu ABI tables', () => {
  it('should number the GPRs as the SDM encodes them and put RIP, RFLAGS after them', () => {
    expect([regs.RAX, regs.RCX, regs.RDX, regs.RBX, regs.RSP, regs.RBP, regs.RSI, regs.RDI]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([regs.R8, regs.R9, regs.R10, regs.R11, regs.R12, regs.R13, regs.R14, regs.R15]).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect([regs.RIP, regs.RFLAGS, regs.REGISTER_FILE_BYTES]).toEqual([16, 17, 144]);
  });

  it('should have the VMX exit reasons and vectors of the reference', () => {
    expect({
      triple: vmx.EXIT_REASON_TRIPLE_FAULT, ept: vmx.EXIT_REASON_EPT_VIOLATION, seamcall: vmx.EXIT_REASON_SEAMCALL,
      tdcall: vmx.EXIT_REASON_TDCALL, ud: vmx.VECTOR_UD, gp: vmx.VECTOR_GP,
    }).toEqual({ triple: 2, ept: 48, seamcall: 76, tdcall: 77, ud: 6, gp: 13 });
  });

  it('should have the TDVMCALL leaf numbers of the GHCI', () => {
    expect({
      cpuid: ghci.TDVMCALL_CPUID, hlt: ghci.TDVMCALL_HLT, io: ghci.TDVMCALL_IO, rdmsr: ghci.TDVMCALL_RDMSR,
      wrmsr: ghci.TDVMCALL_WRMSR, mmio: ghci.TDVMCALL_REQUEST_MMIO, wbinvd: ghci.TDVMCALL_WBINVD, pconfig: ghci.TDVMCALL_PCONFIG,
      info: ghci.TDVMCALL_GET_TD_VM_CALL_INFO, mapGpa: ghci.TDVMCALL_MAP_GPA, quote: ghci.TDVMCALL_GET_QUOTE,
      fatal: ghci.TDVMCALL_REPORT_FATAL_ERROR, notify: ghci.TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT, service: ghci.TDVMCALL_SERVICE,
    }).toEqual({
      cpuid: 10, hlt: 12, io: 30, rdmsr: 31, wrmsr: 32, mmio: 48, wbinvd: 54, pconfig: 65,
      info: 0x10000, mapGpa: 0x10001, quote: 0x10002, fatal: 0x10003, notify: 0x10004, service: 0x10005,
    });
  });

  it('should have the TDVMCALL status codes (R10) and their split halves', () => {
    expect([
      ghci.TDVMCALL_STATUS_SUCCESS, ghci.TDVMCALL_STATUS_RETRY, ghci.TDVMCALL_STATUS_INVALID_OPERAND,
      ghci.TDVMCALL_STATUS_GPA_INUSE, ghci.TDVMCALL_STATUS_ALIGN_ERROR, ghci.TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
    ]).toEqual([0n, 1n, 0x8000000000000000n, 0x8000000000000001n, 0x8000000000000002n, 0x8000000000000003n]);
    for (const [lo, full] of [
      [ghci.TDVMCALL_STATUS_INVALID_OPERAND_LO, ghci.TDVMCALL_STATUS_INVALID_OPERAND],
      [ghci.TDVMCALL_STATUS_ALIGN_ERROR_LO, ghci.TDVMCALL_STATUS_ALIGN_ERROR],
      [ghci.TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, ghci.TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED],
    ] as const) {
      expect((BigInt(ghci.TDVMCALL_STATUS_ERROR_HI) << 32n) | BigInt(lo)).toBe(full);
    }
  });

  it('should derive the Linux exposure mask 0xFFCC from RDX, RBX, RSI, RDI, R8..R15', () => {
    const bits = [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].reduce((m, b) => m | (1 << b), 0);
    expect(ghci.TDVMCALL_EXPOSE_REGS_MASK).toBe(bits);
    expect(bits).toBe(0xffcc);
    expect(ghci.TDVMCALL_FORBIDDEN_REGS_MASK).toBe((1 << 0) | (1 << 1) | (1 << 4));
    expect(ghci.TDVMCALL_RBP_BIT).toBe(1 << 5);
  });
});
