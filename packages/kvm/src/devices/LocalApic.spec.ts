import { describe, expect, it } from 'vitest';
import { createVmm } from '@seamkit/core';
import { fromGenerator, SeamkitError } from '@seamkit/seam-cpu';
import { Kvm, KVM_CAP_MAX_VCPUS } from '../Kvm.js';
import { kvmModule } from '../kvmModule.js';
import { KVM_CAP_EXIT_HYPERCALL, KVM_X86_TDX_VM } from '../uapi/tdx.js';
import {
  KVM_CAP_EXT_CPUID, KVM_CAP_HLT, KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_IOEVENTFD, KVM_CAP_MCE, KVM_CAP_MP_STATE, KVM_CAP_SIGNAL_MSI,
  KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API, KVM_CAP_X86_MSR_FILTER, KVM_CAP_X86_USER_SPACE_MSR, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
  KVM_X2APIC_API_USE_32BIT_IDS,
} from '../uapi/x86.js';
import type { Vm } from '../Vm.js';
import { KvmApicMap, KvmLapic } from './LocalApic.js';

function fail(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (err) {
    if (SeamkitError.is(err)) return err;
    throw err;
  }
  throw new Error('no error');
}

/** The pending PIR vectors of an APIC. */
function pir(a: KvmLapic): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if ((a.pir[v >>> 5]! >>> (v & 31)) & 1) out.push(v);
  return out;
}

function vmWith(n: number): Vm {
  const vmm = createVmm({ modules: [kvmModule()] });
  const td = vmm.createTd({ guest: fromGenerator(function* () { /* idle */ }), memoryBytes: 1 << 20, vcpus: n });
  return td.memory as Vm;
}

describe('Vm.signalMsi (KVM_SIGNAL_MSI)', () => {
  it('should post a fixed MSI to the vCPU whose APIC ID is in address bits 19:12, with the vector from data bits 7:0', () => {
    const vm = vmWith(3);
    expect(vm.signalMsi({ addressLo: 0xfee0_2000, data: 0x4033 & 0x00ff })).toBe(1);
    expect(vm.vcpus.map((v) => pir(v.arch.lapic))).toEqual([[], [], [0x33]]);
    expect(vm.vcpus[2]!.arch.lapic.pirOn).toBe(true);
  });

  it('should treat destination 0xff as a broadcast unless the quirk is disabled', () => {
    const vm = vmWith(2);
    expect(vm.signalMsi({ addressLo: 0xfee_ff000, data: 0x40 })).toBe(2);
    vm.enableCap(KVM_CAP_X2APIC_API, [KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK]);
    expect(fail(() => vm.signalMsi({ addressLo: 0xfee_ff000, data: 0x41 })).errno).toBe(1);
    expect(vm.vcpus.map((v) => pir(v.arch.lapic))).toEqual([[0x40], [0x40]]);
  });

  it('should use address_hi bits 31:8 only with KVM_X2APIC_API_USE_32BIT_IDS, and then refuse address_hi bits 7:0 (EINVAL)', () => {
    const vm = vmWith(2);
    // Without the x2APIC format, address_hi is ignored: destination 1.
    expect(vm.signalMsi({ addressLo: 0x1000, addressHi: 0x100, data: 0x50 })).toBe(1);
    vm.enableCap(KVM_CAP_X2APIC_API, [KVM_X2APIC_API_USE_32BIT_IDS]);
    // Destination 0x101 now: no such vCPU (the ioctl returns -1: EPERM).
    const none = fail(() => vm.signalMsi({ addressLo: 0x1000, addressHi: 0x100, data: 0x51 }));
    expect([none.code, none.errno]).toEqual(['SEAMKIT_ERR_KVM_NOT_FOUND', 1]);
    const bad = fail(() => vm.signalMsi({ addressLo: 0x1000, addressHi: 0x1, data: 0x51 }));
    expect([bad.code, bad.errno]).toEqual(['SEAMKIT_ERR_KVM_ARG', 22]);
    expect(vm.vcpus.map((v) => pir(v.arch.lapic))).toEqual([[], [0x50]]);
  });

  it('should refuse flags other than KVM_MSI_VALID_DEVID with EINVAL', () => {
    const vm = vmWith(1);
    expect(vm.signalMsi({ addressLo: 0, data: 0x30, flags: 1, devid: 7 })).toBe(1);
    expect(fail(() => vm.signalMsi({ addressLo: 0, data: 0x31, flags: 2 })).errno).toBe(22);
    expect(pir(vm.vcpus[0]!.arch.lapic)).toEqual([0x30]);
  });

  it('should match logical destinations by x2APIC cluster and bit, and always assert an MSI', () => {
    const vm = vmWith(3);
    // Logical (address bit 2), cluster 0, mask 0b110: APICs 1 and 2.
    expect(vm.signalMsi({ addressLo: 0x0000_6004, data: 0x60 })).toBe(2);
    // Level-triggered (bit 15) without assert: KVM_SIGNAL_MSI always asserts, so it is delivered.
    expect(vm.signalMsi({ addressLo: 0x0000_0000, data: 0x8061 })).toBe(1);
    expect(vm.vcpus.map((v) => pir(v.arch.lapic))).toEqual([[0x61], [0x60], [0x60]]);
  });

  it('should deliver lowest priority (or a redirection hint) to one software-enabled APIC, chosen by vector hashing', () => {
    const map = new KvmApicMap();
    const apics = [0, 1, 2].map((id) => new KvmLapic(map, id));
    // Software-enable APICs 1 and 2 (SPIV bit 8).
    for (const a of apics.slice(1)) expect(a.writeX2apic(0xf0, 0x1ff, 0)).toBe(0);
    // Logical broadcast to cluster 0 (mask 0b111), lowest priority, vector 0x41: 0x41 % 2 = 1 -> the second candidate (APIC 2).
    expect(map.deliver(undefined, 0x41 | 0x100 | 0x800, 0x7)).toBe(1);
    expect(apics.map(pir)).toEqual([[], [], [0x41]]);
    // Physical 0xff with lowest priority turns into fixed (to all).
    expect(map.deliver(undefined, 0x42 | 0x100, 0xff)).toBe(3);
  });
});

