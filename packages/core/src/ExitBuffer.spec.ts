import { describe, expect, it } from 'vitest';
import { KVM_RUN_EXIT_REASON, KVM_RUN_EXIT_UNION, KVM_RUN_EXIT_UNION_SIZE, KVM_RUN_IMMEDIATE_EXIT, KVM_RUN_SIZE } from './abi/kvmRun.js';
import { ExitBuffer } from './ExitBuffer.js';

describe('kvm_run constants', () => {
  it('should match <linux/kvm.h> (sizeof 2352, immediate_exit 1, exit_reason 8, union 32 + 256)', () => {
    expect([KVM_RUN_SIZE, KVM_RUN_IMMEDIATE_EXIT, KVM_RUN_EXIT_REASON, KVM_RUN_EXIT_UNION, KVM_RUN_EXIT_UNION_SIZE]).toEqual([2352, 1, 8, 32, 256]);
  });
});

describe(ExitBuffer, () => {
  it('should be sizeof(struct kvm_run) bytes of zeros with views over one buffer', () => {
    const b = new ExitBuffer();
    expect(b.bytes.length).toBe(2352);
    expect(b.bytes.every((x) => x === 0)).toBe(true);
    expect(b.u32.buffer).toBe(b.bytes.buffer);
    expect(b.view.buffer).toBe(b.bytes.buffer);
  });

  it('should store u64 fields little-endian, readable as BigInt, halves and number', () => {
    const b = new ExitBuffer();
    b.setU64(48, 0x8000000000000003n);
    expect([...b.bytes.subarray(48, 56)]).toEqual([3, 0, 0, 0, 0, 0, 0, 0x80]);
    expect(b.getU64Lo(48)).toBe(3);
    expect(b.getU64Hi(48)).toBe(0x8000_0000);
    b.setU64Halves(56, 0xfffffc18, 0xffffffff);
    expect(b.getU64(56)).toBe(0xfffffffffffffc18n);
    b.setU64Number(64, 2 ** 47 + 0x1000);
    expect(b.getU64(64)).toBe(0x800000001000n);
    expect(b.getU64Number(64)).toBe(2 ** 47 + 0x1000);
    b.setU64(72, -1n);
    expect(b.getU64(72)).toBe(0xffffffffffffffffn);
  });

  it('should read and write u32 fields at their byte offset', () => {
    const b = new ExitBuffer();
    b.setU32(36, 0x01020304);
    expect([...b.bytes.subarray(36, 40)]).toEqual([4, 3, 2, 1]);
    expect(b.getU32(36)).toBe(0x01020304);
  });

  it('should clear only the requested range', () => {
    const b = new ExitBuffer();
    b.bytes.fill(0xff);
    b.clear(32, 256);
    expect(b.bytes[31]).toBe(0xff);
    expect(b.bytes.subarray(32, 288).every((x) => x === 0)).toBe(true);
    expect(b.bytes[288]).toBe(0xff);
  });
});
