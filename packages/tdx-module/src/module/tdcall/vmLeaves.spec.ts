import {
  R10, R8, R9, RAX, RCX, RDX, RegisterFile, fromGenerator, type GuestCpu, type GuestGenerator,
} from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import * as ghci from '../../guest/ghci.js';
import {
  ATTR_DEBUG, ATTR_SEPT_VE_DISABLE, bootPlatform, buildTd, hex, type BuildTdOptions, type BuiltTd, type Platform,
} from '../../testing/buildTd.js';

// Reference values (tdx-module-abi.md §4, §5.2; Linux arch/x86/include/asm/shared/tdx.h), spelled
// out independently of abi/.
const SUCCESS = 0n;
const OPERAND_INVALID = 0xc000010000000000n;
const NO_VALID_VE_INFO = 0xc000070400000000n;
const FIRST_FIELD_ID_IN_CONTEXT = 0x00000c0b00000000n;
const FIELD_ID_INCORRECT = 0xc0000c0000000000n;
const FIELD_NOT_WRITABLE = 0xc0000c0100000000n;
const FIELD_NOT_READABLE = 0xc0000c0200000000n;
const FIELD_VALUE_NOT_VALID = 0xc0000c0300000000n;
const NA = 0xffff_ffff_ffff_ffffn;
const TDCS_NOTIFY_ENABLES = 0x9100000000000010n;
const TDCS_CONFIG_FLAGS = 0x1110000300000016n;
const TDCS_TD_CTLS = 0x1110000300000017n;
const TDCS_TOPOLOGY_ENUM_CONFIGURED = 0x9100000000000019n;
const ATTRIBUTES = 0x1110000300000000n;
const TSC_OFFSET = 0x111000030000000an;
const RTMR = 0x1310000300000040n;
const MRTD = 0x1310000300000000n;
const EXIT_TDCALL = 77n;
const EXIT_TRIPLE_FAULT = 2n;

interface Run {
  readonly p: Platform;
  readonly b: BuiltTd;
  readonly args: RegisterFile;
  enter(): bigint;
}

function runTd(gen: GuestGenerator, options: BuildTdOptions = {}): Run {
  const p = bootPlatform();
  const b = buildTd(p, { ...options, program: fromGenerator(gen) });
  const args = new RegisterFile();
  return {
    p, b, args,
    enter: () => {
      p.host.tdhVpEnter(b.vcpuLps[0]!, b.tdvprs[0]!, args);
      return args.get(RAX);
    },
  };
}

/** Runs `body` in a guest to its end (no VM exit may happen) and returns what it returned. */
function inGuest<T>(body: (cpu: GuestCpu) => Generator<number, T, void>, options: BuildTdOptions = {}): { result: T; run: Run } {
  let result: T | undefined;
  const run = runTd(function* (cpu) {
    result = yield* body(cpu);
  }, options);
  expect(run.enter()).toBe(EXIT_TRIPLE_FAULT);
  return { result: result!, run };
}

