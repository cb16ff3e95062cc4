import { RAX, RCX, RegisterFile } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { seamcall } from '../host/seamcall.js';
import {
  addSeptTables, bootPlatform, buildTd, createTd, createVcpu, hex, mngCreate, mngInit, moduleSnapshot, onePerPackage, vpInit,
  type BuiltTd, type Platform,
} from '../testing/buildTd.js';
import { CACHE_WB_SUB_BLOCKS, kotEntry } from './teardownLeaves.js';

const PAGE = 4096;
const GPA = 0x4000_0000;

/** Statuses from the reference (tdx-module-abi.md §5.2). */
const REF = {
  SUCCESS: 0n,
  INTERRUPTED_RESUMABLE: 0x8000000300000000n,
  OPERAND_INVALID: 0xc000010000000000n,
  OPERAND_ADDR_RANGE_ERROR: 0xc000010100000000n,
  PAGE_METADATA_INCORRECT: 0xc000030000000000n,
  TD_ASSOCIATED_PAGES_EXIST: 0xc000040000000000n,
  LIFECYCLE_STATE_INCORRECT: 0xc000060700000000n,
  TDCX_NUM_INCORRECT: 0xc000061000000000n,
  VCPU_NOT_ASSOCIATED: 0x8000070200000000n,
  TD_KEYS_NOT_CONFIGURED: 0x8000081000000000n,
  WBCACHE_NOT_COMPLETE: 0x8000081700000000n,
  NO_HKID_READY_TO_WBCACHE: 0x0000082100000000n,
  WBCACHE_RESUME_ERROR: 0xc000082300000000n,
  FLUSHVP_NOT_DONE: 0x8000082400000000n,
  HKID_NOT_FREE: 0xc000082000000000n,
} as const;
const OP = { RCX: 1n } as const;
/** TD life cycle (§6.2) and KOT states. */
const LIFE = { KEYS_CONFIGURED: 1, BLOCKED: 2, TEARDOWN: 3 } as const;
const KOT = { FREE: 0, ASSIGNED: 1, FLUSHED: 2 } as const;
/** PAMT page types (§2.2). */
const PT = { NDA: 0, REG: 3, TDR: 4, TDCX: 5, TDVPR: 6, EPT: 8 } as const;

function refused(p: Platform, fn: () => bigint, status: bigint): void {
  const before = moduleSnapshot(p);
  expect(hex(fn())).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
}

/** Every page the module says the TD owns, TDR excluded. */
function ownedPages(p: Platform, tdr: number): { hpa: number; type: number }[] {
  return [...p.module.pamt.entries()].filter(([hpa, e]) => e.owner === tdr && hpa !== tdr).map(([hpa, e]) => ({ hpa, type: e.type }));
}

/** VP.FLUSH of every vCPU on its LP, VPFLUSHDONE, CACHE.WB on every package, KEY.FREEID. */
function releaseHkid(p: Platform, b: BuiltTd): void {
  b.tdvprs.forEach((tdvpr, i) => expect(hex(p.host.tdhVpFlush(b.vcpuLps[i]!, tdvpr))).toBe(hex(REF.SUCCESS)));
  expect(hex(p.host.tdhMngVpflushdone(p.lp0, b.tdr))).toBe(hex(REF.SUCCESS));
  for (const lp of onePerPackage(p)) expect(hex(p.host.tdhPhymemCacheWb(lp))).toBe(hex(REF.SUCCESS));
  expect(hex(p.host.tdhMngKeyFreeid(p.lp0, b.tdr))).toBe(hex(REF.SUCCESS));
}

function built(vcpus = 2, packages = 1): { p: Platform; b: BuiltTd } {
  const p = bootPlatform({ logicalProcessors: 2, packages });
  const b = buildTd(p, { vcpus, pages: [{ gpa: GPA, content: new Uint8Array([1, 2, 3]) }] });
  return { p, b };
}

