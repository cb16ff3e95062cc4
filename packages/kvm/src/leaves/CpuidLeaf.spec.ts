import { describe, expect, it } from 'vitest';
import { createVmm, type VmmEvent } from '@seamkit/core';
import { LeafTestBed } from '@seamkit/core/testing';
import { fromGenerator, R10, R11, R12, R13, R14, R15, SeamkitError, type GuestGenerator } from '@seamkit/seam-cpu';
import { ghci } from '@seamkit/tdx-module';
import { KvmCpuid, type KvmCpuidEntry2 } from '../devices/Cpuid.js';
import { kvmModule } from '../kvmModule.js';
import { KVM_EXIT_SHUTDOWN } from '../uapi/exits.js';
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX, KVM_MAX_CPUID_ENTRIES } from '../uapi/x86.js';
import type { Vm } from '../Vm.js';
import { CpuidLeaf } from './CpuidLeaf.js';

const SIG = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
const e = (fn: number, index: number, flags: number, eax: number, ebx = 0, ecx = 0, edx = 0): KvmCpuidEntry2 => ({ function: fn, index, flags, eax, ebx, ecx, edx });

/** "GenuineIntel": EBX, EDX, ECX. */
const INTEL = { ebx: 0x756e_6547, edx: 0x4965_6e69, ecx: 0x6c65_746e };
/** "AuthenticAMD". */
const AMD = { ebx: 0x6874_7541, edx: 0x6974_6e65, ecx: 0x444d_4163 };

/** A table like QEMU's for a TD: max basic leaf 0xd, leaf 7 and 0xb indexed, extended up to 0x80000008. */
const TABLE: KvmCpuidEntry2[] = [
  e(0, 0, 0, 0xd, INTEL.ebx, INTEL.ecx, INTEL.edx),
  e(1, 0, 0, 0x806f8, 0x0001_0800, 0xf7fa_3223, 0x0f8b_fbff),
  e(7, 0, SIG, 1, 0xf1bf_07ab, 0x1b41_5f6e, 0xbc00_0400),
  e(7, 1, SIG, 0x1c30, 0, 0, 0),
  e(0xb, 0, SIG, 1, 1, 0x100, 0),
  e(0xb, 1, SIG, 7, 4, 0x201, 0),
  e(0xd, 0, SIG, 0x2e7, 0xa88, 0xa88, 0),
  e(0x4000_0000, 0, 0, 0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x4d),
  e(0x8000_0000, 0, 0, 0x8000_0008),
  e(0x8000_0008, 0, 0, 0x3030),
];

function cpuid(table: readonly KvmCpuidEntry2[], fn: number, index: number): number[] {
  const c = new KvmCpuid();
  c.set(table);
  c.kvmCpuid(fn, index);
  return [...c.out];
}