describe('TDG.VM.WR (TDCALL 8) / TDG.VM.RD (TDCALL 7)', () => {
  it('should take the Linux boot write TDG.VM.WR(TDCS_NOTIFY_ENABLES, R8 = 0, R9 = -1)', () => {
    const { result } = inGuest(function* (cpu) {
      return yield* ghci.vmWrite(cpu, TDCS_NOTIFY_ENABLES, 0n, NA);
    });
    expect(result).toEqual({ status: SUCCESS, old: 0n });
  });

  it('should set and read back NOTIFY_ENABLES bit 0, and refuse other bits', () => {
    const { result, run } = inGuest(function* (cpu) {
      const w = yield* ghci.vmWrite(cpu, TDCS_NOTIFY_ENABLES, 1n, 1n);
      const r = yield* ghci.vmRead(cpu, TDCS_NOTIFY_ENABLES);
      const bad = yield* ghci.vmWrite(cpu, TDCS_NOTIFY_ENABLES, 2n, NA);
      return { w, r, bad };
    });
    expect(result.w).toEqual({ status: SUCCESS, old: 0n });
    expect(result.r).toMatchObject({ status: SUCCESS, value: 1n });
    expect(result.bad).toEqual({ status: FIELD_VALUE_NOT_VALID, old: 0n });
    expect(run.b.td.notifyEnables).toBe(1n);
  });

  it('should read what a Linux guest reads: ATTRIBUTES, CONFIG_FLAGS, TD_CTLS, TOPOLOGY_ENUM_CONFIGURED, MRTD, RTMRs', () => {
    const { result, run } = inGuest(function* (cpu) {
      const out: bigint[] = [];
      for (const id of [ATTRIBUTES, TDCS_CONFIG_FLAGS, TDCS_TD_CTLS, TDCS_TOPOLOGY_ENUM_CONFIGURED, MRTD + 5n, RTMR + 23n]) {
        const r = yield* ghci.vmRead(cpu, id);
        expect(r.status).toBe(SUCCESS);
        out.push(r.value);
      }
      return out;
    });
    const mrtd5 = Buffer.from(run.b.td.mrtd).readBigUInt64LE(40);
    expect(result).toEqual([ATTR_SEPT_VE_DISABLE, 4n, 1n, 0n, mrtd5, 0n]);
  });

  it('should refuse fields the guest may not read or write, unknown ids and a non-zero RCX', () => {
    const { result } = inGuest(function* (cpu) {
      const notReadable = yield* ghci.vmRead(cpu, TSC_OFFSET);
      const notWritable = yield* ghci.vmWrite(cpu, ATTRIBUTES, 0n, NA);
      const unknown = yield* ghci.vmRead(cpu, 0x1110000300000077n);
      cpu.regs.set(RCX, 1n);
      cpu.regs.set(RDX, ATTRIBUTES);
      yield ghci.prepareTdcall(cpu.regs, 7);
      const rcx = cpu.regs.get(RAX);
      return [notReadable.status, notReadable.value, notWritable.status, unknown.status, rcx];
    });
    expect(result.map(hex)).toEqual([FIELD_NOT_READABLE, 0n, FIELD_NOT_WRITABLE, FIELD_ID_INCORRECT, OPERAND_INVALID + 1n].map(hex));
  });

  it('version 1: should return RDX = the next guest-readable id and answer a null id with the first', () => {
    const { result } = inGuest(function* (cpu) {
      const first = yield* ghci.vmRead(cpu, NA, 1);
      const attrs = yield* ghci.vmRead(cpu, ATTRIBUTES, 1);
      const v0Null = yield* ghci.vmRead(cpu, NA, 0);
      return { first, attrs, v0Null };
    });
    expect([hex(result.first.status), hex(result.first.next)]).toEqual([hex(FIRST_FIELD_ID_IN_CONTEXT), hex(0x9010000200000001n)]); // NUM_VCPUS
    expect(result.attrs).toEqual({ status: SUCCESS, value: ATTR_SEPT_VE_DISABLE, next: 0x1110000300000001n });
    expect(result.v0Null.status).toBe(FIELD_ID_INCORRECT);
  });

  it('should accept versions 0 and 1 of TDG.VM.RD only; TDG.VM.WR has no version 1 (TDX_OPERAND_INVALID|RAX)', () => {
    const { result } = inGuest(function* (cpu) {
      const v2 = yield* ghci.vmRead(cpu, ATTRIBUTES, 2);
      yield ghci.prepareTdcall(cpu.regs, 8, 1);
      return [v2.status, cpu.regs.get(RAX)];
    });
    expect(result).toEqual([OPERAND_INVALID, OPERAND_INVALID]);
  });

  describe('TD_CTLS', () => {
    it('should refuse to change PENDING_VE_DISABLE without CONFIG_FLAGS.FLEXIBLE_PENDING_VE, and ENUM_TOPOLOGY while the topology is not configured', () => {
      const { result, run } = inGuest(function* (cpu) {
        return [
          (yield* ghci.vmWrite(cpu, TDCS_TD_CTLS, 0n, 1n)).status,
          (yield* ghci.vmWrite(cpu, TDCS_TD_CTLS, 2n, 2n)).status,
          (yield* ghci.vmWrite(cpu, TDCS_TD_CTLS, 8n, 8n)).status,
          (yield* ghci.vmWrite(cpu, TDCS_TD_CTLS, 1n, 1n)).status, // unchanged value: fine
        ];
      });
      expect(result.map(hex)).toEqual([FIELD_VALUE_NOT_VALID, FIELD_VALUE_NOT_VALID, FIELD_NOT_WRITABLE, SUCCESS].map(hex));
      expect(run.b.td.tdCtls).toBe(1n);
    });

    it('should let a TD with FLEXIBLE_PENDING_VE clear PENDING_VE_DISABLE (Linux disable_sept_ve for a debug TD)', () => {
      const { result, run } = inGuest(function* (cpu) {
        return yield* ghci.vmWrite(cpu, TDCS_TD_CTLS, 0n, 1n);
      }, { params: { attributes: ATTR_SEPT_VE_DISABLE | ATTR_DEBUG, configFlags: (1n << 2n) | (1n << 1n) } });
      expect(result).toEqual({ status: SUCCESS, old: 1n });
      expect(run.b.td.tdCtls).toBe(0n);
    });
  });
});