describe('KVM_CHECK_EXTENSION and KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)', () => {
  it('should report the capabilities the simulated KVM supports, on /dev/kvm and on the VM', () => {
    const kvm = new Kvm();
    const vm = kvm.createVm(KVM_X86_TDX_VM);
    const caps: [number, number][] = [
      [KVM_CAP_HLT, 1], [KVM_CAP_EXT_CPUID, 1], [KVM_CAP_MP_STATE, 1], [KVM_CAP_MCE, 32], [KVM_CAP_IOEVENTFD, 1], [KVM_CAP_SIGNAL_MSI, 1],
      [KVM_CAP_SPLIT_IRQCHIP, 1], [KVM_CAP_X2APIC_API, 3], [KVM_CAP_IMMEDIATE_EXIT, 1], [KVM_CAP_X86_USER_SPACE_MSR, 1],
      [KVM_CAP_X86_MSR_FILTER, 1], [KVM_CAP_EXIT_HYPERCALL, 0x1000], [KVM_CAP_MAX_VCPUS, 4096], [9999, 0],
    ];
    for (const [cap, value] of caps) {
      expect(kvm.checkExtension(cap), `cap ${cap}`).toBe(value);
      expect(vm.checkExtension(cap), `cap ${cap}`).toBe(value);
    }
  });

  it('should refuse unknown x2APIC API flags with EINVAL and never turn flags off', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    vm.enableCap(KVM_CAP_X2APIC_API, [KVM_X2APIC_API_USE_32BIT_IDS]);
    vm.enableCap(KVM_CAP_X2APIC_API, [0]);
    expect(vm.apicMap.x2apicFormat).toBe(true);
    expect(fail(() => vm.enableCap(KVM_CAP_X2APIC_API, [4])).errno).toBe(22);
    expect(vm.apicMap.broadcastQuirkDisabled).toBe(false);
  });
});

describe('KvmLapic', () => {
  it('should start in x2APIC mode after KVM_TDX_INIT_VCPU with KVM\'s reset values', () => {
    const vm = vmWith(2);
    const [bsp, ap] = vm.vcpus.map((v) => v.arch.lapic);
    expect([bsp!.apicBase, ap!.apicBase]).toEqual([0xfee0_0d00, 0xfee0_0c00]);
    const out = new Uint32Array(2);
    expect(ap!.readX2apic(0xd0, out)).toBe(0);
    expect(out[0]).toBe(0x2); // LDR of x2APIC ID 1: cluster 0, bit 1
    expect(ap!.readX2apic(0x350, out)).toBe(0);
    expect(out[0]).toBe(0x10000); // LINT0 masked on an AP (ExtINT only on the BSP)
  });
});

describe('KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)', () => {
  it('should take the pin count once, before any vCPU (EEXIST otherwise), and refuse more than 4096 pins (EINVAL)', () => {
    const vm = new Kvm().createVm(KVM_X86_TDX_VM);
    expect(fail(() => vm.enableCap(KVM_CAP_SPLIT_IRQCHIP, [4097])).errno).toBe(22);
    vm.enableCap(KVM_CAP_SPLIT_IRQCHIP, [24]);
    expect(vm.splitIrqchipPins).toBe(24);
    const again = fail(() => vm.enableCap(KVM_CAP_SPLIT_IRQCHIP, [24]));
    expect([again.code, again.errno]).toEqual(['SEAMKIT_ERR_KVM_EXISTS', 17]);
    const late = new Kvm().createVm(KVM_X86_TDX_VM);
    late.tdxInitVm();
    late.createVcpu(0);
    expect(fail(() => late.enableCap(KVM_CAP_SPLIT_IRQCHIP, [24])).errno).toBe(17);
    expect(late.splitIrqchipPins).toBe(-1);
  });
});
