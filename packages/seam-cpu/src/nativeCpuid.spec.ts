import { describe, expect, it } from 'vitest';
import { NATIVE_CPUID, nativeCpuid } from './nativeCpuid.js';

describe('nativeCpuid (the simulated CPU\'s CPUID instruction)', () => {
  it('should give family 6, model 0x8F, stepping 8 and "GenuineIntel"', () => {
    expect(nativeCpuid(1)[0]).toBe(0x806f8);
    const [, ebx, ecx, edx] = nativeCpuid(0);
    const vendor = Buffer.alloc(12);
    vendor.writeUInt32LE(ebx, 0);
    vendor.writeUInt32LE(edx, 4);
    vendor.writeUInt32LE(ecx, 8);
    expect(vendor.toString('latin1')).toBe('GenuineIntel');
  });

  it('should select by subleaf only for the leaves that have subleaves', () => {
    expect(nativeCpuid(7, 0)).not.toEqual(nativeCpuid(7, 1));
    expect(nativeCpuid(1, 5)).toEqual(nativeCpuid(1, 0));
    expect(nativeCpuid(0xd, 1)).toEqual(NATIVE_CPUID.find((e) => e.leaf === 0xd && e.subleaf === 1)!.regs);
  });

  it('should read zero for leaves and subleaves the CPU does not have', () => {
    expect(nativeCpuid(0x4000_0000)).toEqual([0, 0, 0, 0]);
    expect(nativeCpuid(7, 2)).toEqual([0, 0, 0, 0]);
  });

  it('should keep every value a u32', () => {
    for (const e of NATIVE_CPUID) for (const r of e.regs) expect(r >>> 0).toBe(r);
  });
});
