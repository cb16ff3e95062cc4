import { describe, expect, it } from 'vitest';
import { createVmm } from '@seamkit/core';
import { fromGenerator, R11, SeamkitError, type GuestCpu, type GuestGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { type KvmCpuidEntry2 } from '../devices/Cpuid.js';
import { KvmMsrFilter, tdxHasEmulatedMsr, type KvmMsrFilterSpec } from '../devices/Msrs.js';
import { kvmModule } from '../kvmModule.js';
import { KVM_EXIT_IO, KVM_EXIT_SHUTDOWN, KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR } from '../uapi/exits.js';
import {
  KVM_CAP_X86_USER_SPACE_MSR, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, KVM_MSR_EXIT_REASON_FILTER, KVM_MSR_EXIT_REASON_INVAL,
  KVM_MSR_EXIT_REASON_UNKNOWN, KVM_MSR_FILTER_DEFAULT_DENY, KVM_MSR_FILTER_READ, KVM_MSR_FILTER_WRITE,
} from '../uapi/x86.js';
import type { KvmMsrEntry } from '../Vcpu.js';
import type { Vm } from '../Vm.js';

const INVALID_OPERAND = 0x8000000000000000n;
const MSR_X2APIC_APIC_ICR = 0x830;
const MSR_IA32_MISC_ENABLE = 0x1a0;
const MSR_IA32_POWER_CTL = 0x1fc;

/** The v8 selftest filter: default deny; read of MISC_ENABLE and write of POWER_CTL allowed. */
const allowBits = new Uint8Array(8).fill(0xff);
const TDX_MSR_TEST_FILTER: KvmMsrFilterSpec = {
  flags: KVM_MSR_FILTER_DEFAULT_DENY,
  ranges: [
    { flags: KVM_MSR_FILTER_READ, nmsrs: 1, base: MSR_IA32_MISC_ENABLE, bitmap: allowBits },
    { flags: KVM_MSR_FILTER_WRITE, nmsrs: 1, base: MSR_IA32_POWER_CTL, bitmap: allowBits },
  ],
};

function fail(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (err) {
    if (SeamkitError.is(err)) return err;
    throw err;
  }
  throw new Error('no error');
}

/**
 * A TD from the reference VMM with its vCPUs' CPUID tables emptied (KVM_SET_CPUID2 with no
 * entries): the MSRs KVM emulates depend on the guest CPUID, so each test sets the table it needs.
 */
function boot(fn: GuestGenerator, vcpus = 1): { vm: Vm; run: (i?: number) => number } {
  const vmm = createVmm({ modules: [kvmModule()] });
  const td = vmm.createTd({ guest: fromGenerator(fn), memoryBytes: 1 << 20, vcpus });
  const vm = td.memory as Vm;
  for (const v of vm.vcpus) v.setCpuid2([]);
  return { vm, run: (i = 0) => td.vcpus[i]!.run() };
}

const getMsr = (vm: Vm, index: number, vcpu = 0): bigint => {
  const e: KvmMsrEntry = { index, data: 0n };
  expect(vm.vcpus[vcpu]!.getMsrs([e])).toBe(1);
  return e.data;
};

/** kvm_run msr.* (bytes 32..55): [error, pad[7] all zero, reason, index, data]. */
function msrExit(vm: Vm): [number, boolean, number, number, bigint] {
  const b = vm.vcpus[0]!.kvmRun.bytes;
  const v = new DataView(b.buffer);
  return [b[32]!, b.subarray(33, 40).every((x) => x === 0), v.getUint32(40, true), v.getUint32(44, true), v.getBigUint64(48, true)];
}

describe('RDMSR / WRMSR leaves under the v8 selftest filter', () => {
  it('verify_guest_msr_writes: ICR write succeeds (x2APIC is never filtered), MISC_ENABLE is denied, POWER_CTL succeeds; the host sees the values', () => {
    const seen: bigint[] = [];
    const { vm, run } = boot(function* (cpu) {
      seen.push(yield* ghci.wrmsr(cpu, MSR_X2APIC_APIC_ICR, 4n));
      seen.push(yield* ghci.wrmsr(cpu, MSR_IA32_MISC_ENABLE, 5n));
      seen.push(cpu.regs.get(R11));
      seen.push(yield* ghci.wrmsr(cpu, MSR_IA32_POWER_CTL, 6n));
    });
    vm.setMsrFilter(TDX_MSR_TEST_FILTER);
    const miscEnable = getMsr(vm, MSR_IA32_MISC_ENABLE);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, INVALID_OPERAND, 32n, 0n]);
    expect(getMsr(vm, MSR_X2APIC_APIC_ICR)).toBe(4n);
    expect(getMsr(vm, MSR_IA32_MISC_ENABLE)).toBe(miscEnable);
    expect(miscEnable).toBe(0x1800n);
    expect(getMsr(vm, MSR_IA32_POWER_CTL)).toBe(6n);
  });

  it('verify_guest_msr_reads: the host presets ICR 4, MISC_ENABLE 5, POWER_CTL 6; the guest reads 4 and 5, and POWER_CTL is INVALID_OPERAND', () => {
    const seen: bigint[] = [];
    const { vm, run } = boot(function* (cpu) {
      for (const index of [MSR_X2APIC_APIC_ICR, MSR_IA32_MISC_ENABLE, MSR_IA32_POWER_CTL]) {
        const [status, value] = yield* ghci.rdmsr(cpu, index);
        seen.push(status, value);
      }
    });
    vm.setMsrFilter(TDX_MSR_TEST_FILTER);
    expect(vm.vcpus[0]!.setMsrs([
      { index: MSR_X2APIC_APIC_ICR, data: 4n }, { index: MSR_IA32_MISC_ENABLE, data: 5n }, { index: MSR_IA32_POWER_CTL, data: 6n },
    ])).toBe(3);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    // R11 keeps the leaf number (31) when the read fails.
    expect(seen).toEqual([0n, 4n, 0n, 5n, INVALID_OPERAND, 31n]);
  });
});