describe('TDG.SYS.RD (TDCALL 11) and TDG.VP.INFO R10', () => {
  it('should read the guest-readable global fields, walking VENDOR_ID .. TDX_FEATURES0', () => {
    const { result } = inGuest(function* (cpu) {
      const info = yield* ghci.tdgVpInfo(cpu);
      const chain: [bigint, bigint][] = [];
      const first = yield* ghci.sysRead(cpu, NA);
      let id = first.next;
      while (id !== NA && chain.length < 20) {
        const r = yield* ghci.sysRead(cpu, id);
        expect(r.status).toBe(SUCCESS);
        chain.push([id, r.value]);
        id = r.next;
      }
      const hostOnly = yield* ghci.sysRead(cpu, 0x9100000100000008n); // MAX_TDMRS
      return { info, first: first.status, chain, hostOnly };
    });
    expect(result.info.sysRdAvailable).toBe(true);
    expect(result.first).toBe(FIRST_FIELD_ID_IN_CONTEXT);
    expect(result.chain).toEqual([
      [0x0800000200000000n, 0x8086n], [0x0800000100000003n, 5n], [0x0800000100000004n, 1n],
      [0x0a00000200000000n, 0n], [0x0a00000000000001n, 1n], [0x0a00000300000008n, 1n << 18n],
    ]);
    expect(result.hostOnly).toEqual({ status: FIELD_NOT_READABLE, value: 0n, next: NA });
  });
});

describe('TDG.VP.VEINFO.GET (TDCALL 3)', () => {
  it('should answer TDX_NO_VALID_VE_INFO with RCX, RDX, R8..R10 = 0 when no #VE is pending', () => {
    const { result } = inGuest(function* (cpu) {
      for (const r of [RCX, RDX, R8, R9, R10]) cpu.regs.set(r, 0x77n);
      return yield* ghci.veInfoGet(cpu);
    });
    expect(result).toEqual({ status: NO_VALID_VE_INFO, exitReason: 0, exitQualification: 0n, gla: 0n, gpa: 0n, instructionLength: 0, instructionInfo: 0 });
  });

  it('should return the #VE information once and then report none', () => {
    let result: [ghci.VeInfoResult, bigint] | undefined;
    const run = runTd(function* (cpu) {
      const a = yield* ghci.veInfoGet(cpu);
      const b = yield* ghci.veInfoGet(cpu);
      result = [a, b.status];
    });
    // What the module stores when it delivers a #VE (e.g. an EPT violation on a PENDING page).
    Object.assign(run.p.module.vcpus.get(run.b.tdvprs[0]!)!.veInfo, {
      valid: true, exitReason: 48, exitQualification: 0x181n, gla: 0x7000n, gpa: 0x3000n, instrInfo: (5n << 32n) | 3n,
    });
    expect(run.enter()).toBe(EXIT_TRIPLE_FAULT);
    expect(result![0]).toEqual({ status: SUCCESS, exitReason: 48, exitQualification: 0x181n, gla: 0x7000n, gpa: 0x3000n, instructionLength: 3, instructionInfo: 5 });
    expect(result![1]).toBe(NO_VALID_VE_INFO);
  });
});

describe('TDG.VP.CPUIDVE.SET (TDCALL 5)', () => {
  it('should store the two controls (readable by the host as CPUID_SUPERVISOR_VE / CPUID_USER_VE) and refuse reserved bits', () => {
    const { result, run } = inGuest(function* (cpu) {
      const ok = yield* ghci.cpuidVeSet(cpu, true, false);
      cpu.regs.set(RCX, 4n);
      yield ghci.prepareTdcall(cpu.regs, 5);
      return [ok, cpu.regs.get(RAX)];
    });
    expect(result.map(hex)).toEqual([SUCCESS, OPERAND_INVALID + 1n].map(hex));
    const vcpu = run.p.module.vcpus.get(run.b.tdvprs[0]!)!;
    expect(vcpu.cpuidVe).toBe(1);
    expect(run.p.host.tdhVpRd(run.b.vcpuLps[0]!, run.b.tdvprs[0]!, 0xa020000000000007n).r8).toBe(1n);
    expect(run.p.host.tdhVpRd(run.b.vcpuLps[0]!, run.b.tdvprs[0]!, 0xa020000000000008n).r8).toBe(0n);
  });
});

describe('TDG.VP.VMCALL XMM selection (RCX bits 31:16)', () => {
  it('should accept XMM bits and pass them in the exit qualification (no XMM state is modelled)', () => {
    const run = runTd(function* (cpu) {
      yield* ghci.tdvmcall(cpu, 0x12345, {}, 0xffcc | (0x3 << 16));
    });
    expect(run.enter()).toBe(EXIT_TDCALL);
    expect(run.args.get(RCX)).toBe(0x3ffccn);
  });
});

describe('TDCALL leaves the simulated module does not implement', () => {
  it.each([9, 10, 12, 18, 20, 23, 24, 25, 26, 27])('should answer leaf %i with TDX_OPERAND_INVALID|RAX', (leaf) => {
    const { result } = inGuest(function* (cpu) {
      yield ghci.prepareTdcall(cpu.regs, leaf);
      return cpu.regs.get(RAX);
    });
    expect(result).toBe(OPERAND_INVALID);
  });
});
