import {
  GuestCpu, GuestMemory, PhysicalMemory, R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBX, RCX, RDI, RDX, RSI,
  RegisterFile, fromGenerator, type RegisterName,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { bootPlatform, buildTd } from '../testing/buildTd.js';
import * as ghci from './ghci.js';

// GHCI sub-function numbers (reference §7.3) and registers (§7.1).
const CPUID = 10, HLT = 12, IO = 30, RDMSR = 31, WRMSR = 32, REQUEST_MMIO = 48;
const GET_TD_VM_CALL_INFO = 0x10000, MAP_GPA = 0x10001, GET_QUOTE = 0x10002, REPORT_FATAL_ERROR = 0x10003, SETUP_EVENT_NOTIFY = 0x10004;
const LINUX_EXPOSE_MASK = 0xffccn;
const SUBFUNC_UNSUPPORTED = 0x8000000000000003n;
const STALE = 0x5a5a_5a5a_5a5a_5a5an;

function guestCpu(): GuestCpu {
  const cpu = new GuestCpu(new GuestMemory(new PhysicalMemory(), { translate: () => -1 }, 33, 47), 0);
  for (let i = 0; i < 16; i++) cpu.regs.set(i, STALE);
  return cpu;
}

interface Driven<T> {
  /** What the generator yielded (the VM exit reason). */
  readonly exit: number;
  /** The registers at the TDCALL. */
  readonly atCall: Record<RegisterName, bigint>;
  /** What the helper returned after the VMM's reply. */
  readonly result: T;
}

/** Runs one TDCALL of a guest helper: first step, then `vmm` plays the VMM on the registers, then the helper finishes. */
function drive<T>(cpu: GuestCpu, gen: Generator<number, T, void>, vmm: (r: RegisterFile) => void = () => undefined): Driven<T> {
  const first = gen.next();
  expect(first.done).toBe(false);
  const atCall = cpu.regs.snapshot();
  vmm(cpu.regs);
  const last = gen.next();
  expect(last.done).toBe(true);
  return { exit: first.value as number, atCall, result: last.value as T };
}

/** The standard TDVMCALL frame: RAX = 0 (TDG.VP.VMCALL), RCX = bitmap, R10 = 0, R11 = leaf. */
function frame(leaf: number, bitmap = LINUX_EXPOSE_MASK): Partial<Record<RegisterName, bigint>> {
  return { rax: 0n, rcx: bitmap, r10: 0n, r11: BigInt(leaf) };
}

describe('guest GHCI library', () => {
  describe('prepareTdvmcall (step form)', () => {
    it('should set RAX = 0, RCX = 0xFFCC, R10 = 0, R11 = leaf and return the TDCALL exit reason', () => {
      const cpu = guestCpu();
      expect(ghci.prepareTdvmcall(cpu.regs, GET_QUOTE)).toBe(77);
      expect(cpu.regs.snapshot()).toMatchObject({ ...frame(GET_QUOTE), r12: STALE, rdx: STALE });
    });

    it('should take another bitmap', () => {
      const cpu = guestCpu();
      ghci.prepareTdvmcall(cpu.regs, HLT, 0x1000);
      expect(cpu.regs.get(RCX)).toBe(0x1000n);
    });
  });

  describe('tdvmcall', () => {
    it('should set R12..R15 (missing ones 0) and return the R10 status the VMM wrote', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.tdvmcall(cpu, 0x12345, { r12: 1n, r14: 3n }), (r) => r.set(R10, SUBFUNC_UNSUPPORTED));
      expect(d.exit).toBe(77);
      expect(d.atCall).toMatchObject({ ...frame(0x12345), r12: 1n, r13: 0n, r14: 3n, r15: 0n });
      expect(d.result).toBe(SUBFUNC_UNSUPPORTED);
    });

    it('should pass a custom bitmap', () => {
      const cpu = guestCpu();
      expect(drive(cpu, ghci.tdvmcall(cpu, 1, {}, 0xf000)).atCall.rcx).toBe(0xf000n);
    });
  });

  describe('leaf helpers', () => {
    it('getQuote: R11 = 0x10002, R12 = buffer GPA, R13 = size', () => {
      const cpu = guestCpu();
      const gpa = 2 ** 47 + 0x10_0000;
      const d = drive(cpu, ghci.getQuote(cpu, gpa, 8192), (r) => r.set(R10, 0n));
      expect(d.atCall).toMatchObject({ ...frame(GET_QUOTE), r12: BigInt(gpa), r13: 8192n, r14: 0n, r15: 0n });
      expect(d.result).toBe(0n);
    });

    it('setupEventNotifyInterrupt: R11 = 0x10004, R12 = vector', () => {
      const cpu = guestCpu();
      expect(drive(cpu, ghci.setupEventNotifyInterrupt(cpu, 0xf3)).atCall).toMatchObject({ ...frame(SETUP_EVENT_NOTIFY), r12: 0xf3n });
    });

    it('getTdVmCallInfo: R11 = 0x10000, R12 = leaf; returns R10 and R11..R14', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.getTdVmCallInfo(cpu, 1), (r) => {
        r.set(R10, 0n);
        r.set(R11, 2n);
        r.set(R12, 0n);
        r.set(R13, 4n);
        r.set(R14, 5n);
      });
      expect(d.atCall).toMatchObject({ ...frame(GET_TD_VM_CALL_INFO), r12: 1n });
      expect(d.result).toEqual({ status: 0n, r11: 2n, r12: 0n, r13: 4n, r14: 5n });
    });

    it('mapGpa: R11 = 0x10001, R12 = GPA with the shared bit, R13 = size; R11 left for the retry GPA', () => {
      const cpu = guestCpu();
      const gpa = 2 ** 47 + 0x20_0000;
      const d = drive(cpu, ghci.mapGpa(cpu, gpa, 0x40_0000), (r) => {
        r.set(R10, 1n);
        r.set(R11, BigInt(gpa + 0x20_0000));
      });
      expect(d.atCall).toMatchObject({ ...frame(MAP_GPA), r12: BigInt(gpa), r13: 0x40_0000n });
      expect(d.result).toBe(1n);
      expect(cpu.regs.get(R11)).toBe(BigInt(gpa + 0x20_0000));
    });

    it('cpuid: R11 = 10, R12 = leaf, R13 = subleaf; returns R10 and EAX..EDX from R12..R15', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.cpuid(cpu, 0x4000_0000, 2), (r) => {
        r.set(R10, 0n);
        r.set(R12, 0x4000_0001n);
        r.set(R13, 0x4b4d_564bn);
        r.set(R14, 0x564b_4d56n);
        r.set(R15, 0x4dn);
      });
      expect(d.atCall).toMatchObject({ ...frame(CPUID), r12: 0x4000_0000n, r13: 2n });
      expect(d.result).toEqual([0n, 0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x4d]);
    });

    it('hlt: R11 = 12, R12 = 1 when interrupts are blocked, else 0', () => {
      const a = guestCpu();
      expect(drive(a, ghci.hlt(a, true)).atCall).toMatchObject({ ...frame(HLT), r12: 1n });
      const b = guestCpu();
      expect(drive(b, ghci.hlt(b)).atCall).toMatchObject({ ...frame(HLT), r12: 0n });
    });

    it('ioWrite: R11 = 30, R12 = size, R13 = 1, R14 = port, R15 = value (32 bits)', () => {
      const cpu = guestCpu();
      expect(drive(cpu, ghci.ioWrite(cpu, 0x3f8, 4, -1)).atCall).toMatchObject({ ...frame(IO), r12: 4n, r13: 1n, r14: 0x3f8n, r15: 0xffff_ffffn });
    });

    it('ioRead: R13 = 0; returns R10 and the value from R11', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.ioRead(cpu, 0x60, 1), (r) => {
        r.set(R10, 0n);
        r.set(R11, 0xfan);
      });
      expect(d.atCall).toMatchObject({ ...frame(IO), r12: 1n, r13: 0n, r14: 0x60n });
      expect(d.result).toEqual([0n, 0xfan]);
    });

    it('mmioRead / mmioWrite: R11 = 48, R12 = size, R13 = direction, R14 = GPA, R15 = value', () => {
      const a = guestCpu();
      const gpa = 2 ** 47 + 0xfee0_0000;
      const r = drive(a, ghci.mmioRead(a, gpa, 8), (regs) => regs.set(R11, 0x1234n));
      expect(r.atCall).toMatchObject({ ...frame(REQUEST_MMIO), r12: 8n, r13: 0n, r14: BigInt(gpa) });
      expect(r.result[1]).toBe(0x1234n);
      const b = guestCpu();
      expect(drive(b, ghci.mmioWrite(b, gpa, 2, 0xbeefn)).atCall).toMatchObject({ ...frame(REQUEST_MMIO), r12: 2n, r13: 1n, r14: BigInt(gpa), r15: 0xbeefn });
    });

    it('rdmsr / wrmsr: R11 = 31 / 32, R12 = index, R13 = value; rdmsr returns R11', () => {
      const a = guestCpu();
      const r = drive(a, ghci.rdmsr(a, 0x1b), (regs) => {
        regs.set(R10, 0n);
        regs.set(R11, 0xfee0_0900n);
      });
      expect(r.atCall).toMatchObject({ ...frame(RDMSR), r12: 0x1bn });
      expect(r.result).toEqual([0n, 0xfee0_0900n]);
      const b = guestCpu();
      expect(drive(b, ghci.wrmsr(b, 0x6e0, 0xffff_ffff_ffffn)).atCall).toMatchObject({ ...frame(WRMSR), r12: 0x6e0n, r13: 0xffff_ffff_ffffn });
    });

    it('kvmHypercall: R10 = the KVM hypercall number, R11..R14 = arguments; returns R10', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.kvmHypercall(cpu, 12n, 1n, 2n, 3n, 4n), (r) => r.set(R10, 0n));
      expect(d.atCall).toMatchObject({ rax: 0n, rcx: LINUX_EXPOSE_MASK, r10: 12n, r11: 1n, r12: 2n, r13: 3n, r14: 4n });
      expect(d.result).toBe(0n);
    });
  });

  describe('reportFatalError', () => {
    const MESSAGE_ORDER = [R14, R15, RBX, RDI, RSI, R8, R9, RDX];

    /** The message as QEMU reassembles it: 8 bytes LE per register in the GHCI order. */
    function messageOf(r: Record<RegisterName, bigint>): Buffer {
      const names: RegisterName[] = ['r14', 'r15', 'rbx', 'rdi', 'rsi', 'r8', 'r9', 'rdx'];
      const b = Buffer.alloc(64);
      names.forEach((n, i) => b.writeBigUInt64LE(r[n], i * 8));
      return b;
    }

    it('should name the message registers in the GHCI order R14, R15, RBX, RDI, RSI, R8, R9, RDX', () => {
      expect([...ghci.FATAL_MESSAGE_REGS]).toEqual(MESSAGE_ORDER);
    });

    it('should pack the message little-endian into the registers, zero filled, with R12 = code and R13 = 0', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.reportFatalError(cpu, 0x1234n, 'kernel panic: attempted to kill init!'));
      expect(d.atCall).toMatchObject({ ...frame(REPORT_FATAL_ERROR), r12: 0x1234n, r13: 0n });
      const expected = Buffer.alloc(64);
      expected.write('kernel panic: attempted to kill init!', 'ascii');
      expect(messageOf(d.atCall)).toEqual(expected);
      expect(d.atCall.r14).toBe(Buffer.from('kernel p').readBigUInt64LE(0));
      expect(d.atCall.rdx).toBe(0n);
    });

    it('should expose every message register in the RCX bitmap', () => {
      const cpu = guestCpu();
      const { rcx } = drive(cpu, ghci.reportFatalError(cpu, 0n, 'x')).atCall;
      for (const reg of MESSAGE_ORDER) expect((rcx >> BigInt(reg)) & 1n).toBe(1n);
    });

    it('should cut the message at 64 bytes, filling RDX last', () => {
      const cpu = guestCpu();
      const long = 'ABCDEFGH'.repeat(7) + '01234567' + 'overflow';
      const d = drive(cpu, ghci.reportFatalError(cpu, 0n, long));
      expect(messageOf(d.atCall).toString('ascii')).toBe(long.slice(0, 64));
      expect(d.atCall.rdx).toBe(Buffer.from('01234567').readBigUInt64LE(0));
    });

    it('should set bit 63 of R12 and R13 = GPA when a GPA is given', () => {
      const cpu = guestCpu();
      const gpa = 2 ** 47 + 0x7000;
      const d = drive(cpu, ghci.reportFatalError(cpu, 5n, '', gpa));
      expect(d.atCall).toMatchObject({ r12: (1n << 63n) | 5n, r13: BigInt(gpa) });
      expect(messageOf(d.atCall)).toEqual(Buffer.alloc(64));
    });
  });

  describe('tdgVpInfo', () => {
    it('should issue TDCALL leaf 1 and decode RCX, RDX, R8, R9 and R10 bit 0 (TDG.SYS.RD available)', () => {
      const cpu = guestCpu();
      const d = drive(cpu, ghci.tdgVpInfo(cpu), (r) => {
        r.set(RAX, 0n);
        r.set(RCX, 52n);
        r.set(RDX, 1n << 28n);
        r.setHalves(R8, 3, 8);
        r.set(R9, 2n);
        r.set(R10, 1n);
      });
      expect(d.atCall.rax).toBe(1n);
      expect(d.result).toEqual({ status: 0n, gpaw: 52, attributes: 1n << 28n, numVcpus: 3, maxVcpus: 8, vcpuIndex: 2, sysRdAvailable: true });
    });
  });

  describe('through the TDX module', () => {
    it('should deliver a GetQuote to the host exactly as GHCI lays it out and return the host\'s R10', () => {
      const statuses: bigint[] = [];
      const p = bootPlatform();
      const gpa = 2 ** 47 + 0x10_0000;
      const built = buildTd(p, {
        program: fromGenerator(function* (cpu) {
          statuses.push(yield* ghci.getQuote(cpu, gpa, 4096));
        }),
      });
      const args = new RegisterFile();
      p.host.tdhVpEnter(built.vcpuLps[0]!, built.tdvprs[0]!, args);
      expect(args.snapshot()).toMatchObject({ rax: 77n, rcx: LINUX_EXPOSE_MASK, r10: 0n, r11: BigInt(GET_QUOTE), r12: BigInt(gpa), r13: 4096n, r14: 0n, r15: 0n });
      args.set(R10, SUBFUNC_UNSUPPORTED);
      p.host.tdhVpEnter(built.vcpuLps[0]!, built.tdvprs[0]!, args);
      expect(statuses).toEqual([SUBFUNC_UNSUPPORTED]);
      expect(args.get(RAX)).toBe(2n); // the guest ended: triple fault
    });

    it('should let the host read a ReportFatalError message from the exposed registers', () => {
      const p = bootPlatform();
      const built = buildTd(p, {
        program: fromGenerator(function* (cpu) {
          yield* ghci.reportFatalError(cpu, 7n, 'guest says goodbye');
        }),
      });
      const args = new RegisterFile();
      p.host.tdhVpEnter(built.vcpuLps[0]!, built.tdvprs[0]!, args);
      expect(args.get(R11)).toBe(BigInt(REPORT_FATAL_ERROR));
      expect(args.get(R12)).toBe(7n);
      const msg = Buffer.alloc(64);
      ghci.FATAL_MESSAGE_REGS.forEach((reg, i) => msg.writeBigUInt64LE(args.get(reg), i * 8));
      expect(msg.toString('ascii').replace(/\0+$/, '')).toBe('guest says goodbye');
    });
  });
});
