import { describe, expect, it } from 'vitest';
import { createVmm } from '@seamkit/core';
import { CPUID_SUBLEAF_NA, cpuidLookupIndex } from '@seamkit/tdx-module';
import { NATIVE_CPUID, nativeCpuid, RDX, SeamkitError } from '@seamkit/seam-cpu';
import type { KvmCpuidEntry2 } from './devices/Cpuid.js';
import type { KvmTdxCmdError } from './errors.js';
import { Kvm } from './Kvm.js';
import { kvmModule } from './kvmModule.js';
import { filterTdxCpuid } from './tdxCpuid.js';
import { KVM_X86_TDX_VM } from './uapi/tdx.js';
import { TdState, type Vm } from './Vm.js';

// Reference values spelled out: errno (EINVAL 22, E2BIG 7, EIO 5), TDX_OPERAND_INVALID with
// operand ids CPUID_CONFIG (69) and ATTRIBUTES (64) (tdx-module-abi.md §5.2-5.3), the struct
// kvm_cpuid_entry2 flag KVM_CPUID_FLAG_SIGNIFCANT_INDEX (1), and the module's CPUID_CONFIG masks.
const EINVAL = 22;
const E2BIG = 7;
const EIO = 5;
const CPUID_CONFIG_INVALID = 0xc000010000000045n;
const ATTRIBUTES_INVALID = 0xc000010000000040n;
const OPERAND_BUSY = 0x8000020000000000n;
const SIG = 1; // KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/** The coded error `fn` throws. */
function ioctlError(fn: () => unknown): KvmTdxCmdError {
  try {
    fn();
  } catch (e) {
    if (SeamkitError.is(e)) return e;
    throw e;
  }
  throw new Error('the ioctl did not fail');
}

const entry = (fn: number, index: number, eax: number, ebx = 0, ecx = 0, edx = 0, flags = 0): KvmCpuidEntry2 => ({
  function: fn, index, flags, eax, ebx, ecx, edx,
});

/**
 * A CPUID configuration as QEMU builds it for a `-cpu host` TD on this platform: the native
 * family/model/stepping, the features the capabilities allow, GPAW in 0x80000008 EAX[23:16].
 */
function qemuCpuid(gpaw = 48, pa = 46): KvmCpuidEntry2[] {
  return [
    entry(1, 0, 0x000806f8, 0x00010000, (1 << 28) | (1 << 24) | (1 << 29), 1 << 28),
    entry(7, 0, 0, 0x0000_0008, 0, 0, SIG), // BMI1
    entry(7, 1, 0x10, 0, 0, 0, SIG), // AVX-VNNI
    entry(0x8000_0008, 0, (gpaw << 16) | pa, 0x200),
  ];
}

/** A VM whose TD passed KVM_TDX_INIT_VM with `cpuid`, and one created vCPU (not initialized). */
function initVm(cpuid = qemuCpuid()): { kvm: Kvm; vm: Vm } {
  const kvm = new Kvm();
  const vm = kvm.createVm(KVM_X86_TDX_VM);
  vm.tdxInitVm({ cpuid });
  return { kvm, vm };
}

/** What userspace (and the kernel's HKID pool) can observe about a VM before it has a TD. */
function observable(kvm: Kvm, vm: Vm): unknown {
  const hkid = kvm.allocHkid();
  if (hkid !== undefined) kvm.freeHkid(hkid);
  return { state: vm.state, tdr: vm.tdr, hkid: vm.hkid, gpaw: vm.gpaw, nextHkid: hkid, tds: kvm.module.tds.size, dead: vm.dead };
}

describe('KVM_TDX_CAPABILITIES: cpuid', () => {
  it('should report the module\'s configurable leaves and bits, with 0x80000008 EAX[23:16] (the GPAW) as configurable', () => {
    const caps = new Kvm().createVm(KVM_X86_TDX_VM).tdxCapabilities();
    expect(caps.cpuid).toEqual({
      nent: 4,
      entries: [
        entry(1, 0, 0x0fff3fff, 0x00ff0000, 0x31044988, 0xb8400000),
        entry(7, 0, 0, 0xd02b0308, 0x02417f64, 0x00054110),
        entry(7, 1, 0x1c30),
        entry(0x8000_0008, 0, 0x00ff00ff, 0x200),
      ],
    });
  });

  it('should fail with E2BIG when userspace has room for fewer entries, and accept exactly enough', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    const e = ioctlError(() => vm.tdxCapabilities(3));
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', E2BIG]);
    expect(vm.tdxCapabilities(4).cpuid.nent).toBe(4);
  });
});