describe('KvmCpuid (kvm_cpuid over the KVM_SET_CPUID2 table)', () => {
  it('should return the exact entry, honouring KVM_CPUID_FLAG_SIGNIFCANT_INDEX', () => {
    expect(cpuid(TABLE, 7, 0)).toEqual([1, 0xf1bf_07ab, 0x1b41_5f6e, 0xbc00_0400]);
    expect(cpuid(TABLE, 7, 1)).toEqual([0x1c30, 0, 0, 0]);
    // Leaf 1 has no significant index: every subleaf gets the same entry.
    expect(cpuid(TABLE, 1, 0x55)).toEqual([0x806f8, 0x0001_0800, 0xf7fa_3223, 0x0f8b_fbff]);
  });

  it('should use the first entry of a function without the flag even if a later one has the index', () => {
    const t = [e(0, 0, 0, 5), e(4, 0, 0, 0x11), e(4, 3, SIG, 0x33)];
    expect(cpuid(t, 4, 3)).toEqual([0x11, 0, 0, 0]);
  });

  it('should redirect an out-of-range basic leaf to the max basic leaf with the same subleaf (Intel)', () => {
    // 0xd is the max basic leaf; 0x14 is out of range -> CPUID.0xd.index.
    expect(cpuid(TABLE, 0x14, 0)).toEqual([0x2e7, 0xa88, 0xa88, 0]);
    // ...with the original index: 0xd has no subleaf 1 -> zeros.
    expect(cpuid(TABLE, 0x14, 1)).toEqual([0, 0, 0, 0]);
    // An extended leaf above 0x80000008 and a missing class (0xc0000000) are out of range too.
    expect(cpuid(TABLE, 0x8000_0009, 0)).toEqual([0x2e7, 0xa88, 0xa88, 0]);
    expect(cpuid(TABLE, 0xc000_0001, 0)).toEqual([0x2e7, 0xa88, 0xa88, 0]);
    // The hypervisor class is per 0x100 block: 0x40000100 has no base entry.
    expect(cpuid(TABLE, 0x4000_0105, 0)).toEqual([0x2e7, 0xa88, 0xa88, 0]);
  });

  it('should return zeros for an in-range leaf without an entry', () => {
    expect(cpuid(TABLE, 5, 0)).toEqual([0, 0, 0, 0]); // 5 <= 0xd, no entry
    expect(cpuid(TABLE, 0x8000_0005, 0)).toEqual([0, 0, 0, 0]);
    expect(cpuid(TABLE, 0x4000_0001, 0)).toEqual([0, 0, 0, 0]);
  });

  it('should pass CL through and take EDX from subleaf 1 for a missing subleaf of 0xB', () => {
    expect(cpuid(TABLE, 0xb, 5)).toEqual([0, 0, 5, 0]);
    const t = [e(0, 0, 0, 0x1f), e(0x1f, 1, SIG, 1, 2, 3, 9)];
    expect(cpuid(t, 0x1f, 0x1_23)).toEqual([0, 0, 0x23, 9]);
    expect(cpuid([e(0, 0, 0, 0x1f)], 0x1f, 2)).toEqual([0, 0, 0, 0]);
  });

  it('should not redirect for an AMD vendor, and return zeros without a table', () => {
    const amd = [e(0, 0, 0, 0xd, AMD.ebx, AMD.ecx, AMD.edx), e(0xd, 0, 0, 7)];
    expect(cpuid(amd, 0x20, 0)).toEqual([0, 0, 0, 0]);
    expect(cpuid([], 1, 0)).toEqual([0, 0, 0, 0]);
  });

  it('should report MAXPHYADDR from 0x80000008 (36 without it)', () => {
    const c = new KvmCpuid();
    expect(c.maxPhyAddr()).toBe(36);
    c.set(TABLE);
    expect(c.maxPhyAddr()).toBe(0x30);
  });
});

/** Boots a one-vCPU TD whose guest runs `fn`, with the given CPUID table. */
function boot(fn: GuestGenerator, table: readonly KvmCpuidEntry2[] = TABLE): { vm: Vm; run: () => number } {
  const vmm = createVmm({ modules: [kvmModule()] });
  const td = vmm.createTd({ guest: fromGenerator(fn), memoryBytes: 1 << 20 });
  const vm = td.memory as Vm;
  vm.vcpus[0]!.setCpuid2(table);
  return { vm, run: () => td.vcpus[0]!.run() };
}