describe('userspace MSR exits (KVM_CAP_X86_USER_SPACE_MSR)', () => {
  it('should exit KVM_EXIT_X86_RDMSR / WRMSR for filtered accesses with reason FILTER, and complete with msr.data / msr.error', () => {
    const seen: bigint[] = [];
    const { vm, run } = boot(function* (cpu) {
      const [s1, v1] = yield* ghci.rdmsr(cpu, MSR_IA32_POWER_CTL);
      const [s2, v2] = yield* ghci.rdmsr(cpu, MSR_IA32_POWER_CTL);
      const s3 = yield* ghci.wrmsr(cpu, MSR_IA32_MISC_ENABLE, 0x1_0000_0005n);
      const s4 = yield* ghci.wrmsr(cpu, MSR_IA32_MISC_ENABLE, 7n);
      seen.push(s1, v1, s2, v2, s3, s4);
    });
    vm.setMsrFilter(TDX_MSR_TEST_FILTER);
    vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_FILTER]);
    const run0 = vm.vcpus[0]!.kvmRun;
    const v = new DataView(run0.bytes.buffer);
    run0.bytes.fill(0xee, 32, 56);
    expect(run()).toBe(KVM_EXIT_X86_RDMSR);
    expect(run0.exitReason).toBe(KVM_EXIT_X86_RDMSR);
    expect(msrExit(vm)).toEqual([0, true, KVM_MSR_EXIT_REASON_FILTER, MSR_IA32_POWER_CTL, 0n]);
    v.setBigUint64(48, 0xabcd_0000_1234n, true);
    expect(run()).toBe(KVM_EXIT_X86_RDMSR);
    run0.bytes[32] = 1; // error
    v.setBigUint64(48, 0x99n, true);
    expect(run()).toBe(KVM_EXIT_X86_WRMSR);
    expect(msrExit(vm)).toEqual([0, true, KVM_MSR_EXIT_REASON_FILTER, MSR_IA32_MISC_ENABLE, 0x1_0000_0005n]);
    expect(run()).toBe(KVM_EXIT_X86_WRMSR);
    run0.bytes[32] = 0x80;
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, 0xabcd_0000_1234n, INVALID_OPERAND, 31n, 0n, INVALID_OPERAND]);
    expect(getMsr(vm, MSR_IA32_MISC_ENABLE)).toBe(0x1800n); // userspace handled it; KVM's value is untouched
  });

  it('should exit with INVAL for MSRs KVM rejects and UNKNOWN for ones it does not handle, only for enabled reasons', () => {
    const seen: bigint[] = [];
    const { vm, run } = boot(function* (cpu) {
      seen.push(yield* ghci.wrmsr(cpu, 0x1b, 0xfee00d00n)); // APICBASE is read-only: INVAL
      seen.push((yield* ghci.rdmsr(cpu, 0x10))[0]); // TSC is not emulated for a TD: INVAL
      seen.push((yield* ghci.rdmsr(cpu, 0x10a))[0]); // ARCH_CAPABILITIES without CPUID: UNKNOWN
      seen.push((yield* ghci.rdmsr(cpu, 0x10a))[0]);
    });
    vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_INVAL]);
    expect(run()).toBe(KVM_EXIT_X86_WRMSR);
    expect(msrExit(vm)).toEqual([0, true, KVM_MSR_EXIT_REASON_INVAL, 0x1b, 0xfee00d00n]);
    expect(run()).toBe(KVM_EXIT_X86_RDMSR);
    expect(msrExit(vm)).toEqual([0, true, KVM_MSR_EXIT_REASON_INVAL, 0x10, 0n]);
    vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_UNKNOWN]);
    expect(run()).toBe(KVM_EXIT_X86_RDMSR);
    expect(msrExit(vm)).toEqual([0, true, KVM_MSR_EXIT_REASON_UNKNOWN, 0x10a, 0n]);
    vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [0]);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([0n, 0n, 0n, INVALID_OPERAND]);
  });

  it('should refuse an unknown reason bit with EINVAL and keep the mask', () => {
    const { vm } = boot(function* () { /* nothing */ });
    vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_FILTER]);
    const err = fail(() => vm.enableCap(KVM_CAP_X86_USER_SPACE_MSR, [8]));
    expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
    expect(vm.userSpaceMsrMask).toBe(KVM_MSR_EXIT_REASON_FILTER);
  });
});