describe('KVM_TDX_INIT_VM: cpuid', () => {
  it('should configure the TD\'s CPUID and take the GPAW from 0x80000008 EAX[23:16]', () => {
    for (const gpaw of [48, 52] as const) {
      const { vm } = initVm(qemuCpuid(gpaw));
      expect([vm.state, vm.gpaw, vm.td!.gpaw, vm.sharedBit]).toEqual([TdState.INITIALIZED, gpaw, gpaw, 2 ** (gpaw - 1)]);
    }
  });

  it('should keep the simulator fallback: no cpuid means no CPUID configuration and GPAW from `gpaw` (default 48)', () => {
    for (const [params, gpaw] of [[{}, 48], [{ gpaw: 52 as const }, 52], [{ cpuid: [], gpaw: 52 as const }, 52]] as const) {
      const vm = new Kvm().createVm(KVM_X86_TDX_VM);
      vm.tdxInitVm(params);
      expect([vm.state, vm.gpaw]).toEqual([TdState.INITIALIZED, gpaw]);
    }
  });

  it.each([
    ['an entry for a leaf that is not configurable (0x2)', [...qemuCpuid(), entry(2, 0, 0)], EINVAL],
    ['an entry for a subleaf that is not configurable (7/2)', [...qemuCpuid(), entry(7, 2, 0, 0, 0, 0, SIG)], EINVAL],
    ['leaf 7 without KVM_CPUID_FLAG_SIGNIFCANT_INDEX (it matches both 7/0 and 7/1)', [qemuCpuid()[0]!, entry(7, 0, 0), qemuCpuid()[3]!], EINVAL],
    ['two entries for the same leaf', [...qemuCpuid(), qemuCpuid()[0]!], EINVAL],
    ['a GPAW of 50', qemuCpuid(50), EINVAL],
    ['a GPAW of 0', qemuCpuid(0), EINVAL],
    ['no 0x80000008 entry (and no `gpaw` fallback)', qemuCpuid().slice(0, 3), EINVAL],
    ['a field that is not a u32', [...qemuCpuid().slice(0, 3), entry(0x8000_0008, 0, -1)], EINVAL],
    ['more than KVM_MAX_CPUID_ENTRIES (256) entries', Array.from({ length: 257 }, () => qemuCpuid()[0]!), E2BIG],
  ])('should refuse %s with SEAMKIT_ERR_KVM_ARG and create nothing', (_n, cpuid, errno) => {
    const kvm = new Kvm();
    const vm = kvm.createVm(KVM_X86_TDX_VM);
    const before = observable(kvm, vm);
    const e = ioctlError(() => vm.tdxInitVm({ cpuid }));
    expect([e.code, e.errno, e.hwError]).toEqual(['SEAMKIT_ERR_KVM_ARG', errno, undefined]);
    expect(observable(kvm, vm)).toEqual(before);
  });

  it('should refuse a `gpaw` that contradicts 0x80000008 EAX[23:16], and use `gpaw` when the entry is missing', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    expect(ioctlError(() => vm.tdxInitVm({ cpuid: qemuCpuid(52), gpaw: 48 })).errno).toBe(EINVAL);
    vm.tdxInitVm({ cpuid: qemuCpuid().slice(0, 3), gpaw: 52 });
    expect(vm.gpaw).toBe(52);
  });

  it.each([
    ['SSE3 (leaf 1 ECX bit 0, not configurable)', (c: KvmCpuidEntry2[]) => { c[0] = { ...c[0]!, ecx: c[0]!.ecx | 1 }; }, 0xffffffff00000001n],
    ['another family/model/stepping in a non-migratable TD', (c: KvmCpuidEntry2[]) => { c[0] = { ...c[0]!, eax: 0x000906a3 }; }, 0xffffffff00000001n],
    ['leaf 7/1 EDX bit 0', (c: KvmCpuidEntry2[]) => { c[2] = { ...c[2]!, edx: 1 }; }, 0x0000000100000007n],
    ['0x80000008 EAX[15:8] (the linear address width)', (c: KvmCpuidEntry2[]) => { c[3] = { ...c[3]!, eax: c[3]!.eax | 0x3900 }; }, 0xffffffff80000008n],
  ])('should turn TDH.MNG.INIT\'s TDX_OPERAND_INVALID|CPUID_CONFIG for %s into EINVAL with hw_error = the status, and tear the TD down', (_n, edit, leafSubleaf) => {
    const kvm = new Kvm();
    const vm = kvm.createVm(KVM_X86_TDX_VM);
    const before = observable(kvm, vm);
    const cpuid = qemuCpuid();
    edit(cpuid);
    const e = ioctlError(() => vm.tdxInitVm({ cpuid }));
    expect([e.code, e.errno, e.hwError]).toEqual(['SEAMKIT_ERR_KVM_TDX_OPERAND_INVALID', EINVAL, CPUID_CONFIG_INVALID]);
    expect(e.message).toContain(`status 0x${CPUID_CONFIG_INVALID.toString(16)}, rcx 0x${leafSubleaf.toString(16)}`);
    // __tdx_td_init's teardown: no TD, the HKID and pages are back; the VM can try again.
    expect(observable(kvm, vm)).toEqual(before);
    vm.tdxInitVm({ cpuid: qemuCpuid() });
    expect(vm.state).toBe(TdState.INITIALIZED);
  });

  it('should refuse the capabilities\' entries passed back verbatim (CPUID(1).EAX = the mask is not this CPU\'s F/M/S)', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    const caps = vm.tdxCapabilities().cpuid.entries.map((c) => (c.function === 0x8000_0008 ? { ...c, eax: (48 << 16) | 0x2e } : c));
    expect(ioctlError(() => vm.tdxInitVm({ cpuid: caps })).hwError).toBe(CPUID_CONFIG_INVALID);
    const fixed = caps.map((c) => (c.function === 1 ? { ...c, eax: 0 } : c));
    vm.tdxInitVm({ cpuid: fixed.map((c) => (c.function === 7 ? { ...c, flags: SIG } : c)) });
    expect(vm.state).toBe(TdState.INITIALIZED);
  });

  it('should give hw_error only for TDX_OPERAND_INVALID: another TDH.MNG.INIT failure is EIO without it', () => {
    for (const [status, code, errno, hwError] of [
      [ATTRIBUTES_INVALID, 'SEAMKIT_ERR_KVM_TDX_OPERAND_INVALID', EINVAL, ATTRIBUTES_INVALID],
      [OPERAND_BUSY, 'SEAMKIT_ERR_KVM_TDX_FAILED', EIO, undefined],
    ] as const) {
      const kvm = new Kvm();
      const vm = kvm.createVm(KVM_X86_TDX_VM);
      kvm.module.testHooks = { faultSeamcall: (leaf) => (leaf === 21 ? status : undefined) };
      const e = ioctlError(() => vm.tdxInitVm({ cpuid: qemuCpuid() }));
      expect([e.code, e.errno, e.hwError]).toEqual([code, errno, hwError]);
      kvm.module.testHooks = undefined;
    }
  });
});

