import { describe, expect, it } from 'vitest';
import { TestMemory } from '@seamkit/core/testing';
import { EventNotifier, eventNotifyMsi, vmMsiInjector, type KvmMsi } from './EventNotifier.js';

describe(eventNotifyMsi, () => {
  it.each([
    [0, 0x20, { addressLo: 0, addressHi: 0, data: 0x20 }],
    [1, 0x51, { addressLo: 0x1000, addressHi: 0, data: 0x51 }],
    [0xff, 0xff, { addressLo: 0xff000, addressHi: 0, data: 0xff }],
    [0x1234, 0x40, { addressLo: 0x34000, addressHi: 0x1200, data: 0x40 }],
  ])('should encode APIC ID %s, vector %s as QEMU\'s tdx_inject_interrupt (no 0xFEE00000 base, fixed delivery)', (apic, vector, expected) => {
    expect(eventNotifyMsi(apic, vector)).toEqual({ ...expected, flags: 0, devid: 0 });
  });
});

describe(EventNotifier, () => {
  it('should inject nothing without a registration', () => {
    const sent: KvmMsi[] = [];
    const n = new EventNotifier({ signalMsi: (_td, msi) => void sent.push(msi) });
    expect(n.notify(new TestMemory())).toBe(false);
    expect(sent).toEqual([]);
  });

  it('should use KVM_SIGNAL_MSI of the TD\'s VM by default, and count a TD without one as lost', () => {
    const sent: KvmMsi[] = [];
    const vmLike = Object.assign(new TestMemory(), { signalMsi: (msi: KvmMsi) => void sent.push(msi) });
    const n = new EventNotifier();
    n.register(vmLike, 0x33, 0);
    expect(n.notify(vmLike)).toBe(true);
    expect(sent).toEqual([eventNotifyMsi(0, 0x33)]);
    const plain = new TestMemory();
    n.register(plain, 0x33, 0);
    expect(n.notify(plain)).toBe(false);
    expect([n.injected, n.lost]).toEqual([1, 1]);
    expect(() => vmMsiInjector.signalMsi(plain, eventNotifyMsi(0, 0x33))).toThrow(/KVM_SIGNAL_MSI/);
  });
});
