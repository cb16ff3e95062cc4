import {
  GuestCpu, GuestMemory, PhysicalMemory, R10, R11, R8, R9, RAX, RCX, RDX, RegisterFile,
  type RegisterName,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import * as ghci from './ghci.js';

// TDCALL leaf numbers (reference §4.1) and TDVMCALL sub-functions (§7.3), spelled out.
const STALE = 0x5a5a_5a5a_5a5a_5a5an;

function guestCpu(): GuestCpu {
  const cpu = new GuestCpu(new GuestMemory(new PhysicalMemory(), { translate: () => -1 }, 33, 47), 0);
  for (let i = 0; i < 16; i++) cpu.regs.set(i, STALE);
  return cpu;
}

/** First step of a helper (the registers at the TDCALL), then the module's reply, then the result. */
function drive<T>(cpu: GuestCpu, gen: Generator<number, T, void>, reply: (r: RegisterFile) => void = () => undefined): { exit: number; at: Record<RegisterName, bigint>; result: T } {
  const first = gen.next();
  expect(first.done).toBe(false);
  const at = cpu.regs.snapshot();
  reply(cpu.regs);
  const last = gen.next();
  expect(last.done).toBe(true);
  return { exit: first.value as number, at, result: last.value as T };
}

describe('guest library: TDCALLs the module answers', () => {
  it('tdReport: RAX = 4, RCX = report GPA, RDX = REPORTDATA GPA, R8 = subtype; returns RAX', () => {
    const cpu = guestCpu();
    const d = drive(cpu, ghci.tdReport(cpu, 0x11000, 0x12040), (r) => r.set(RAX, 0xc000010000000001n));
    expect(d.exit).toBe(77);
    expect(d.at).toMatchObject({ rax: 4n, rcx: 0x11000n, rdx: 0x12040n, r8: 0n });
    expect(d.result).toBe(0xc000010000000001n);
  });

  it('rtmrExtend: RAX = 2, RCX = digest GPA, RDX = index', () => {
    const cpu = guestCpu();
    expect(drive(cpu, ghci.rtmrExtend(cpu, 0x12080, 3), (r) => r.set(RAX, 0n)).at).toMatchObject({ rax: 2n, rcx: 0x12080n, rdx: 3n });
  });

  it('verifyReport: RAX = 22, RCX = REPORTMACSTRUCT GPA', () => {
    const cpu = guestCpu();
    expect(drive(cpu, ghci.verifyReport(cpu, 0x11000)).at).toMatchObject({ rax: 22n, rcx: 0x11000n });
  });

  it('veInfoGet: RAX = 3; decodes RCX, RDX, R8, R9 and R10 (length | info << 32)', () => {
    const cpu = guestCpu();
    const d = drive(cpu, ghci.veInfoGet(cpu), (r) => {
      r.set(RAX, 0n);
      r.set(RCX, 48n);
      r.set(RDX, 0x181n);
      r.set(R8, 0x7000n);
      r.set(R9, 0x3000n);
      r.setHalves(R10, 3, 5);
    });
    expect(d.at.rax).toBe(3n);
    expect(d.result).toEqual({ status: 0n, exitReason: 48, exitQualification: 0x181n, gla: 0x7000n, gpa: 0x3000n, instructionLength: 3, instructionInfo: 5 });
  });

  it('cpuidVeSet: RAX = 5, RCX = supervisor | user << 1', () => {
    const cpu = guestCpu();
    expect(drive(cpu, ghci.cpuidVeSet(cpu, false, true)).at).toMatchObject({ rax: 5n, rcx: 2n });
  });

  it('acceptPage: RAX = 6, RCX = GPA | level', () => {
    const cpu = guestCpu();
    expect(drive(cpu, ghci.acceptPage(cpu, 0x20_0000, 1)).at).toMatchObject({ rax: 6n, rcx: 0x20_0001n });
  });

  it('vmRead: RAX = 7 | version << 16, RCX = 0, RDX = field id; returns R8 and RDX', () => {
    const cpu = guestCpu();
    const d = drive(cpu, ghci.vmRead(cpu, 0x9100000000000010n, 1), (r) => {
      r.set(RAX, 0n);
      r.set(R8, 1n);
      r.set(RDX, 0x9110000300000011n);
    });
    expect(d.at).toMatchObject({ rax: 0x1_0007n, rcx: 0n, rdx: 0x9100000000000010n });
    expect(d.result).toEqual({ status: 0n, value: 1n, next: 0x9110000300000011n });
  });

  it('vmWrite: RAX = 8, RCX = 0, RDX = id, R8 = value, R9 = mask (default all ones), as Linux writes NOTIFY_ENABLES', () => {
    const cpu = guestCpu();
    const d = drive(cpu, ghci.vmWrite(cpu, 0x9100000000000010n, 0n), (r) => {
      r.set(RAX, 0n);
      r.set(R8, 1n);
    });
    expect(d.at).toMatchObject({ rax: 8n, rcx: 0n, rdx: 0x9100000000000010n, r8: 0n, r9: 0xffff_ffff_ffff_ffffn });
    expect(d.result).toEqual({ status: 0n, old: 1n });
  });

  it('sysRead: RAX = 11, RDX = field id', () => {
    const cpu = guestCpu();
    expect(drive(cpu, ghci.sysRead(cpu, 0x0800000200000000n)).at).toMatchObject({ rax: 11n, rdx: 0x0800000200000000n });
  });

  it('step forms write the same registers and return the TDCALL exit reason', () => {
    const r = new RegisterFile();
    expect(ghci.prepareTdReport(r, 0x1000, 0x2000)).toBe(77);
    expect(r.snapshot()).toMatchObject({ rax: 4n, rcx: 0x1000n, rdx: 0x2000n, r8: 0n });
    expect(ghci.prepareRtmrExtend(r, 0x3000, 1)).toBe(77);
    expect(r.snapshot()).toMatchObject({ rax: 2n, rcx: 0x3000n, rdx: 1n });
    expect(ghci.prepareVmRead(r, 5n, 1)).toBe(77);
    expect(r.snapshot()).toMatchObject({ rax: 0x1_0007n, rcx: 0n, rdx: 5n });
    expect(ghci.prepareVmWrite(r, 5n, 6n, 7n)).toBe(77);
    expect(r.snapshot()).toMatchObject({ rax: 8n, rcx: 0n, rdx: 5n, r8: 6n, r9: 7n });
    expect(ghci.prepareTdcall(r, 11)).toBe(77);
    expect(r.get(RAX)).toBe(11n);
  });
});

describe('guest library: TDVMCALL leaves added for GHCI 1.5', () => {
  it('service: R11 = 0x10005, R12 = command GPA, R13 = response GPA, R14 = vector, R15 = timeout', () => {
    const cpu = guestCpu();
    const d = drive(cpu, ghci.service(cpu, 0x8000_1000, 0x8000_2000, 0x40, 5n), (r) => r.set(R10, 0n));
    expect(d.at).toMatchObject({ rax: 0n, rcx: 0xffccn, r10: 0n, r11: 0x10005n, r12: 0x8000_1000n, r13: 0x8000_2000n, r14: 0x40n, r15: 5n });
    expect(d.result).toBe(0n);
  });

  it('wbinvd (54) and pconfig (65) issue their sub-functions', () => {
    const cpu = guestCpu();
    expect(drive(cpu, ghci.wbinvd(cpu)).at).toMatchObject({ r11: 54n });
    const d = drive(cpu, ghci.pconfig(cpu, 1));
    expect([d.at.r11, d.at.r12, d.at.r13, d.at.r14]).toEqual([65n, 1n, 0n, 0n]);
    expect(cpu.regs.get(R11)).toBe(65n);
  });
});