describe('KVM_TDX_GET_CPUID (Vcpu.tdxGetCpuid)', () => {
  /** The entries KVM reads for a TD configured with qemuCpuid(gpaw), XFAM x87|SSE|AVX. */
  const expected = (gpaw: number): KvmCpuidEntry2[] => [
    entry(0, 0, 0x23, 0x756e6547, 0x6c65746e, 0x49656e69),
    // Configured: 1 logical CPU per package, TSC_DEADLINE, AVX, F16C, HTT; hypervisor bit (31) set.
    entry(1, 0, 0x000806f8, 0x00010800, 0xf7fab217, 0x17a9fbff),
    entry(7, 0, 2, 0x219404a9, 0x19000000, 0xfc000400, SIG),
    entry(7, 1, 0x10, 0, 0, 0, SIG),
    entry(0xd, 0, 7, 0, 832, 0, SIG),
    entry(0xd, 1, 0xf, 0, 0, 0, SIG),
    entry(0x8000_0000, 0, 0x8000_0008),
    entry(0x8000_0001, 0, 0, 0, 0x121, 0x2c100000),
    // PA width 46 as configured, linear 48 (no LA57), GuestPhysAddrSize = the GPAW.
    entry(0x8000_0008, 0, (gpaw << 16) | 0x302e, 0x200),
  ];

  it('should read the CPUID values the TD sees from the module, on a vCPU before or after KVM_TDX_INIT_VCPU', () => {
    for (const gpaw of [48, 52]) {
      const { vm } = initVm(qemuCpuid(gpaw));
      const v = vm.createVcpu(0);
      expect(v.tdxGetCpuid()).toEqual(expected(gpaw));
      v.tdxInitVcpu();
      expect(v.tdxGetCpuid()).toEqual(expected(gpaw));
      // The vCPU starts with CPUID(1).EAX in RDX, the same value the TD's CPUID reports.
      expect(vm.kvm.module.vcpus.get(v.tdvpr)!.regs.get(RDX)).toBe(0x806f8n);
    }
  });

  it('should report the module\'s fixed values for a TD without CPUID configuration', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    vm.tdxInitVm();
    const got = vm.createVcpu(0).tdxGetCpuid();
    expect(got.find((e) => e.function === 1)).toEqual(entry(1, 0, 0x000806f8, 0x00000800, 0xc6fab217, 0x07a9fbff));
    expect(got.find((e) => e.function === 0x8000_0008)).toEqual(entry(0x8000_0008, 0, 0x00303000, 0));
  });

  it('should fail with E2BIG and say how many entries it needs (nent) when userspace has less room', () => {
    const { vm } = initVm();
    const v = vm.createVcpu(0);
    const e = ioctlError(() => v.tdxGetCpuid(8));
    expect([e.code, e.errno, e.nent]).toEqual(['SEAMKIT_ERR_KVM_ARG', E2BIG, 9]);
    expect(v.tdxGetCpuid(9)).toHaveLength(9);
  });

  it('should refuse the call once the TD is finalized (EINVAL) and on a dead VM (EIO)', () => {
    const { vm } = initVm();
    const v = vm.createVcpu(0);
    v.tdxInitVcpu();
    vm.setGuestProgram(() => ({ step: () => 2 }));
    vm.tdxFinalizeVm();
    expect([ioctlError(() => v.tdxGetCpuid()).code, ioctlError(() => v.tdxGetCpuid()).errno]).toEqual(['SEAMKIT_ERR_KVM_STATE', EINVAL]);
    const other = initVm().vm;
    const w = other.createVcpu(0);
    other.tdxTerminateVm();
    expect(ioctlError(() => w.tdxGetCpuid()).errno).toBe(EIO);
  });
});