describe('CpuidLeaf (TDVMCALL<Instruction.CPUID>, 10)', () => {
  it('should answer in the kernel: R12..R15 = EAX..EDX zero-extended, R10 = 0, no exit', () => {
    const seen: bigint[][] = [];
    const { run } = boot(function* (cpu) {
      for (const [leaf, sub] of [[7, 0], [0xb, 1], [0x14, 0], [1, 0]] as const) {
        const r = cpu.regs;
        r.set(R12, 0xdead_0000_0000n | BigInt(leaf)); // only the low 32 bits are the leaf
        yield* ghci.tdvmcall(cpu, 10, { r12: r.get(R12), r13: BigInt(sub) });
        seen.push([R10, R11, R12, R13, R14, R15].map((i) => r.get(i)));
      }
    });
    expect(run()).toBe(KVM_EXIT_SHUTDOWN);
    expect(seen).toEqual([
      [0n, 10n, 1n, 0xf1bf_07abn, 0x1b41_5f6en, 0xbc00_0400n],
      [0n, 10n, 7n, 4n, 0x201n, 0n],
      [0n, 10n, 0x2e7n, 0xa88n, 0xa88n, 0n],
      [0n, 10n, 0x806f8n, 0x0001_0800n, 0xf7fa_3223n, 0x0f8b_fbffn],
    ]);
  });

  it('should match the KVM_SET_CPUID2 entry exactly, as selftest verify_td_cpuid_tdcall checks', () => {
    let got: number[] = [];
    const { vm, run } = boot(function* (cpu) {
      const [status, eax, ebx, ecx, edx] = yield* ghci.cpuid(cpu, 1, 0);
      got = [Number(status), eax, ebx, ecx, edx];
    });
    run();
    const entry = vm.vcpus[0]!.getCpuid2().find((x) => x.function === 1)!;
    expect(got).toEqual([0, entry.eax, entry.ebx, entry.ecx, entry.edx]);
  });

  it('should return zeros for every leaf of a vCPU with an empty CPUID table', () => {
    let got: number[] = [];
    const vmm = createVmm({ modules: [kvmModule()] });
    const td = vmm.createTd({
      guest: fromGenerator(function* (cpu) {
        const [status, ...regs] = yield* ghci.cpuid(cpu, 0, 0);
        got = [Number(status), ...regs];
      }),
      memoryBytes: 1 << 20,
    });
    (td.memory as Vm).vcpus[0]!.setCpuid2([]);
    td.vcpus[0]!.run();
    expect(got).toEqual([0, 0, 0, 0, 0]);
  });

  it('should answer from the table the reference VMM gives each vCPU: KVM_GET_SUPPORTED_CPUID with its APIC ID', () => {
    const got: number[][] = [];
    const vmm = createVmm({ modules: [kvmModule()] });
    const td = vmm.createTd({
      guest: fromGenerator(function* (cpu) {
        for (const [leaf, sub] of [[0, 0], [1, 0], [7, 0], [7, 1]] as const) got.push((yield* ghci.cpuid(cpu, leaf, sub)).map(Number));
      }),
      memoryBytes: 1 << 20,
      vcpus: 2,
    });
    const vm = td.memory as Vm;
    const supported = vm.kvm.getSupportedCpuid();
    const regs = (fn: number, index: number): number[] => {
      const s = supported.find((x) => x.function === fn && x.index === index)!;
      return [0, s.eax, s.ebx, s.ecx, s.edx];
    };
    td.vcpus[0]!.run();
    expect(got).toEqual([regs(0, 0), regs(1, 0), regs(7, 0), regs(7, 1)]);
    // Each vCPU's table carries its own initial APIC ID in CPUID.1:EBX[31:24].
    expect(vm.vcpus.map((v) => v.getCpuid2().find((x) => x.function === 1)!.ebx >>> 24)).toEqual([0, 1]);
  });

  it('should need a vCPU of the simulated KVM: in a bare test bed the guest gets INVALID_OPERAND and a plugin-error is reported', () => {
    const bed = new LeafTestBed(CpuidLeaf);
    const out = bed.tdvmcall({ r12: 1 });
    expect(out.exitReason).toBe(0);
    expect(out.guest?.r10).toBe(0x8000000000000000n);
    expect(bed.events.map((ev: VmmEvent) => ev.type)).toEqual(['plugin-error']);
  });
});

describe('Vcpu.setCpuid2 / getCpuid2 (KVM_SET_CPUID2 / KVM_GET_CPUID2)', () => {
  const fail = (fn: () => unknown): SeamkitError => {
    try {
      fn();
    } catch (err) {
      if (SeamkitError.is(err)) return err;
      throw err;
    }
    throw new Error('no error');
  };

  it('should store and return the table', () => {
    const { vm } = boot(function* () { /* nothing */ });
    expect(vm.vcpus[0]!.getCpuid2()).toEqual(TABLE);
  });

  it('should refuse more than KVM_MAX_CPUID_ENTRIES with E2BIG, non-u32 fields and a bad virtual-address width with EINVAL, changing nothing', () => {
    const { vm } = boot(function* () { /* nothing */ });
    const v = vm.vcpus[0]!;
    const err = fail(() => v.setCpuid2(Array.from({ length: KVM_MAX_CPUID_ENTRIES + 1 }, (_, i) => e(i, 0, 0, 0))));
    expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 7]);
    expect(fail(() => v.setCpuid2([e(1, 0, 0, -1)])).errno).toBe(22);
    expect(fail(() => v.setCpuid2([e(0x8000_0008, 0, 0, 0x2f30)])).errno).toBe(22); // vaddr 47
    v.setCpuid2([e(0x8000_0008, 0, 0, 0x3930)]); // vaddr 57 is fine
    expect(v.getCpuid2()).toEqual([e(0x8000_0008, 0, 0, 0x3930)]);
  });

  it('should accept only the identical table after KVM_RUN (EINVAL otherwise)', () => {
    const { vm, run } = boot(function* (cpu) {
      yield* ghci.cpuid(cpu, 0);
    });
    run();
    const v = vm.vcpus[0]!;
    v.setCpuid2(TABLE.map((x) => ({ ...x })));
    const err = fail(() => v.setCpuid2(TABLE.slice(1)));
    expect([err.code, err.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
    expect(v.getCpuid2()).toEqual(TABLE);
  });
});
