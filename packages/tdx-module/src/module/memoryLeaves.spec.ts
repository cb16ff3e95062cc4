import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SeamcallResult } from '../host/TdxHost.js';
import {
  addPage, addSeptTables, bootPlatform, buildTd, createTd, createVcpu, hex, mngInit, moduleSnapshot, vpInit,
  type ImagePage, type Platform, type TdParamsInput,
} from '../testing/buildTd.js';
import { OPERAND, REF, withOperand } from '../testing/reference.js';

const PAGE = 4096;
/** Architectural value of a FREE SEPT entry in the extended error info: only SUPPRESS_VE (bit 63). */
const SEPT_FREE_ENTRY = 1n << 63n;

/** Calls `fn`, expects `status` in RAX, and checks that the module state is exactly as before. */
function expectRefused(p: Platform, fn: () => SeamcallResult, status: bigint): SeamcallResult {
  const before = moduleSnapshot(p);
  const r = fn();
  expect(hex(r.status)).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
  return r;
}

/** A TD after TDH.MNG.INIT with one initialized vCPU (so it could be finalized). */
function initializedTd(params: TdParamsInput = {}): { p: Platform; tdr: number } {
  const p = bootPlatform();
  const { tdr } = createTd(p);
  mngInit(p, tdr, params);
  vpInit(p, createVcpu(p, tdr));
  return { p, tdr };
}

/** A host page holding `content` (zero padded), for use as a TDH.MEM.PAGE.ADD source. */
function sourcePage(p: Platform, content: Uint8Array): number {
  const page = p.cpu.memory.allocPage();
  const full = new Uint8Array(PAGE);
  full.set(content);
  p.cpu.memory.write(page, full);
  return page;
}

function pattern(seed: number, n = PAGE): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed * 101 + 7) & 0xff);
}

/** One MRTD block as the reference defines it: ASCII tag zero padded to 16 bytes, GPA LE u64 at 16, rest 0. */
function refBlock(tag: string, gpa: number): Buffer {
  const b = Buffer.alloc(128);
  b.write(tag, 0, 'ascii');
  b.writeBigUInt64LE(BigInt(gpa), 16);
  return b;
}

