import { describe, expect, it } from 'vitest';
import { PhysicalMemory } from './PhysicalMemory.js';
import { SeamkitError } from './SeamkitError.js';

const PAGE = 4096;
const K = 33;

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return b;
}

function read(mem: PhysicalMemory, hpa: number, n: number, keyId = 0): Uint8Array {
  const dst = new Uint8Array(n);
  mem.read(hpa, dst, keyId);
  return dst;
}

/** True if `needle` occurs in `hay` (to show plaintext does not leak, not even shifted). */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return SeamkitError.is(err) ? err.code : String(err);
  }
  return undefined;
}

describe('PhysicalMemory', () => {
  describe('sparseness', () => {
    it('should cost nothing for a large declared size and for untouched pages', () => {
      const mem = new PhysicalMemory(2 ** 40);
      expect(mem.size).toBe(2 ** 40);
      expect(mem.touchedPages).toBe(0);
      expect(read(mem, 2 ** 39, 16)).toEqual(new Uint8Array(16));
      mem.allocPage();
      expect(mem.touchedPages).toBe(0);
    });

    it('should count one page per distinct page written, however much is written in it', () => {
      const mem = new PhysicalMemory();
      mem.write(0x10_0000, bytes(8, 1));
      mem.write(0x10_0ff8, bytes(8, 2));
      mem.write(0x7_0000_0000, bytes(1, 3));
      expect(mem.touchedPages).toBe(2);
      mem.clearPage(0x20_0000, K);
      expect(mem.touchedPages).toBe(3);
    });
  });

  describe('.allocPage / .freePage', () => {
    it('should hand out distinct page-aligned addresses from 1 MiB up', () => {
      const mem = new PhysicalMemory();
      const pages = [mem.allocPage(), mem.allocPage(), mem.allocPage()];
      expect(pages).toEqual([0x10_0000, 0x10_1000, 0x10_2000]);
    });

    it('should reuse a freed page and return it zeroed', () => {
      const mem = new PhysicalMemory();
      const a = mem.allocPage();
      mem.write(a, bytes(64, 9), K);
      mem.freePage(a);
      expect(mem.touchedPages).toBe(0);
      expect(mem.allocPage()).toBe(a);
      expect(read(mem, a, 64)).toEqual(new Uint8Array(64));
      expect(read(mem, a, 64, K)).toEqual(new Uint8Array(64));
    });

    it('should fail with SEAMKIT_ERR_CPU_BAD_ADDRESS when memory is exhausted', () => {
      const mem = new PhysicalMemory(0x10_2000);
      mem.allocPage();
      mem.allocPage();
      expect(codeOf(() => mem.allocPage())).toBe('SEAMKIT_ERR_CPU_BAD_ADDRESS');
    });
  });

  describe('address checks', () => {
    const mem = new PhysicalMemory(2 ** 30);
    it.each([
      ['a read past the end', () => mem.read(2 ** 30, new Uint8Array(1))],
      ['a negative address', () => mem.write(-4096, new Uint8Array(1))],
      ['a fractional address', () => mem.read(4096.5, new Uint8Array(1))],
      ['a read crossing a page', () => mem.read(PAGE - 4, new Uint8Array(8))],
      ['a write crossing a page', () => mem.write(PAGE - 1, new Uint8Array(2))],
      ['clearing an unaligned page', () => mem.clearPage(0x1008, K)],
      ['freeing an unaligned page', () => mem.freePage(0x1001)],
    ])('should refuse %s with SEAMKIT_ERR_CPU_BAD_ADDRESS', (_name, fn) => {
      expect(codeOf(fn)).toBe('SEAMKIT_ERR_CPU_BAD_ADDRESS');
    });

    it('should accept a range that ends exactly at the page end', () => {
      expect(codeOf(() => mem.write(PAGE - 8, new Uint8Array(8)))).toBeUndefined();
    });
  });

  describe('key ids (memory encryption)', () => {
    it('should read plaintext back with the key id it was written with', () => {
      const mem = new PhysicalMemory();
      const data = bytes(256, 5);
      mem.write(0x40_0100, data, K);
      expect(read(mem, 0x40_0100, 256, K)).toEqual(data);
      expect(mem.keyIdOf(0x40_0000)).toBe(K);
      expect(mem.keyIdOf(0x40_0fff)).toBe(K);
    });

    it('should show the host (key id 0) different bytes, never the plaintext', () => {
      const mem = new PhysicalMemory();
      const page = new Uint8Array(PAGE);
      const secret = Buffer.from('TOP SECRET TD DATA: 0123456789abcdef');
      page.set(secret, 100);
      mem.write(0x40_0000, page, K);
      const seen = read(mem, 0x40_0000, PAGE, 0);
      expect(seen).not.toEqual(page);
      expect(contains(seen, secret)).toBe(false);
      // Not a fixed mask either: the bytes around the secret (zeros in plaintext) are not zeros.
      expect(seen.subarray(0, 100).some((b) => b !== 0)).toBe(true);
    });

    it('should show another TD key id ciphertext too', () => {
      const mem = new PhysicalMemory();
      const data = bytes(PAGE, 6);
      mem.write(0x40_0000, data, K);
      const other = read(mem, 0x40_0000, PAGE, K + 1);
      expect(other).not.toEqual(data);
      expect(contains(other, data.subarray(0, 32))).toBe(false);
    });

    it('should return the same ciphertext on every read and per-byte consistent sub-ranges', () => {
      const mem = new PhysicalMemory();
      mem.write(0x40_0000, bytes(PAGE, 7), K);
      const whole = read(mem, 0x40_0000, PAGE, 0);
      expect(read(mem, 0x40_0000, PAGE, 0)).toEqual(whole);
      expect(read(mem, 0x40_0123, 77, 0)).toEqual(whole.subarray(0x123, 0x123 + 77));
    });

    it('should encrypt identical plaintext differently on different pages (address tweak)', () => {
      const mem = new PhysicalMemory();
      const data = bytes(PAGE, 8);
      mem.write(0x40_0000, data, K);
      mem.write(0x40_1000, data, K);
      expect(read(mem, 0x40_0000, PAGE, 0)).not.toEqual(read(mem, 0x40_1000, PAGE, 0));
    });

    it('should encrypt identical plaintext differently under different keys', () => {
      const mem = new PhysicalMemory();
      const data = bytes(PAGE, 9);
      mem.write(0x40_0000, data, K);
      const underK = read(mem, 0x40_0000, PAGE, 0);
      mem.write(0x40_0000, data, K + 1);
      expect(mem.keyIdOf(0x40_0000)).toBe(K + 1);
      expect(read(mem, 0x40_0000, PAGE, 0)).not.toEqual(underK);
    });

    it('should leave the old owner only ciphertext after a write with a new key id', () => {
      const mem = new PhysicalMemory();
      const data = bytes(PAGE, 10);
      mem.write(0x40_0000, data, K);
      mem.write(0x40_0000, Uint8Array.of(0xaa), K + 1);
      const forNewOwner = read(mem, 0x40_0000, PAGE, K + 1);
      expect(forNewOwner[0]).toBe(0xaa);
      expect(contains(forNewOwner, data.subarray(1, 33))).toBe(false);
      expect(read(mem, 0x40_0000, PAGE, K)).not.toEqual(data);
    });

    it('should show zero bytes as ciphertext after clearPage with a TD key', () => {
      const mem = new PhysicalMemory();
      mem.write(0x40_0000, bytes(PAGE, 11));
      mem.clearPage(0x40_0000, K);
      expect(mem.keyIdOf(0x40_0000)).toBe(K);
      expect(read(mem, 0x40_0000, PAGE, K)).toEqual(new Uint8Array(PAGE));
      expect(read(mem, 0x40_0000, PAGE, 0)).not.toEqual(new Uint8Array(PAGE));
    });

    it('should give the page owner a live view through pageForKey', () => {
      const mem = new PhysicalMemory();
      const view = mem.pageForKey(0x40_0000, K);
      view[10] = 0x5a;
      expect(read(mem, 0x40_000a, 1, K)[0]).toBe(0x5a);
      expect(mem.keyIdOf(0x40_0000)).toBe(K);
    });

    it('should show a TD key id garbage, not the plaintext, of a page written with key id 0', () => {
      const mem = new PhysicalMemory();
      const data = bytes(PAGE, 13);
      mem.write(0x40_0000, data, 0);
      const seen = read(mem, 0x40_0000, PAGE, K);
      expect(seen).not.toEqual(data);
      expect(contains(seen, data.subarray(0, 32))).toBe(false);
      expect(read(mem, 0x40_0000, PAGE, 0)).toEqual(data);
    });

    it('should not let a host (key id 0) write plant chosen bytes in a TD page', () => {
      const mem = new PhysicalMemory();
      mem.write(0x40_0000, bytes(PAGE, 14), K);
      const planted = Buffer.from('host-chosen bytes');
      mem.write(0x40_0100, planted, 0);
      const tdView = read(mem, 0x40_0000, PAGE, K);
      expect(Buffer.from(tdView).includes(planted)).toBe(false);
    });

    it('should let the host read and write its own (key id 0) pages in plaintext', () => {
      const mem = new PhysicalMemory();
      const data = bytes(100, 12);
      mem.write(0x40_0000, data);
      expect(read(mem, 0x40_0000, 100)).toEqual(data);
      expect(mem.keyIdOf(0x40_0000)).toBe(0);
    });
  });
});
