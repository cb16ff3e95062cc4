import {
  R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBP, RBX, RCX, RDI, RDX, RFLAGS, RSI, RSP, RegisterFile, SeamCpu,
  SeamkitError, GuestCpu, GuestMemory, PhysicalMemory, type LogicalProcessor, type RegisterName,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { hex } from '../testing/buildTd.js';
import { REF } from '../testing/reference.js';
import { seamcall, seamcallRet, seamcallSavedRet } from './seamcall.js';
import { TdxHost } from './TdxHost.js';

/** Every GPR a `tdx_module_args` carries (Linux order). */
const ARGS13 = [RCX, RDX, R8, R9, R10, R11, R12, R13, R14, R15, RBX, RDI, RSI];
/** The GPRs `__seamcall` / `__seamcall_ret` pass. */
const SHORT6 = [RCX, RDX, R8, R9, R10, R11];
const NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

const input = (i: number): bigint => 0x1100_0000_0000_0000n | (BigInt(i) << 32n) | BigInt(0x100 + i);
const output = (i: number): bigint => 0x2200_0000_0000_0000n | (BigInt(i) << 32n) | BigInt(0x200 + i);
const MODULE_STATUS = 0xc000_0b02_0000_0001n;

interface Seen {
  readonly regs: Record<RegisterName, bigint>;
  readonly file: RegisterFile;
}

/** A CPU whose SEAM module records what it receives and writes output(i) into every GPR and the status into RAX. */
function recordingCpu(): { lp: LogicalProcessor; seen: Seen[] } {
  const cpu = new SeamCpu();
  const seen: Seen[] = [];
  cpu.loadSeamModule({
    seamcall(lp) {
      seen.push({ regs: lp.regs.snapshot(), file: lp.regs });
      for (let i = 1; i < 16; i++) lp.regs.set(i, output(i));
      lp.regs.set(RAX, MODULE_STATUS);
      lp.seamret();
    },
  });
  return { lp: cpu.lps[0]!, seen };
}

function filledArgs(): RegisterFile {
  const a = new RegisterFile();
  for (let i = 0; i < 16; i++) a.set(i, input(i));
  return a;
}

/** Runs `fn` on the LP while it is in SEAM VMX root (from inside a SEAM module). */
function fromSeamRoot<T>(fn: (lp: LogicalProcessor) => T): T {
  const cpu = new SeamCpu();
  let out: T | undefined;
  cpu.loadSeamModule({ seamcall(lp) { out = fn(lp); lp.seamret(); } });
  cpu.lps[0]!.seamcall(new RegisterFile());
  return out!;
}

/** Runs `fn` from guest code inside a TD on the LP. */
function fromTd<T>(fn: (lp: LogicalProcessor) => T): T {
  const cpu = new SeamCpu();
  let out: T | undefined;
  cpu.loadSeamModule({
    seamcall(lp) {
      const guest = new GuestCpu(new GuestMemory(new PhysicalMemory(), { translate: () => -1 }, 33, 47), 0);
      lp.tdEnter(guest, { step: (c) => { out = fn(c.lp!); return 77; } });
      lp.seamret();
    },
  });
  cpu.lps[0]!.seamcall(new RegisterFile());
  return out!;
}

describe('host SEAMCALL wrappers', () => {
  describe('seamcall (__seamcall)', () => {
    it('should pass RAX = leaf and RCX, RDX, R8..R11 only, and return the status', () => {
      const { lp, seen } = recordingCpu();
      const args = filledArgs();
      expect(seamcall(lp, 21 | (1 << 16), args)).toBe(MODULE_STATUS);
      const got = seen[0]!.regs;
      expect(got.rax).toBe(21n | (1n << 16n));
      for (const i of SHORT6) expect(got[NAMES[i]!]).toBe(input(i));
      for (const i of [R12, R13, R14, R15, RBX, RDI, RSI]) expect(`${NAMES[i]}=${got[NAMES[i]!]}`).toBe(`${NAMES[i]}=0`);
      expect(seen[0]!.file).not.toBe(args);
    });

    it('should not update `args` at all', () => {
      const { lp } = recordingCpu();
      const args = filledArgs();
      const before = args.snapshot();
      seamcall(lp, 1, args);
      expect(args.snapshot()).toEqual(before);
    });
  });

  describe('seamcallRet (__seamcall_ret)', () => {
    it('should pass the same registers as seamcall', () => {
      const { lp, seen } = recordingCpu();
      seamcallRet(lp, 2, filledArgs());
      const got = seen[0]!.regs;
      for (const i of SHORT6) expect(got[NAMES[i]!]).toBe(input(i));
      for (const i of [R12, R13, R14, R15, RBX, RDI, RSI]) expect(got[NAMES[i]!]).toBe(0n);
    });

    it('should write RCX, RDX, R8..R11 back into `args` and leave the other registers alone', () => {
      const { lp } = recordingCpu();
      const args = filledArgs();
      expect(seamcallRet(lp, 2, args)).toBe(MODULE_STATUS);
      for (const i of SHORT6) expect(args.get(i)).toBe(output(i));
      for (const i of [R12, R13, R14, R15, RBX, RDI, RSI, RSP, RBP]) expect(`${NAMES[i]}=${hex(args.get(i))}`).toBe(`${NAMES[i]}=${hex(input(i))}`);
    });
  });

  describe('seamcallSavedRet (__seamcall_saved_ret)', () => {
    it('should make `args` itself the LP\'s register file, passing all 13 argument registers', () => {
      const { lp, seen } = recordingCpu();
      const args = filledArgs();
      seamcallSavedRet(lp, 0, args);
      expect(seen[0]!.file).toBe(args);
      expect(seen[0]!.regs.rax).toBe(0n);
      for (const i of ARGS13) expect(seen[0]!.regs[NAMES[i]!]).toBe(input(i));
    });

    it('should leave the status in args RAX and all 13 outputs in `args`', () => {
      const { lp } = recordingCpu();
      const args = filledArgs();
      seamcallSavedRet(lp, 0, args);
      expect(args.get(RAX)).toBe(MODULE_STATUS);
      for (const i of ARGS13) expect(args.get(i)).toBe(output(i));
    });

    it('should not mistake a stale RFLAGS.CF in `args` for VMfailInvalid', () => {
      const { lp } = recordingCpu();
      const args = filledArgs();
      args.set(RFLAGS, 3n);
      seamcallSavedRet(lp, 0, args);
      expect(args.get(RAX)).toBe(MODULE_STATUS);
    });
  });

  describe('having no SEAM module loaded (VMfailInvalid)', () => {
    it('should return TDX_SEAMCALL_VMFAILINVALID (0x8000FF00FFFF0000) from every shape', () => {
      const lp = new SeamCpu().lps[0]!;
      expect(hex(REF.TDX_SEAMCALL_VMFAILINVALID)).toBe('0x8000ff00ffff0000');
      const a = filledArgs();
      expect(hex(seamcall(lp, 33, a))).toBe(hex(REF.TDX_SEAMCALL_VMFAILINVALID));
      const b = filledArgs();
      expect(hex(seamcallRet(lp, 33, b))).toBe(hex(REF.TDX_SEAMCALL_VMFAILINVALID));
      for (const i of SHORT6) expect(b.get(i)).toBe(input(i));
      const c = filledArgs();
      seamcallSavedRet(lp, 0, c);
      expect(hex(c.get(RAX))).toBe(hex(REF.TDX_SEAMCALL_VMFAILINVALID));
      for (const i of ARGS13) expect(c.get(i)).toBe(input(i));
    });

    it('should report it through the TdxHost methods too', () => {
      const lp = new SeamCpu().lps[0]!;
      const host = new TdxHost();
      expect(hex(host.tdhSysInit(lp))).toBe(hex(REF.TDX_SEAMCALL_VMFAILINVALID));
      expect(hex(host.tdhSysTdmrInit(lp, 0).status)).toBe(hex(REF.TDX_SEAMCALL_VMFAILINVALID));
    });
  });

  describe('when SEAMCALL raises #UD', () => {
    it('should return TDX_SEAMCALL_UD (0x8000FF0000000006) when executed in SEAM VMX root', () => {
      expect(hex(REF.TDX_SEAMCALL_UD)).toBe('0x8000ff0000000006');
      expect(hex(fromSeamRoot((lp) => seamcall(lp, 33, new RegisterFile())))).toBe(hex(REF.TDX_SEAMCALL_UD));
      expect(hex(fromSeamRoot((lp) => seamcallRet(lp, 33, new RegisterFile())))).toBe(hex(REF.TDX_SEAMCALL_UD));
      const args = new RegisterFile();
      fromSeamRoot((lp) => seamcallSavedRet(lp, 0, args));
      expect(hex(args.get(RAX))).toBe(hex(REF.TDX_SEAMCALL_UD));
    });

    it('should return TDX_SEAMCALL_UD when executed inside a TD', () => {
      expect(hex(fromTd((lp) => seamcall(lp, 33, new RegisterFile())))).toBe(hex(REF.TDX_SEAMCALL_UD));
    });
  });

  it('should let errors other than CPU faults through (a module without SEAMRET)', () => {
    const cpu = new SeamCpu();
    cpu.loadSeamModule({ seamcall: () => undefined });
    let code: string | undefined;
    try {
      seamcall(cpu.lps[0]!, 33, new RegisterFile());
    } catch (err) {
      code = SeamkitError.is(err) ? err.code : undefined;
    }
    expect(code).toBe('SEAMKIT_ERR_CPU_NO_SEAMRET');
  });
});

describe('TdxHost', () => {
  /** Calls `fn` on a recording CPU and returns the registers the module saw. */
  function regsOf(fn: (host: TdxHost, lp: LogicalProcessor) => unknown): Record<RegisterName, bigint> {
    const { lp, seen } = recordingCpu();
    fn(new TdxHost(), lp);
    expect(seen).toHaveLength(1);
    return seen[0]!.regs;
  }

  // Reference §2.3: inputs of the main leaves.
  it.each([
    ['tdhSysInit', (h: TdxHost, lp: LogicalProcessor) => h.tdhSysInit(lp, 5n), { rax: 33n, rcx: 5n }],
    ['tdhSysLpInit', (h: TdxHost, lp: LogicalProcessor) => h.tdhSysLpInit(lp), { rax: 35n }],
    ['tdhSysConfig', (h: TdxHost, lp: LogicalProcessor) => h.tdhSysConfig(lp, 0x2000, 3, 32), { rax: 45n, rcx: 0x2000n, rdx: 3n, r8: 32n }],
    ['tdhSysKeyConfig', (h: TdxHost, lp: LogicalProcessor) => h.tdhSysKeyConfig(lp), { rax: 31n }],
    ['tdhSysTdmrInit', (h: TdxHost, lp: LogicalProcessor) => h.tdhSysTdmrInit(lp, 0x4000_0000), { rax: 36n, rcx: 0x4000_0000n }],
    ['tdhMngCreate', (h: TdxHost, lp: LogicalProcessor) => h.tdhMngCreate(lp, 0x5000, 33), { rax: 9n, rcx: 0x5000n, rdx: 33n }],
    ['tdhMngKeyConfig', (h: TdxHost, lp: LogicalProcessor) => h.tdhMngKeyConfig(lp, 0x5000), { rax: 8n, rcx: 0x5000n }],
    ['tdhMngAddcx', (h: TdxHost, lp: LogicalProcessor) => h.tdhMngAddcx(lp, 0x5000, 0x6000), { rax: 1n, rcx: 0x6000n, rdx: 0x5000n }],
    ['tdhMngInit', (h: TdxHost, lp: LogicalProcessor) => h.tdhMngInit(lp, 0x5000, 0x7400), { rax: 21n, rcx: 0x5000n, rdx: 0x7400n }],
    ['tdhVpCreate', (h: TdxHost, lp: LogicalProcessor) => h.tdhVpCreate(lp, 0x5000, 0x8000), { rax: 10n, rcx: 0x8000n, rdx: 0x5000n }],
    ['tdhVpAddcx', (h: TdxHost, lp: LogicalProcessor) => h.tdhVpAddcx(lp, 0x8000, 0x9000), { rax: 4n, rcx: 0x9000n, rdx: 0x8000n }],
    ['tdhVpInit', (h: TdxHost, lp: LogicalProcessor) => h.tdhVpInit(lp, 0x8000, 0xffff_0000_1234_5678n), { rax: 22n, rcx: 0x8000n, rdx: 0xffff_0000_1234_5678n }],
    ['tdhVpInit v1 (x2APIC id)', (h: TdxHost, lp: LogicalProcessor) => h.tdhVpInit(lp, 0x8000, 7n, 3), { rax: 22n | (1n << 16n), rcx: 0x8000n, rdx: 7n, r8: 3n }],
    ['tdhMemSeptAdd', (h: TdxHost, lp: LogicalProcessor) => h.tdhMemSeptAdd(lp, 0x5000, 0x4020_0000, 2, 0xa000), { rax: 3n, rcx: 0x4020_0002n, rdx: 0x5000n, r8: 0xa000n }],
    ['tdhMemPageAdd', (h: TdxHost, lp: LogicalProcessor) => h.tdhMemPageAdd(lp, 0x5000, 0x3000, 0xb000, 0xc000), { rax: 2n, rcx: 0x3000n, rdx: 0x5000n, r8: 0xb000n, r9: 0xc000n }],
    ['tdhMrExtend', (h: TdxHost, lp: LogicalProcessor) => h.tdhMrExtend(lp, 0x5000, 0x3100), { rax: 16n, rcx: 0x3100n, rdx: 0x5000n }],
    ['tdhMrFinalize', (h: TdxHost, lp: LogicalProcessor) => h.tdhMrFinalize(lp, 0x5000), { rax: 17n, rcx: 0x5000n }],
  ] as [string, (h: TdxHost, lp: LogicalProcessor) => unknown, Partial<Record<RegisterName, bigint>>][])(
    'should issue %s with the leaf and operand registers of the ABI (others 0)',
    (_name, call, expected) => {
      const regs = regsOf(call);
      const want = { rax: 0n, rcx: 0n, rdx: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, ...expected };
      expect({ rax: regs.rax, rcx: regs.rcx, rdx: regs.rdx, r8: regs.r8, r9: regs.r9, r10: regs.r10, r11: regs.r11 }).toEqual(want);
    },
  );

  it('should return RCX, RDX, R8, R9 of the leaves that have outputs', () => {
    const { lp } = recordingCpu();
    const r = new TdxHost().tdhMemPageAdd(lp, 0x5000, 0x3000, 0xb000, 0xc000);
    expect(r).toEqual({ status: MODULE_STATUS, rcx: output(RCX), rdx: output(RDX), r8: output(R8), r9: output(R9) });
  });

  it('should enter a vCPU with RAX = 0, RCX = TDVPR and the block used in place', () => {
    const { lp, seen } = recordingCpu();
    const args = filledArgs();
    new TdxHost().tdhVpEnter(lp, 0x8000, args);
    expect(seen[0]!.file).toBe(args);
    expect(seen[0]!.regs).toMatchObject({ rax: 0n, rcx: 0x8000n, rdx: input(RDX), r15: input(R15), rsi: input(RSI) });
    expect(TdxHost.status(args)).toBe(MODULE_STATUS);
  });
});