describe('emulated MSRs (tdx_get_msr / tdx_set_msr)', () => {
  /** Runs a guest doing `ops` (rdmsr: [index]; wrmsr: [index, value]) and returns [status, R11] per op. */
  function guestMsrs(ops: readonly (readonly [number] | readonly [number, bigint])[], cpuid?: KvmCpuidEntry2[]): { results: bigint[][]; vm: Vm } {
    const results: bigint[][] = [];
    const { vm, run } = boot(function* (cpu: GuestCpu) {
      for (const op of ops) {
        if (op.length === 1) results.push(yield* ghci.rdmsr(cpu, op[0]));
        else results.push([yield* ghci.wrmsr(cpu, op[0], op[1]!)]);
      }
    });
    if (cpuid) vm.vcpus[0]!.setCpuid2(cpuid);
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    return { results, vm };
  }

  it('should read KVM\'s initial values of a TD vCPU', () => {
    const { results } = guestMsrs([[0x1b], [0xc0000080], [0x3a], [0x8b], [0x277], [0xfe], [0x1a0], [0xce], [0x179], [0x17a], [0x4b564d05], [0x6e0]]);
    expect(results).toEqual([
      [0n, 0xfee00d00n], // APICBASE: x2APIC enabled, BSP
      [0n, 0xd01n], // EFER: SCE | LME | LMA | NX
      [0n, 1n], // FEAT_CTL: locked, no LMCE
      [0n, 0x1_0000_0000n], // UCODE_REV
      [0n, 0x0007040600070406n], // PAT
      [0n, 0x508n], // MTRRcap: WC, FIX, 8 variable
      [0n, 0x1800n], // MISC_ENABLE: PEBS/BTS unavailable
      [0n, 0x80000000n], // PLATFORM_INFO: CPUID faulting
      [0n, 32n], // MCG_CAP
      [0n, 0n], // MCG_STATUS
      [0n, 1n], // POLL_CONTROL
      [0n, 0n], // TSC_DEADLINE (not in TSC-deadline mode)
    ]);
  });

  it('should refuse writes to the read-only MSRs and to MSRs outside the emulated list', () => {
    const { results } = guestMsrs([[0x1b, 0xfee00d00n], [0xc0000080, 0xd01n], [0x3a, 1n], [0x10, 0n], [0x48, 1n], [0x10], [0x808], [0x80b, 0n]]);
    expect(results.map((r) => r[0])).toEqual(Array(8).fill(INVALID_OPERAND));
  });

  it('should validate PAT, MTRR, MISC_ENABLE, PLATFORM_INFO, POLL_CONTROL, MISC_FEATURES and MCE writes as KVM does', () => {
    const { results } = guestMsrs([
      [0x277, 0x0007040600070406n], [0x277, 0x0002000000000000n], // PAT: type 2 is invalid
      [0x2ff, 0xc06n], [0x2ff, 0x1006n], [0x2ff, 0x7n], [0x2ff], // MTRRdefType
      [0x200, 0x6n], [0x201, 0x7ffn], [0x201, 0xfff_f000n], [0x210, 0n], [0x250, 0x0606060606060606n], [0x250, 0x0606060606060603n],
      [0x1a0, 0x1881n], [0x1a0], [0x1a0, 0x0800n], // MISC_ENABLE: EMON ignored; RO bits cannot change
      [0xce, 0n], [0x4b564d05, 2n], [0x4b564d05, 0n], [0x140, 1n], [0x140, 2n],
      [0x17b], [0x17b, 0n], [0x17a, 5n], [0x17a], [0x401, 1n], [0x401, 0n], [0x400, 0xffff_ffff_ffff_fbfen], [0x400, 5n], [0x47f, 1n], [0x480], [0x280],
      [0x179, 0n],
    ]);
    expect(results).toEqual([
      [0n], [INVALID_OPERAND],
      [0n], [INVALID_OPERAND], [INVALID_OPERAND], [0n, 0xc06n],
      [0n], [INVALID_OPERAND], [0n], [INVALID_OPERAND], [0n], [INVALID_OPERAND],
      [0n], [0n, 0x1801n], [INVALID_OPERAND],
      [INVALID_OPERAND], [INVALID_OPERAND], [0n], [0n], [INVALID_OPERAND],
      [INVALID_OPERAND, 0x1fn], [INVALID_OPERAND], [0n], [0n, 5n], [INVALID_OPERAND], [0n], [0n], [INVALID_OPERAND], [0n], [INVALID_OPERAND, 0x1fn], [INVALID_OPERAND, 0x1fn],
      [INVALID_OPERAND],
    ]);
  });

  it('should read ARCH_CAPABILITIES only with CPUID.7.0:EDX[29], and let only the host write it', () => {
    const cpuid = [{ function: 7, index: 0, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 1 << 29 }];
    const { results, vm } = guestMsrs([[0x10a], [0x10a, 1n]], cpuid);
    expect(results).toEqual([[0n, 0n], [INVALID_OPERAND]]);
    // After KVM_RUN, the immutable feature MSR takes only its current value.
    expect(vm.vcpus[0]!.setMsrs([{ index: 0x10a, data: 0n }, { index: 0x10a, data: 1n }])).toBe(1);
  });

  it('should emulate the x2APIC registers the CPU does not virtualize (Linux 6.16 list)', () => {
    const { results } = guestMsrs([
      [0x802], [0x803], [0x80d], [0x80f], [0x811], [0x817], [0x821], [0x835], [0x837], [0x83e], [0x839],
      [0x802, 5n], [0x80f, 0x1ffn], [0x80f], [0x832, 0x6_00ffn], [0x832], [0x828, 1n], [0x828, 0n], [0x830, 1n << 13n], [0x831],
      [0x801], [0x83f], [0x840], [0x80e, 0n], [0x832, 1n << 32n],
    ]);
    expect(results).toEqual([
      [0n, 0n], [0n, 0x50014n], [0n, 1n], [0n, 0xffn], [0n, 0n], [0n, 0n], [0n, 0n], [0n, 0x700n], [0n, 0x10000n], [0n, 0n], [0n, 0n],
      [INVALID_OPERAND], [0n], [0n, 0x1ffn], [0n], [0n, 0x200ffn], [INVALID_OPERAND], [0n], [INVALID_OPERAND], [INVALID_OPERAND, 0x1fn],
      [INVALID_OPERAND, 0x1fn], [INVALID_OPERAND, 0x1fn], [INVALID_OPERAND, 0x1fn], [INVALID_OPERAND], [INVALID_OPERAND],
    ]);
    expect(tdxHasEmulatedMsr(0x810)).toBe(false);
    expect(tdxHasEmulatedMsr(0x811)).toBe(true);
  });

  it('should advertise directed EOI and TSC-deadline mode from the CPUID table', () => {
    const cpuid = [{ function: 1, index: 0, flags: 0, eax: 0, ebx: 0, ecx: (1 << 21) | (1 << 24), edx: 0 }];
    const { results } = guestMsrs([[0x803], [0x80f, 0x11ffn], [0x80f], [0x832, 0x4_00f0n], [0x6e0, 0x1234_5678_9n], [0x6e0]], cpuid);
    expect(results).toEqual([[0n, 0x1050014n], [0n], [0n, 0x11ffn], [0n], [0n], [0n, 0x1234_5678_9n]]);
  });

  it('should send IPIs on ICR writes: a fixed IPI to APIC 1 wakes the halted vCPU 1, a self-IPI lands in the sender', () => {
    const taken: number[][] = [[], []];
    const { vm, run } = boot(function* (cpu) {
      if (cpu.vcpuIndex === 1) {
        yield* ghci.hlt(cpu);
        taken[1]!.push(cpu.apic.takeInterrupt());
        return;
      }
      yield* ghci.wrmsr(cpu, MSR_X2APIC_APIC_ICR, (1n << 32n) | 0x50n); // fixed, physical, APIC ID 1
      yield* ghci.wrmsr(cpu, 0x83f, 0x61n); // SELF_IPI
      yield* ghci.ioWrite(cpu, 0x80, 1, 0); // the self-IPI reaches the virtual APIC at the next entry
      taken[0]!.push(cpu.apic.takeInterrupt());
    }, 2);
    expect(fail(() => run(1)).errno).toBe(4);
    expect(vm.vcpus[1]!.getMpState()).toBe(KVM_MP_STATE_HALTED);
    expect(run(0)).toBe(KVM_EXIT_IO);
    expect(vm.vcpus[1]!.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    expect(run(0)).toBe(KVM_EXIT_SHUTDOWN);
    expect(run(1)).toBe(KVM_EXIT_SHUTDOWN);
    expect(taken).toEqual([[0x61], [0x50]]);
    expect(getMsr(vm, MSR_X2APIC_APIC_ICR)).toBe((1n << 32n) | 0x50n);
  });
});

describe('KVM_GET_MSRS / KVM_SET_MSRS', () => {
  it('should stop at the first MSR that fails and return the count', () => {
    const { vm } = boot(function* () { /* nothing */ });
    const v = vm.vcpus[0]!;
    const entries: KvmMsrEntry[] = [{ index: 0x1fc, data: 0n }, { index: 0x10, data: 0n }, { index: 0x1a0, data: 0n }];
    expect(v.getMsrs(entries)).toBe(1);
    expect(v.setMsrs([{ index: 0x1fc, data: 9n }, { index: 0x1b, data: 0n }, { index: 0x1fc, data: 10n }])).toBe(1);
    expect(getMsr(vm, 0x1fc)).toBe(9n);
    // The host may read MCG_CTL and write PLATFORM_INFO, which the guest may not.
    expect(v.getMsrs([{ index: 0x17b, data: 1n }])).toBe(1);
    expect(v.setMsrs([{ index: 0xce, data: 0n }])).toBe(1);
    // ARCH_CAPABILITIES without the CPUID bit: the host reads 0 and may write 0 (an advertised MSR).
    const arch: KvmMsrEntry = { index: 0x10a, data: 5n };
    expect(v.getMsrs([arch])).toBe(1);
    expect(arch.data).toBe(0n);
    expect(v.setMsrs([{ index: 0x10a, data: 0n }, { index: 0x10a, data: 1n }])).toBe(1);
  });

  it('should refuse 256 entries or more with E2BIG', () => {
    const { vm } = boot(function* () { /* nothing */ });
    const many = Array.from({ length: 256 }, () => ({ index: 0x1fc, data: 0n }));
    expect(fail(() => vm.vcpus[0]!.getMsrs(many)).errno).toBe(7);
    expect(fail(() => vm.vcpus[0]!.setMsrs(many)).errno).toBe(7);
  });
});

describe('Vm.setMsrFilter (KVM_X86_SET_MSR_FILTER)', () => {
  const range = (flags: number, base: number, nmsrs: number, bitmap = new Uint8Array(8)) => ({ flags, base, nmsrs, bitmap });

  it('should decide by the first matching range with the access type, else the default; never for x2APIC MSRs', () => {
    const f = new KvmMsrFilter({
      flags: 0,
      ranges: [
        range(KVM_MSR_FILTER_READ, 0x100, 0), // empty: skipped
        range(KVM_MSR_FILTER_READ, 0x100, 16, Uint8Array.from([0b0000_0101, 0, 0, 0, 0, 0, 0, 0])),
        range(KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, 0x100, 64, new Uint8Array(8).fill(0xff)),
        range(KVM_MSR_FILTER_WRITE, 0x800, 256, new Uint8Array(32)),
      ],
    });
    expect([0x100, 0x101, 0x102, 0x10f, 0x110, 0x200].map((i) => f.allowed(i, KVM_MSR_FILTER_READ))).toEqual([true, false, true, false, true, true]);
    expect([0x101, 0x13f, 0x140].map((i) => f.allowed(i, KVM_MSR_FILTER_WRITE))).toEqual([true, true, true]);
    expect(f.allowed(0x830, KVM_MSR_FILTER_WRITE)).toBe(true);
    const deny = new KvmMsrFilter({ flags: KVM_MSR_FILTER_DEFAULT_DENY, ranges: [range(KVM_MSR_FILTER_READ, 0xffff_ffff, 2, new Uint8Array(8).fill(0xff))] });
    expect(deny.allowed(0xffff_ffff, KVM_MSR_FILTER_READ)).toBe(false); // base + nmsrs wraps in u32: no match
  });

  it('should refuse bad filters with EINVAL / EFAULT and keep the installed one', () => {
    const { vm } = boot(function* () { /* nothing */ });
    vm.setMsrFilter(TDX_MSR_TEST_FILTER);
    const before = vm.msrFilter;
    const cases: [KvmMsrFilterSpec, number][] = [
      [{ flags: 2, ranges: [] }, 22],
      [{ flags: KVM_MSR_FILTER_DEFAULT_DENY, ranges: [] }, 22],
      [{ flags: KVM_MSR_FILTER_DEFAULT_DENY, ranges: [range(KVM_MSR_FILTER_READ, 0, 0)] }, 22],
      [{ flags: 0, ranges: [range(0, 0x10, 1)] }, 22],
      [{ flags: 0, ranges: [range(4, 0x10, 1)] }, 22],
      [{ flags: 0, ranges: [range(KVM_MSR_FILTER_READ, 0, 0x3001, new Uint8Array(0x608))] }, 22],
      [{ flags: 0, ranges: [range(KVM_MSR_FILTER_READ, 0, 65, new Uint8Array(8))] }, 14],
      [{ flags: 0, ranges: Array.from({ length: 17 }, () => range(KVM_MSR_FILTER_READ, 0, 1)) }, 22],
    ];
    for (const [spec, errno] of cases) {
      const err = fail(() => vm.setMsrFilter(spec));
      expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', errno]);
      expect(vm.msrFilter).toBe(before);
    }
    vm.setMsrFilter({ flags: 0, ranges: [] }); // default allow, no ranges: fine
    expect(vm.msrFilter?.allowed(0x1a0, KVM_MSR_FILTER_WRITE)).toBe(true);
  });

  it('should copy the bitmap: changing it afterwards changes nothing', () => {
    const bits = new Uint8Array(8).fill(0xff);
    const f = new KvmMsrFilter({ flags: KVM_MSR_FILTER_DEFAULT_DENY, ranges: [range(KVM_MSR_FILTER_READ, 0x10, 1, bits)] });
    bits.fill(0);
    expect(f.allowed(0x10, KVM_MSR_FILTER_READ)).toBe(true);
  });
});