describe('KVM_GET_SUPPORTED_CPUID (Kvm.getSupportedCpuid)', () => {
  it('should report the host CPU\'s leaves, with KVM_CPUID_FLAG_SIGNIFCANT_INDEX on the ones that have subleaves', () => {
    const got = new Kvm().getSupportedCpuid();
    expect(got.map((e) => [e.function, e.index, e.flags])).toEqual(
      NATIVE_CPUID.map((n) => [n.leaf, n.subleaf ?? 0, n.subleaf === undefined ? 0 : SIG]),
    );
    // CPUID.1 as the simulated CPU's CPUID instruction gives it: family 6, model 0x8F, stepping 8.
    expect(got.find((e) => e.function === 1)!.eax).toBe(0x806f8);
    expect(got.find((e) => e.function === 7 && e.index === 0)).toEqual(entry(7, 0, ...nativeCpuid(7, 0), SIG));
  });

  it('should fail with E2BIG when the buffer is too small, and accept exactly enough', () => {
    const kvm = new Kvm();
    const e = ioctlError(() => kvm.getSupportedCpuid(NATIVE_CPUID.length - 1));
    expect([e.code, e.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', E2BIG]);
    expect(kvm.getSupportedCpuid(NATIVE_CPUID.length)).toHaveLength(NATIVE_CPUID.length);
  });
});

describe('filterTdxCpuid (QEMU\'s tdx_filter_cpuid)', () => {
  it('should keep only the configurable leaves, AND them with the configurable bits and put the GPAW in 0x80000008', () => {
    const caps = new Kvm().createVm(KVM_X86_TDX_VM).tdxCapabilities().cpuid.entries;
    const wanted = [
      entry(0, 0, 0x20, 1, 2, 3),
      entry(1, 0, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff),
      entry(7, 1, 0xffff_ffff, 0, 0, 0xffff_ffff, SIG),
      entry(0x8000_0008, 0, 0x392e, 0x200),
    ];
    const conf = (fn: number, index: number): KvmCpuidEntry2 => caps.find((c) => c.function === fn && c.index === index)!;
    expect(filterTdxCpuid(wanted, caps, 52)).toEqual([
      { ...conf(1, 0), flags: 0 },
      { ...conf(7, 1), flags: SIG },
      // EAX[7:0] (PA width) is configurable, EAX[15:8] (linear) is not; EAX[23:16] = the GPAW.
      entry(0x8000_0008, 0, (52 << 16) | 0x2e, 0x200),
    ]);
  });

  it('should turn the supported CPUID into a configuration TDH.MNG.INIT accepts, with every native feature the TD may have', () => {
    const kvm = new Kvm();
    const vm = kvm.createVm(KVM_X86_TDX_VM);
    vm.tdxInitVm({ cpuid: filterTdxCpuid(kvm.getSupportedCpuid(), vm.tdxCapabilities().cpuid.entries, 48) });
    const got = vm.createVcpu(0).tdxGetCpuid();
    const bare = kvm.createVm(KVM_X86_TDX_VM);
    bare.tdxInitVm();
    const without = bare.createVcpu(0).tdxGetCpuid();
    const bit = (t: KvmCpuidEntry2[], fn: number, index: number, reg: 'eax' | 'ebx', b: number): number => (t.find((e) => e.function === fn && e.index === index)![reg] >>> b) & 1;
    // BMI1 (7.0:EBX[3]) and AVX-VNNI (7.1:EAX[4], AVX state is in the default XFAM) are native and
    // allowed: the TD has them; a TD without CPUID configuration has neither.
    expect([bit(got, 7, 0, 'ebx', 3), bit(got, 7, 1, 'eax', 4)]).toEqual([1, 1]);
    expect([bit(without, 7, 0, 'ebx', 3), bit(without, 7, 1, 'eax', 4)]).toEqual([0, 0]);
    expect(got.find((e) => e.function === 1)!.eax).toBe(0x806f8);
    expect(vm.gpaw).toBe(48);
  });
});

describe('the reference VMM\'s TDs (KvmHypervisor.createTd)', () => {
  it('should configure the TD\'s CPUID as QEMU does: the supported CPUID filtered by the capabilities, GPAW from the config', () => {
    for (const gpaw of [48, 52] as const) {
      const vmm = createVmm({ modules: [kvmModule()] });
      const vm = vmm.createTd({ guest: () => ({ step: () => 2 }), memoryBytes: 1 << 20, gpaw }).memory as Vm;
      const td = vm.kvm.module.tds.get(vm.tdr)!;
      // The module's virtual CPUID of the TD, leaf by leaf in its table's order.
      const leaf = (fn: number, sub: number): number[] => {
        const i = cpuidLookupIndex(fn, sub);
        return Array.from(td.cpuidValues!.subarray(i * 4, i * 4 + 4));
      };
      const bare = new Kvm().createVm(KVM_X86_TDX_VM);
      bare.tdxInitVm({ cpuid: filterTdxCpuid(bare.kvm.getSupportedCpuid(), bare.tdxCapabilities().cpuid.entries, gpaw) });
      const expected = bare.createVcpu(0).tdxGetCpuid();
      for (const [fn, sub] of [[1, CPUID_SUBLEAF_NA], [7, 0], [7, 1]] as const) {
        const e = expected.find((x) => x.function === fn && x.index === (sub === CPUID_SUBLEAF_NA ? 0 : sub))!;
        expect(leaf(fn, sub), `leaf ${fn}/${sub}`).toEqual([e.eax, e.ebx, e.ecx, e.edx]);
      }
      expect(vm.gpaw).toBe(gpaw);
    }
  });
});