describe('teardown leaves', () => {
  it('should run the whole KVM teardown: flush, VPFLUSHDONE, CACHE.WB, FREEID, RECLAIM every page, TDR last, WBINVD', () => {
    const { p, b } = built(2, 2);
    const m = p.module;
    const k = kotEntry(m, b.hkid)!;
    expect(k.state).toBe(KOT.ASSIGNED);
    releaseHkid(p, b);
    expect(b.td.lifecycle).toBe(LIFE.TEARDOWN);
    expect(kotEntry(m, b.hkid)).toEqual({ state: KOT.FREE, wbinvd: 0 });
    const pages = ownedPages(p, b.tdr);
    expect(new Set(pages.map((x) => x.type))).toEqual(new Set([PT.REG, PT.TDCX, PT.TDVPR, PT.EPT]));
    // The TDR cannot go while the TD still owns pages.
    refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, b.tdr).status, REF.TD_ASSOCIATED_PAGES_EXIST);
    for (const { hpa, type } of pages) {
      const r = p.host.tdhPhymemPageReclaim(p.lp0, hpa);
      expect([hex(r.status), r.rcx, r.rdx, r.r8]).toEqual([hex(REF.SUCCESS), BigInt(type), BigInt(b.tdr), 0n]);
      expect(m.pamt.typeOf(hpa)).toBe(PT.NDA);
    }
    const r = p.host.tdhPhymemPageReclaim(p.lp0, b.tdr);
    expect([hex(r.status), r.rcx, r.rdx]).toEqual([hex(REF.SUCCESS), BigInt(PT.TDR), BigInt(b.tdr)]);
    expect(m.tds.has(b.tdr)).toBe(false);
    expect(m.vcpus.size).toBe(0);
    expect(m.pamt.usedPages).toBe(0);
    expect(hex(p.host.tdhPhymemPageWbinvd(p.lp0, m.keyedPa(b.tdr, m.globalHkid)))).toBe(hex(REF.SUCCESS));
    // The HKID can be used by a new TD.
    expect(mngCreate(p, b.hkid).hkid).toBe(b.hkid);
  });

  describe('TDH.VP.FLUSH (18)', () => {
    it('should disassociate the vCPU only on its own LP', () => {
      const { p, b } = built(2);
      const [v0, v1] = b.tdvprs;
      const lp0 = b.vcpuLps[0]!;
      const lp1 = b.vcpuLps[1]!;
      refused(p, () => p.host.tdhVpFlush(lp1, v0!), REF.VCPU_NOT_ASSOCIATED);
      expect(hex(p.host.tdhVpFlush(lp0, v0!))).toBe(hex(REF.SUCCESS));
      expect(p.module.vcpus.get(v0!)!.lp).toBe(-1);
      expect(b.td.numAssocVcpus).toBe(1);
      // Not associated any more: flushing again anywhere fails.
      refused(p, () => p.host.tdhVpFlush(lp0, v0!), REF.VCPU_NOT_ASSOCIATED);
      expect(hex(p.host.tdhVpFlush(lp1, v1!))).toBe(hex(REF.SUCCESS));
      expect(b.td.numAssocVcpus).toBe(0);
    });

    it('should refuse a page that is not a TDVPR (RCX), an incomplete TDVPS and a TD that is not KEYS_CONFIGURED', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      mngInit(p, tdr);
      refused(p, () => p.host.tdhVpFlush(p.lp0, tdr), REF.PAGE_METADATA_INCORRECT + OP.RCX);
      refused(p, () => p.host.tdhVpFlush(p.lp0, tdr + 8), REF.OPERAND_INVALID + OP.RCX);
      const partial = createVcpu(p, tdr, p.lp0, 2);
      refused(p, () => p.host.tdhVpFlush(p.lp0, partial), REF.TDCX_NUM_INCORRECT);
      const full = createVcpu(p, tdr);
      vpInit(p, full);
      p.host.tdhVpFlush(p.lp0, full);
      expect(hex(p.host.tdhMngVpflushdone(p.lp0, tdr))).toBe(hex(REF.SUCCESS));
      refused(p, () => p.host.tdhVpFlush(p.lp0, full), REF.TD_KEYS_NOT_CONFIGURED);
    });
  });

  describe('TDH.MNG.VPFLUSHDONE (19)', () => {
    it('should refuse while a vCPU is associated (TDX_FLUSHVP_NOT_DONE) and block the TD afterwards', () => {
      const { p, b } = built(1);
      refused(p, () => p.host.tdhMngVpflushdone(p.lp0, b.tdr), REF.FLUSHVP_NOT_DONE);
      p.host.tdhVpFlush(b.vcpuLps[0]!, b.tdvprs[0]!);
      expect(hex(p.host.tdhMngVpflushdone(p.lp0, b.tdr))).toBe(hex(REF.SUCCESS));
      expect(b.td.lifecycle).toBe(LIFE.BLOCKED);
      expect(kotEntry(p.module, b.hkid)).toEqual({ state: KOT.FLUSHED, wbinvd: 1 });
      refused(p, () => p.host.tdhMngVpflushdone(p.lp0, b.tdr), REF.LIFECYCLE_STATE_INCORRECT);
      // A blocked TD runs no more SEPT leaves.
      const page = p.cpu.memory.allocPage();
      const before = moduleSnapshot(p);
      expect(hex(p.host.tdhMemPageAug(p.lp0, b.tdr, GPA + PAGE, page).status)).toBe(hex(REF.TD_KEYS_NOT_CONFIGURED));
      expect(moduleSnapshot(p)).toEqual(before);
    });

    it('should work in HKID_ASSIGNED (a TD whose keys were never configured) and refuse a bad TDR', () => {
      const p = bootPlatform();
      const { tdr, hkid } = mngCreate(p);
      refused(p, () => p.host.tdhMngVpflushdone(p.lp0, tdr + PAGE), REF.PAGE_METADATA_INCORRECT + OP.RCX);
      expect(hex(p.host.tdhMngVpflushdone(p.lp0, tdr))).toBe(hex(REF.SUCCESS));
      expect(kotEntry(p.module, hkid)!.state).toBe(KOT.FLUSHED);
      // The HKID is not free until TDH.MNG.KEY.FREEID.
      refused(p, () => p.host.tdhMngCreate(p.lp0, p.cpu.memory.allocPage(), hkid), REF.HKID_NOT_FREE);
    });
  });

  describe('TDH.PHYMEM.CACHE.WB (40) and TDH.MNG.KEY.FREEID (20)', () => {
    it('should need CACHE.WB on every package before FREEID (TDX_WBCACHE_NOT_COMPLETE)', () => {
      const { p, b } = built(1, 2);
      p.host.tdhVpFlush(b.vcpuLps[0]!, b.tdvprs[0]!);
      p.host.tdhMngVpflushdone(p.lp0, b.tdr);
      const [pkg0, pkg1] = onePerPackage(p);
      expect(kotEntry(p.module, b.hkid)!.wbinvd).toBe(0b11);
      expect(hex(p.host.tdhPhymemCacheWb(pkg0!))).toBe(hex(REF.SUCCESS));
      expect(kotEntry(p.module, b.hkid)!.wbinvd).toBe(0b10);
      refused(p, () => p.host.tdhMngKeyFreeid(p.lp0, b.tdr), REF.WBCACHE_NOT_COMPLETE);
      expect(hex(p.host.tdhPhymemCacheWb(pkg1!))).toBe(hex(REF.SUCCESS));
      expect(hex(p.host.tdhMngKeyFreeid(p.lp0, b.tdr))).toBe(hex(REF.SUCCESS));
      refused(p, () => p.host.tdhMngKeyFreeid(p.lp0, b.tdr), REF.LIFECYCLE_STATE_INCORRECT);
    });

    it('should refuse FREEID of a TD that is not BLOCKED and answer CACHE.WB with no flushed HKID with a warning', () => {
      const { p, b } = built(1);
      refused(p, () => p.host.tdhMngKeyFreeid(p.lp0, b.tdr), REF.LIFECYCLE_STATE_INCORRECT);
      refused(p, () => p.host.tdhPhymemCacheWb(p.lp0), REF.NO_HKID_READY_TO_WBCACHE);
      refused(p, () => p.host.tdhPhymemCacheWb(p.lp0, true), REF.WBCACHE_RESUME_ERROR);
    });

    it('should refuse a command other than 0 / 1 with TDX_OPERAND_INVALID|RCX', () => {
      const { p } = built(1);
      const before = moduleSnapshot(p);
      const args = new RegisterFile();
      args.set(RCX, 2n);
      const status = seamcall(p.lp0, 40, args);
      expect(hex(status)).toBe(hex(REF.OPERAND_INVALID + OP.RCX));
      expect(moduleSnapshot(p)).toEqual(before);
    });

    it('should stop with TDX_INTERRUPTED_RESUMABLE when a host interrupt is pending and finish on resume', () => {
      const { p, b } = built(1);
      p.host.tdhVpFlush(b.vcpuLps[0]!, b.tdvprs[0]!);
      p.host.tdhMngVpflushdone(p.lp0, b.tdr);
      let interrupts = 2;
      p.module.testHooks = { hostInterruptPending: () => interrupts-- > 0 };
      expect(hex(p.host.tdhPhymemCacheWb(p.lp0))).toBe(hex(REF.INTERRUPTED_RESUMABLE));
      expect(p.module.cacheWb[0]!.intrPoint).toBe(1);
      expect(kotEntry(p.module, b.hkid)!.wbinvd).toBe(1);
      expect(hex(p.host.tdhPhymemCacheWb(p.lp0, true))).toBe(hex(REF.INTERRUPTED_RESUMABLE));
      expect(hex(p.host.tdhPhymemCacheWb(p.lp0, true))).toBe(hex(REF.SUCCESS));
      expect(p.module.cacheWb[0]!.intrPoint).toBe(0);
      expect(kotEntry(p.module, b.hkid)!.wbinvd).toBe(0);
      expect(CACHE_WB_SUB_BLOCKS).toBeGreaterThan(2);
    });
  });

  describe('TDH.PHYMEM.PAGE.RECLAIM (28) and TDH.PHYMEM.PAGE.WBINVD (41)', () => {
    it('should refuse to reclaim a page of a live TD (TDX_LIFECYCLE_STATE_INCORRECT) but report its type and owner', () => {
      const { p, b } = built(1);
      const hpa = b.pageHpa.get(GPA)!;
      const before = moduleSnapshot(p);
      const r = p.host.tdhPhymemPageReclaim(p.lp0, hpa);
      expect([hex(r.status), r.rcx, r.rdx, r.r8]).toEqual([hex(REF.LIFECYCLE_STATE_INCORRECT), BigInt(PT.REG), BigInt(b.tdr), 0n]);
      expect(moduleSnapshot(p)).toEqual(before);
      refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, b.tdr).status, REF.LIFECYCLE_STATE_INCORRECT);
    });

    it('should refuse a free page, a misaligned or keyed address and one outside every TDMR with their RCX statuses', () => {
      const { p } = built(1);
      const free = p.cpu.memory.allocPage();
      refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, free).status, REF.PAGE_METADATA_INCORRECT + OP.RCX);
      refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, free + 64).status, REF.OPERAND_INVALID + OP.RCX);
      refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, free + 2 ** p.module.physAddrBits).status, REF.OPERAND_INVALID + OP.RCX);
      refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, p.cpu.memory.size + PAGE).status, REF.OPERAND_ADDR_RANGE_ERROR + OP.RCX);
    });

    it('should WBINVD only free pages (TDX_PAGE_METADATA_INCORRECT|RCX for a TD page)', () => {
      const { p, b } = built(1);
      const m = p.module;
      refused(p, () => p.host.tdhPhymemPageWbinvd(p.lp0, m.keyedPa(b.pageHpa.get(GPA)!, b.hkid)), REF.PAGE_METADATA_INCORRECT + OP.RCX);
      refused(p, () => p.host.tdhPhymemPageWbinvd(p.lp0, m.keyedPa(4097, b.hkid)), REF.OPERAND_INVALID + OP.RCX);
      const free = p.cpu.memory.allocPage();
      expect(hex(p.host.tdhPhymemPageWbinvd(p.lp0, m.keyedPa(free, b.hkid)))).toBe(hex(REF.SUCCESS));
    });

    it('should let a torn-down TD be reclaimed in any order of its child pages, TDR last', () => {
      const { p, b } = built(1);
      addSeptTables(p, b.tdr, 0x8000_0000);
      releaseHkid(p, b);
      const pages = ownedPages(p, b.tdr).reverse();
      for (const { hpa } of pages) expect(hex(p.host.tdhPhymemPageReclaim(p.lp0, hpa).status)).toBe(hex(REF.SUCCESS));
      expect(b.td.childCount).toBe(0);
      expect(hex(p.host.tdhPhymemPageReclaim(p.lp0, b.tdr).status)).toBe(hex(REF.SUCCESS));
      refused(p, () => p.host.tdhPhymemPageReclaim(p.lp0, b.tdr).status, REF.PAGE_METADATA_INCORRECT + OP.RCX);
    });

    it('should refuse TDH.VP.ENTER on a reclaimed TDVPR with PAGE_METADATA_INCORRECT|RCX, even right after entering it', () => {
      const { p, b } = built(1);
      const args = new RegisterFile();
      // The module remembers the vCPU it entered last; reclaiming the TDVPR must forget it.
      p.host.tdhVpEnter(b.vcpuLps[0]!, b.tdvprs[0]!, args);
      releaseHkid(p, b);
      expect(hex(p.host.tdhPhymemPageReclaim(p.lp0, b.tdvprs[0]!).status)).toBe(hex(REF.SUCCESS));
      p.host.tdhVpEnter(b.vcpuLps[0]!, b.tdvprs[0]!, args);
      expect(hex(args.get(RAX))).toBe(hex(REF.PAGE_METADATA_INCORRECT + OP.RCX));
    });
  });
});