describe('memory leaves', () => {
  describe('TDH.MEM.SEPT.ADD', () => {
    it('should add tables top down and return RCX = RDX = 0', () => {
      const { p, tdr } = initializedTd();
      for (const level of [3, 2, 1]) {
        const r = p.host.tdhMemSeptAdd(p.lp0, tdr, 0x4000_0000, level, p.cpu.memory.allocPage());
        expect([hex(r.status), r.rcx, r.rdx]).toEqual([hex(REF.TDX_SUCCESS), 0n, 0n]);
      }
    });

    it('should refuse a table below a missing one with TDX_EPT_WALK_FAILED|RCX and the free entry in RCX/RDX', () => {
      const { p, tdr } = initializedTd();
      const page = p.cpu.memory.allocPage();
      const r = expectRefused(p, () => p.host.tdhMemSeptAdd(p.lp0, tdr, 0x4000_0000, 2, page), withOperand(REF.TDX_EPT_WALK_FAILED, OPERAND.RCX));
      expect(r.rcx).toBe(SEPT_FREE_ENTRY);
      expect(r.rdx & 7n).toBe(3n); // the level-3 (PML4) entry is the free one
      expect((r.rdx >> 8n) & 0xffn).toBe(0n); // state FREE
    });

    it('should refuse a table that exists already with TDX_EPT_ENTRY_NOT_FREE|RCX', () => {
      const { p, tdr } = initializedTd();
      addSeptTables(p, tdr, 0x4000_0000);
      const page = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMemSeptAdd(p.lp0, tdr, 0x4000_0000 + 0x1000, 1, page), withOperand(REF.TDX_EPT_ENTRY_NOT_FREE, OPERAND.RCX));
    });

    it.each([
      ['level 0 (a leaf, not a table)', 0x4000_0000, 0],
      ['level 4 in a 4-level EPT', 0x4000_0000, 4],
      ['a reserved bit (3) in the page info', 0x4000_0008, 3],
      ['a GPA beyond GPAW 48', 2 ** 48, 3],
    ])('should refuse %s with TDX_OPERAND_INVALID|RCX', (_name, gpa, level) => {
      const { p, tdr } = initializedTd();
      const page = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMemSeptAdd(p.lp0, tdr, gpa, level, page), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX));
    });

    it('should accept level 4 in a 5-level EPT (GPAW 52)', () => {
      const { p, tdr } = initializedTd({ gpaw: 52 });
      expect(addSeptTables(p, tdr, 0x4000_0000)).toHaveLength(4);
    });

    it('should refuse a SEPT page in use with TDX_PAGE_METADATA_INCORRECT|R8', () => {
      const { p, tdr } = initializedTd();
      expectRefused(p, () => p.host.tdhMemSeptAdd(p.lp0, tdr, 0x4000_0000, 3, tdr), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.R8));
    });

    it('should refuse a TDR operand that is not a TDR with TDX_PAGE_METADATA_INCORRECT|RDX', () => {
      const { p } = initializedTd();
      const [a, b] = [p.cpu.memory.allocPage(), p.cpu.memory.allocPage()];
      expectRefused(p, () => p.host.tdhMemSeptAdd(p.lp0, a, 0, 3, b), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.RDX));
    });
  });

  describe('TDH.MEM.PAGE.ADD', () => {
    it('should copy the source into a private page the TD reads in plaintext and the host only as ciphertext', () => {
      const { p, tdr } = initializedTd();
      addSeptTables(p, tdr, 0x8000);
      const content = pattern(1);
      const secret = Buffer.from('the TD image secret');
      content.set(secret, 1000);
      const src = sourcePage(p, content);
      const target = p.cpu.memory.allocPage();
      const r = p.host.tdhMemPageAdd(p.lp0, tdr, 0x8000, target, src);
      expect([hex(r.status), r.rcx, r.rdx]).toEqual([hex(REF.TDX_SUCCESS), 0n, 0n]);
      const inTd = new Uint8Array(PAGE);
      p.module.tds.get(tdr)!.memory!.read(0x8000, inTd);
      expect(inTd).toEqual(content);
      const hostView = new Uint8Array(PAGE);
      p.cpu.memory.read(target, hostView, 0);
      expect(hostView).not.toEqual(content);
      expect(Buffer.from(hostView).includes(secret)).toBe(false);
      // The source stays the host's plaintext.
      const srcView = new Uint8Array(PAGE);
      p.cpu.memory.read(src, srcView, 0);
      expect(srcView).toEqual(content);
    });

    it('should refuse a GPA whose SEPT tables are missing with TDX_EPT_WALK_FAILED|RCX', () => {
      const { p, tdr } = initializedTd();
      const src = sourcePage(p, pattern(2));
      const target = p.cpu.memory.allocPage();
      const r = expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0x8000, target, src), withOperand(REF.TDX_EPT_WALK_FAILED, OPERAND.RCX));
      expect(r.rcx).toBe(SEPT_FREE_ENTRY);
      expect(r.rdx & 7n).toBe(3n);
    });

    it('should refuse a GPA mapped already with TDX_EPT_ENTRY_NOT_FREE|RCX, reporting a MAPPED 4 KiB entry', () => {
      const { p, tdr } = initializedTd();
      addPage(p, tdr, 0x8000, pattern(3));
      const src = sourcePage(p, pattern(4));
      const target = p.cpu.memory.allocPage();
      const r = expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0x8000, target, src), withOperand(REF.TDX_EPT_ENTRY_NOT_FREE, OPERAND.RCX));
      expect(r.rdx & 7n).toBe(0n);
      expect((r.rdx >> 8n) & 0xffn).toBe(4n); // MAPPED
    });

    it('should refuse a target page in use with TDX_PAGE_METADATA_INCORRECT|R8 (0xC000030000000008)', () => {
      const { p, tdr } = initializedTd();
      const used = addPage(p, tdr, 0x8000, pattern(5));
      addSeptTables(p, tdr, 0x9000);
      const src = sourcePage(p, pattern(6));
      expect(hex(withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.R8))).toBe('0xc000030000000008');
      expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0x9000, used, src), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.R8));
      expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0x9000, tdr, src), withOperand(REF.TDX_PAGE_METADATA_INCORRECT, OPERAND.R8));
    });

    it.each([
      ['a 2 MiB level', 0x20_0000 | 1],
      ['a shared GPA (bit 47)', 2 ** 47 + 0x8000],
      ['a reserved page-info bit', 0x8000 | 0x10],
    ])('should refuse %s with TDX_OPERAND_INVALID|RCX', (_name, pageInfo) => {
      const { p, tdr } = initializedTd();
      addSeptTables(p, tdr, 0x8000);
      const src = sourcePage(p, pattern(7));
      const target = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, pageInfo, target, src), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX));
    });

    it('should refuse a source that is not page aligned with TDX_OPERAND_INVALID|R9', () => {
      const { p, tdr } = initializedTd();
      addSeptTables(p, tdr, 0x8000);
      const src = sourcePage(p, pattern(8));
      const target = p.cpu.memory.allocPage();
      expectRefused(p, () => p.host.tdhMemPageAdd(p.lp0, tdr, 0x8000, target, src + 8), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.R9));
    });
  });

  describe('TDH.MR.EXTEND', () => {
    it('should refuse a GPA that is not 256-byte aligned with TDX_OPERAND_INVALID|RCX', () => {
      const { p, tdr } = initializedTd();
      addPage(p, tdr, 0x8000, pattern(9));
      expectRefused(p, () => p.host.tdhMrExtend(p.lp0, tdr, 0x8080), withOperand(REF.TDX_OPERAND_INVALID, OPERAND.RCX));
    });

    it('should refuse a GPA with no page behind it with TDX_EPT_ENTRY_FREE|RCX', () => {
      const { p, tdr } = initializedTd();
      addPage(p, tdr, 0x8000, pattern(10));
      expectRefused(p, () => p.host.tdhMrExtend(p.lp0, tdr, 0x9000), withOperand(REF.TDX_EPT_ENTRY_FREE, OPERAND.RCX));
    });

    it('should refuse a GPA whose SEPT tables are missing with TDX_EPT_WALK_FAILED|RCX', () => {
      const { p, tdr } = initializedTd();
      expectRefused(p, () => p.host.tdhMrExtend(p.lp0, tdr, 0x4000_0000), withOperand(REF.TDX_EPT_WALK_FAILED, OPERAND.RCX));
    });

    it('should return RCX = RDX = 0 on success', () => {
      const { p, tdr } = initializedTd();
      addPage(p, tdr, 0x8000, pattern(11));
      const r = p.host.tdhMrExtend(p.lp0, tdr, 0x8f00);
      expect([hex(r.status), r.rcx, r.rdx]).toEqual([hex(REF.TDX_SUCCESS), 0n, 0n]);
    });
  });

  describe('MRTD', () => {
    const image: ImagePage[] = [
      { gpa: 0x0, content: pattern(20), measure: true },
      { gpa: 0x1000, content: pattern(21), measure: false },
      { gpa: 0xff_f000, content: pattern(22), measure: true },
    ];

    /** SHA-384 over the reference blocks for `image` added in order, each measured page fully extended after its add. */
    function expectedMrtd(pages: readonly ImagePage[]): string {
      const h = createHash('sha384');
      for (const pg of pages) {
        h.update(refBlock('MEM.PAGE.ADD', pg.gpa));
        if (pg.measure === true) {
          for (let off = 0; off < PAGE; off += 256) {
            h.update(refBlock('MR.EXTEND', pg.gpa + off));
            const chunk = new Uint8Array(256);
            chunk.set(pg.content.subarray(off, off + 256));
            h.update(chunk);
          }
        }
      }
      return h.digest('hex');
    }

    function mrtdOf(pages: readonly ImagePage[], hkidOffset = 0, skipPages = 0): string {
      const p = bootPlatform();
      for (let i = 0; i < skipPages; i++) p.cpu.memory.allocPage();
      const built = buildTd(p, { pages, hkid: p.module.tdxKeyIdStart + 1 + hkidOffset });
      return Buffer.from(built.td.mrtd).toString('hex');
    }

    it('should be SHA-384 of nothing for a TD without pages', () => {
      expect(mrtdOf([])).toBe(createHash('sha384').digest('hex'));
    });

    it('should equal an independent SHA-384 over the MEM.PAGE.ADD and MR.EXTEND blocks', () => {
      expect(mrtdOf(image)).toBe(expectedMrtd(image));
    });

    it('should follow the exact call order, e.g. extends interleaved with adds', () => {
      const { p, tdr } = initializedTd();
      const a = pattern(30);
      const b = pattern(31);
      addPage(p, tdr, 0x3000, a);
      addPage(p, tdr, 0x5000, b);
      for (const [gpa, off] of [[0x5000, 0x100], [0x3000, 0xf00], [0x5000, 0]] as const) {
        expect(hex(p.host.tdhMrExtend(p.lp0, tdr, gpa + off).status)).toBe(hex(REF.TDX_SUCCESS));
      }
      expect(hex(p.host.tdhMrFinalize(p.lp0, tdr))).toBe(hex(REF.TDX_SUCCESS));
      const h = createHash('sha384');
      h.update(refBlock('MEM.PAGE.ADD', 0x3000));
      h.update(refBlock('MEM.PAGE.ADD', 0x5000));
      h.update(refBlock('MR.EXTEND', 0x5100)).update(b.subarray(0x100, 0x200));
      h.update(refBlock('MR.EXTEND', 0x3f00)).update(a.subarray(0xf00, 0x1000));
      h.update(refBlock('MR.EXTEND', 0x5000)).update(b.subarray(0, 0x100));
      expect(Buffer.from(p.module.tds.get(tdr)!.mrtd).toString('hex')).toBe(h.digest('hex'));
    });

    it('should not depend on host physical addresses or the HKID', () => {
      expect(mrtdOf(image, 3, 17)).toBe(mrtdOf(image));
    });

    it('should change with a measured byte, not with an unmeasured one', () => {
      const base = mrtdOf(image);
      const measuredChanged = image.map((pg, i) => (i === 2 ? { ...pg, content: Uint8Array.from(pg.content, (b, j) => (j === 4095 ? b ^ 1 : b)) } : pg));
      const unmeasuredChanged = image.map((pg, i) => (i === 1 ? { ...pg, content: pattern(99) } : pg));
      expect(mrtdOf(measuredChanged)).not.toBe(base);
      expect(mrtdOf(unmeasuredChanged)).toBe(base);
    });

    it('should change with the GPA of an added page, measured or not', () => {
      const moved = image.map((pg, i) => (i === 1 ? { ...pg, gpa: 0x2000 } : pg));
      expect(mrtdOf(moved)).not.toBe(mrtdOf(image));
    });

    it('should not be changed by a refused TDH.MEM.PAGE.ADD or TDH.MR.EXTEND', () => {
      const { p, tdr } = initializedTd();
      addPage(p, tdr, 0x0, image[0]!.content);
      const src = sourcePage(p, pattern(40));
      const used = p.module.tds.get(tdr)!.sept!.leaves.get(0)!.hpa;
      expect(p.host.tdhMemPageAdd(p.lp0, tdr, 0x1000, used, src).status).not.toBe(REF.TDX_SUCCESS);
      expect(p.host.tdhMrExtend(p.lp0, tdr, 0x80).status).not.toBe(REF.TDX_SUCCESS);
      expect(p.host.tdhMrExtend(p.lp0, tdr, 0x2000).status).not.toBe(REF.TDX_SUCCESS);
      expect(hex(p.host.tdhMrFinalize(p.lp0, tdr))).toBe(hex(REF.TDX_SUCCESS));
      expect(Buffer.from(p.module.tds.get(tdr)!.mrtd).toString('hex')).toBe(expectedMrtd([{ gpa: 0, content: image[0]!.content }]));
    });
  });
});
