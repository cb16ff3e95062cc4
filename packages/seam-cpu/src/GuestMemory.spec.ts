import { describe, expect, it } from 'vitest';
import type { Ept } from './Ept.js';
import { EptViolation } from './EptViolation.js';
import { GuestMemory } from './GuestMemory.js';
import { PhysicalMemory } from './PhysicalMemory.js';

const PAGE = 4096;
const HKID = 40;
const SHARED47 = 2 ** 47;

/** A page-table stand-in: gfn -> hpa, with a record of the accesses. */
class MapEpt implements Ept {
  readonly map = new Map<number, number>();
  readonly calls: [number, boolean][] = [];
  translate(gfn: number, write: boolean): number {
    this.calls.push([gfn, write]);
    return this.map.get(gfn) ?? -1;
  }
}

function setup(sharedBitPosition = 47): { phys: PhysicalMemory; priv: MapEpt; shared: MapEpt; mem: GuestMemory } {
  const phys = new PhysicalMemory();
  const priv = new MapEpt();
  const shared = new MapEpt();
  const mem = new GuestMemory(phys, priv, HKID, sharedBitPosition);
  mem.setSharedEpt(shared);
  return { phys, priv, shared, mem };
}

function violation(fn: () => unknown): EptViolation | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof EptViolation) return err;
    throw err;
  }
  return undefined;
}

describe('GuestMemory', () => {
  it('should place the shared bit at GPAW - 1', () => {
    expect(setup(47).mem.sharedBit).toBe(2 ** 47);
    expect(setup(51).mem.sharedBit).toBe(2 ** 51);
  });

  it('should classify GPAs by the shared bit only', () => {
    const { mem } = setup();
    expect(mem.isShared(0x1000)).toBe(false);
    expect(mem.isShared(SHARED47 - PAGE)).toBe(false);
    expect(mem.isShared(SHARED47)).toBe(true);
    expect(mem.isShared(SHARED47 + 0x1234_5000)).toBe(true);
  });

  describe('private GPAs', () => {
    it('should go through the secure EPT and use the TD key: the host sees only ciphertext', () => {
      const { phys, priv, shared, mem } = setup();
      priv.map.set(0x10, 0x50_0000);
      const secret = Buffer.from('private guest data');
      mem.write(0x10_100, secret);
      expect(priv.calls).toEqual([[0x10, true]]);
      expect(shared.calls).toEqual([]);
      expect(phys.keyIdOf(0x50_0000)).toBe(HKID);
      const back = new Uint8Array(secret.length);
      mem.read(0x10_100, back);
      expect(Buffer.from(back)).toEqual(secret);
      const host = new Uint8Array(PAGE);
      phys.read(0x50_0000, host, 0);
      expect(Buffer.from(host).includes(secret)).toBe(false);
    });

    it('should throw EptViolation with the GPA and access kind when the page is not mapped', () => {
      const { mem } = setup();
      const r = violation(() => mem.readU64(0x7000));
      expect(r).toMatchObject({ gpa: 0x7000, write: false });
      const w = violation(() => mem.writeU32(0x9004, 1));
      expect(w).toMatchObject({ gpa: 0x9004, write: true });
    });
  });

  describe('shared GPAs', () => {
    it('should go through the shared EPT without the shared bit and use key id 0 (host sees plaintext)', () => {
      const { phys, priv, shared, mem } = setup();
      shared.map.set(0x20, 0x60_0000);
      mem.writeU64(SHARED47 + 0x20_008, 0x1122_3344_5566_7788n);
      expect(shared.calls).toEqual([[0x20, true]]);
      expect(priv.calls).toEqual([]);
      const host = new Uint8Array(8);
      phys.read(0x60_0008, host, 0);
      expect(Buffer.from(host).readBigUInt64LE(0)).toBe(0x1122_3344_5566_7788n);
      expect(phys.keyIdOf(0x60_0000)).toBe(0);
    });

    it('should see what the host wrote', () => {
      const { phys, shared, mem } = setup();
      shared.map.set(0x21, 0x61_0000);
      phys.write(0x61_0010, Uint8Array.of(0x78, 0x56, 0x34, 0x12));
      expect(mem.readU32(SHARED47 + 0x21_010)).toBe(0x1234_5678);
    });

    it('should throw EptViolation with the full GPA (shared bit included) when not mapped', () => {
      const { mem } = setup();
      expect(violation(() => mem.readU32(SHARED47 + 0x5000))).toMatchObject({ gpa: SHARED47 + 0x5000, write: false });
    });

    it('should fault every shared access before a shared EPT is installed', () => {
      const mem = new GuestMemory(new PhysicalMemory(), new MapEpt(), HKID, 47);
      expect(violation(() => mem.writeU64(SHARED47, 1n))).toMatchObject({ gpa: SHARED47, write: true });
    });
  });

  describe('multi-byte accesses', () => {
    it('should split an access across pages, each translated on its own', () => {
      const { phys, priv, mem } = setup();
      priv.map.set(1, 0x70_0000);
      priv.map.set(2, 0x90_0000); // not contiguous in host memory
      const data = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
      mem.write(0x2000 - 16, data);
      const back = new Uint8Array(32);
      mem.read(0x2000 - 16, back);
      expect(back).toEqual(data);
      const tail = new Uint8Array(16);
      phys.read(0x90_0000, tail, HKID);
      expect(tail).toEqual(data.subarray(16));
    });

    it('should read and write little-endian u32/u64 values, including across a page boundary', () => {
      const { priv, mem } = setup();
      priv.map.set(3, 0x71_0000);
      priv.map.set(4, 0x72_0000);
      mem.writeU64(0x4000 - 4, 0xfedc_ba98_7654_3210n);
      expect(mem.readU32(0x4000 - 4)).toBe(0x7654_3210);
      expect(mem.readU32(0x4000)).toBe(0xfedc_ba98);
      expect(mem.readU64(0x4000 - 4)).toBe(0xfedc_ba98_7654_3210n);
      mem.writeU32(0x3000, 0xffff_ffff);
      expect(mem.readU32(0x3000)).toBe(0xffff_ffff);
    });

    it('should fault on the first unmapped page of a crossing access', () => {
      const { priv, mem } = setup();
      priv.map.set(5, 0x73_0000);
      expect(violation(() => mem.readU64(0x6000 - 4))).toMatchObject({ gpa: 0x6000, write: false });
    });
  });
});
