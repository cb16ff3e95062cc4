import { RCX, RDX, R9, R10, R11, RegisterFile } from '@seamkit/seam-cpu';
import { describe, expect, it } from 'vitest';
import { seamcallRet } from '../host/seamcall.js';
import type { SeamcallResult } from '../host/TdxHost.js';
import {
  addPage, addSeptTables, bootPlatform, buildTd, createTd, createVcpu, hex, mngCreate, mngInit, moduleSnapshot, vpInit,
  type Platform,
} from '../testing/buildTd.js';

const PAGE = 4096;
const GPA = 0x4000_0000;

/** Statuses from the reference (tdx-module-abi.md §5.2, plus TDX_EPT_PAGE_NOT_FREE from the 1.5.01 error table). */
const REF = {
  SUCCESS: 0n,
  OPERAND_INVALID: 0xc000010000000000n,
  OPERAND_ADDR_RANGE_ERROR: 0xc000010100000000n,
  PAGE_METADATA_INCORRECT: 0xc000030000000000n,
  TD_KEYS_NOT_CONFIGURED: 0x8000081000000000n,
  OP_STATE_INCORRECT: 0xc000060800000000n,
  EPT_WALK_FAILED: 0xc0000b0000000000n,
  GPA_RANGE_NOT_BLOCKED: 0xc0000b0600000000n,
  GPA_RANGE_ALREADY_BLOCKED: 0x00000b0700000000n,
  TLB_TRACKING_NOT_DONE: 0xc0000b0800000000n,
  EPT_ENTRY_STATE_INCORRECT: 0xc0000b0d00000000n,
  EPT_PAGE_NOT_FREE: 0xc0000b0e00000000n,
} as const;
/** Operand ids (§5.3). */
const OP = { RCX: 1n, RDX: 2n, R8: 8n, OP_STATE: 172n } as const;
/** SEPT entry states (§6.6). */
const SEPT = { FREE: 0, BLOCKED: 1, PENDING: 2, PENDING_BLOCKED: 3, MAPPED: 4, NL_BLOCKED: 0x81, NL_MAPPED: 0x84 } as const;
/** PAMT page types (§2.2). */
const PT = { NDA: 0, REG: 3, EPT: 8 } as const;
const FREE_ENTRY = 1n << 63n;

/** Runs `fn`, expects `status`, and checks that the module state did not change. */
function refused(p: Platform, fn: () => SeamcallResult, status: bigint): SeamcallResult {
  const before = moduleSnapshot(p);
  const r = fn();
  expect(hex(r.status)).toBe(hex(status));
  expect(moduleSnapshot(p)).toEqual(before);
  return r;
}

/** RDX of the extended error information: level | state << 8. */
const levelState = (level: number, state: number): bigint => BigInt(level | (state << 8));

function runnable(): { p: Platform; tdr: number } {
  const p = bootPlatform();
  const { tdr } = buildTd(p);
  return { p, tdr };
}

function initialized(): { p: Platform; tdr: number } {
  const p = bootPlatform();
  const { tdr } = createTd(p);
  mngInit(p, tdr);
  vpInit(p, createVcpu(p, tdr));
  return { p, tdr };
}

function aug(p: Platform, tdr: number, gpa = GPA): number {
  addSeptTables(p, tdr, gpa);
  const page = p.cpu.memory.allocPage();
  expect(hex(p.host.tdhMemPageAug(p.lp0, tdr, gpa, page).status)).toBe(hex(REF.SUCCESS));
  return page;
}

const td = (p: Platform, tdr: number) => p.module.tds.get(tdr)!;
const leaf = (p: Platform, tdr: number, gpa = GPA) => td(p, tdr).sept!.leaves.get(gpa / PAGE);

describe('secure-EPT leaves', () => {
  describe.each([
    ['TDH.MEM.PAGE.AUG', (p: Platform, tdr: number) => p.host.tdhMemPageAug(p.lp0, tdr, GPA, p.cpu.memory.allocPage()).status, OP.RDX],
    ['TDH.MEM.RANGE.BLOCK', (p: Platform, tdr: number) => p.host.tdhMemRangeBlock(p.lp0, tdr, GPA).status, OP.RDX],
    ['TDH.MEM.TRACK', (p: Platform, tdr: number) => p.host.tdhMemTrack(p.lp0, tdr), OP.RCX],
    ['TDH.MEM.RANGE.UNBLOCK', (p: Platform, tdr: number) => p.host.tdhMemRangeUnblock(p.lp0, tdr, GPA).status, OP.RDX],
    ['TDH.MEM.PAGE.REMOVE', (p: Platform, tdr: number) => p.host.tdhMemPageRemove(p.lp0, tdr, GPA).status, OP.RDX],
    ['TDH.MEM.SEPT.REMOVE', (p: Platform, tdr: number) => p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 1).status, OP.RDX],
  ])('%s in the wrong state or with a bad TDR', (_name, call, tdrOperand) => {
    it('should refuse a TD before TDH.MNG.INIT with TDX_OP_STATE_INCORRECT (OP_STATE)', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      refused(p, () => ({ status: call(p, tdr) } as SeamcallResult), REF.OP_STATE_INCORRECT + OP.OP_STATE);
    });

    it('should refuse a TD whose HKID is being released (TD_BLOCKED) with TDX_TD_KEYS_NOT_CONFIGURED', () => {
      const p = bootPlatform();
      const b = buildTd(p);
      p.host.tdhVpFlush(b.vcpuLps[0]!, b.tdvprs[0]!);
      p.host.tdhMngVpflushdone(p.lp0, b.tdr);
      refused(p, () => ({ status: call(p, b.tdr) } as SeamcallResult), REF.TD_KEYS_NOT_CONFIGURED);
    });

    it('should refuse a page that is not a TDR with TDX_PAGE_METADATA_INCORRECT on its operand', () => {
      const { p } = runnable();
      const page = p.cpu.memory.allocPage();
      refused(p, () => ({ status: call(p, page) } as SeamcallResult), REF.PAGE_METADATA_INCORRECT + tdrOperand);
    });
  });

  describe('TDH.MEM.PAGE.AUG (6)', () => {
    it('should add a PENDING private page owned by the TD, in RUNNABLE and INITIALIZED TDs', () => {
      for (const { p, tdr } of [runnable(), initialized()]) {
        addSeptTables(p, tdr, GPA);
        const page = p.cpu.memory.allocPage();
        const children = td(p, tdr).childCount;
        const r = p.host.tdhMemPageAug(p.lp0, tdr, GPA, page);
        expect([hex(r.status), r.rcx, r.rdx]).toEqual([hex(REF.SUCCESS), 0n, 0n]);
        expect(leaf(p, tdr)).toEqual({ state: SEPT.PENDING, hpa: page });
        expect([p.module.pamt.typeOf(page), p.module.pamt.ownerOf(page)]).toEqual([PT.REG, tdr]);
        expect(td(p, tdr).childCount).toBe(children + 1);
        // Not accepted yet: the guest cannot translate it.
        expect(td(p, tdr).sept!.translate(GPA / PAGE)).toBe(-1);
      }
    });

    it('should refuse a TD before TDH.MNG.INIT with TDX_OP_STATE_INCORRECT and one without keys with TDX_TD_KEYS_NOT_CONFIGURED', () => {
      const p = bootPlatform();
      const { tdr } = createTd(p);
      const page = p.cpu.memory.allocPage();
      refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, GPA, page), REF.OP_STATE_INCORRECT + OP.OP_STATE);
      const bare = mngCreate(p);
      refused(p, () => p.host.tdhMemPageAug(p.lp0, bare.tdr, GPA, page), REF.TD_KEYS_NOT_CONFIGURED);
    });

    it('should refuse a bad TDR operand with its RDX status', () => {
      const { p } = runnable();
      const page = p.cpu.memory.allocPage();
      refused(p, () => p.host.tdhMemPageAug(p.lp0, page, GPA, page), REF.PAGE_METADATA_INCORRECT + OP.RDX);
      refused(p, () => p.host.tdhMemPageAug(p.lp0, page + 8, GPA, page), REF.OPERAND_INVALID + OP.RDX);
      refused(p, () => p.host.tdhMemPageAug(p.lp0, p.cpu.memory.size + PAGE, GPA, page), REF.OPERAND_ADDR_RANGE_ERROR + OP.RDX);
    });

    it.each([
      ['a reserved bit in RCX', GPA | 0x8, 0],
      ['a misaligned GPA', GPA + 0x800, 0],
      ['a shared GPA (bit 47)', GPA + 2 ** 47, 0],
      ['level 2', GPA, 2],
      ['level 1 (2 MiB private pages are not modelled)', GPA, 1],
    ])('should refuse %s with TDX_OPERAND_INVALID|RCX', (_what, gpa, level) => {
      const { p, tdr } = runnable();
      addSeptTables(p, tdr, GPA);
      const page = p.cpu.memory.allocPage();
      refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, gpa, page, level), REF.OPERAND_INVALID + OP.RCX);
    });

    it('should refuse a GPA without SEPT tables with TDX_EPT_WALK_FAILED|RCX, RCX = free entry, RDX = level 3', () => {
      const { p, tdr } = runnable();
      const page = p.cpu.memory.allocPage();
      const r = refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, GPA, page), REF.EPT_WALK_FAILED + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([FREE_ENTRY, levelState(3, SEPT.FREE)]);
    });

    it('should refuse an entry that is not FREE with TDX_EPT_ENTRY_STATE_INCORRECT|RCX and the entry in RCX/RDX', () => {
      const { p, tdr } = runnable();
      const first = aug(p, tdr);
      const page = p.cpu.memory.allocPage();
      const r = refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, GPA, page), REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([BigInt(first), levelState(0, SEPT.PENDING)]);
    });

    it('should refuse a target page that is not free or not aligned with its R8 status', () => {
      const { p, tdr } = runnable();
      const used = aug(p, tdr, GPA);
      refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, GPA + PAGE, used), REF.PAGE_METADATA_INCORRECT + OP.R8);
      refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, GPA + PAGE, used + 1), REF.OPERAND_INVALID + OP.R8);
      refused(p, () => p.host.tdhMemPageAug(p.lp0, tdr, GPA + PAGE, p.cpu.memory.size + PAGE), REF.OPERAND_ADDR_RANGE_ERROR + OP.R8);
    });
  });

  describe('TDH.MEM.RANGE.BLOCK (7), TDH.MEM.TRACK (38), TDH.MEM.RANGE.UNBLOCK (39)', () => {
    it('should block MAPPED, PENDING and non-leaf entries, recording the TD epoch', () => {
      const p = bootPlatform();
      const built = buildTd(p, { pages: [{ gpa: GPA, content: new Uint8Array([1, 2, 3]) }] });
      const tdr = built.tdr;
      aug(p, tdr, GPA + PAGE);
      const t = td(p, tdr);
      const epoch = t.tdEpoch;
      expect(hex(p.host.tdhMemRangeBlock(p.lp0, tdr, GPA).status)).toBe(hex(REF.SUCCESS));
      expect(hex(p.host.tdhMemRangeBlock(p.lp0, tdr, GPA + PAGE).status)).toBe(hex(REF.SUCCESS));
      expect(leaf(p, tdr)).toMatchObject({ state: SEPT.BLOCKED, bepoch: epoch });
      expect(leaf(p, tdr, GPA + PAGE)).toMatchObject({ state: SEPT.PENDING_BLOCKED, bepoch: epoch });
      expect(t.sept!.translate(GPA / PAGE)).toBe(-1);
      // A FREE leaf cannot be blocked; a non-leaf entry (level 2) can.
      expect(hex(p.host.tdhMemRangeBlock(p.lp0, tdr, GPA + 2 * PAGE, 0).status)).toBe(hex(REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX));
      expect(hex(p.host.tdhMemRangeBlock(p.lp0, tdr, GPA, 2).status)).toBe(hex(REF.SUCCESS));
      expect(t.sept!.entryState(GPA, 2)).toBe(SEPT.NL_BLOCKED);
    });

    it('should answer a blocked entry with the warning TDX_GPA_RANGE_ALREADY_BLOCKED|RCX and the entry, changing nothing', () => {
      const { p, tdr } = runnable();
      const page = aug(p, tdr);
      p.host.tdhMemRangeBlock(p.lp0, tdr, GPA);
      const r = refused(p, () => p.host.tdhMemRangeBlock(p.lp0, tdr, GPA), REF.GPA_RANGE_ALREADY_BLOCKED + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([BigInt(page), levelState(0, SEPT.PENDING_BLOCKED)]);
    });

    it('should refuse a FREE entry, a missing table and a level above the root with their statuses', () => {
      const { p, tdr } = runnable();
      addSeptTables(p, tdr, GPA);
      let r = refused(p, () => p.host.tdhMemRangeBlock(p.lp0, tdr, GPA), REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([FREE_ENTRY, levelState(0, SEPT.FREE)]);
      r = refused(p, () => p.host.tdhMemRangeBlock(p.lp0, tdr, 2 ** 40), REF.EPT_WALK_FAILED + OP.RCX);
      expect(r.rdx).toBe(levelState(3, SEPT.FREE));
      refused(p, () => p.host.tdhMemRangeBlock(p.lp0, tdr, 0, 4), REF.OPERAND_INVALID + OP.RCX);
    });

    it('should advance TD_EPOCH with TDH.MEM.TRACK and refuse a bad TDR (RCX) or an uninitialized TD', () => {
      const { p, tdr } = runnable();
      const before = td(p, tdr).tdEpoch;
      expect(hex(p.host.tdhMemTrack(p.lp0, tdr))).toBe(hex(REF.SUCCESS));
      expect(td(p, tdr).tdEpoch).toBe(before + 1);
      const snap = moduleSnapshot(p);
      expect(hex(p.host.tdhMemTrack(p.lp0, tdr + PAGE * 100))).toBe(hex(REF.PAGE_METADATA_INCORRECT + OP.RCX));
      expect(moduleSnapshot(p)).toEqual(snap);
      const { tdr: fresh } = createTd(p);
      const snap2 = moduleSnapshot(p);
      expect(hex(p.host.tdhMemTrack(p.lp0, fresh))).toBe(hex(REF.OP_STATE_INCORRECT + OP.OP_STATE));
      expect(moduleSnapshot(p)).toEqual(snap2);
    });

    it('should unblock in a RUNNABLE TD only after TDH.MEM.TRACK (TDX_TLB_TRACKING_NOT_DONE|RCX before)', () => {
      const p = bootPlatform();
      const { tdr } = buildTd(p, { pages: [{ gpa: GPA, content: new Uint8Array([9]) }] });
      p.host.tdhMemRangeBlock(p.lp0, tdr, GPA);
      refused(p, () => p.host.tdhMemRangeUnblock(p.lp0, tdr, GPA), REF.TLB_TRACKING_NOT_DONE + OP.RCX);
      p.host.tdhMemTrack(p.lp0, tdr);
      expect(hex(p.host.tdhMemRangeUnblock(p.lp0, tdr, GPA).status)).toBe(hex(REF.SUCCESS));
      expect(leaf(p, tdr)?.state).toBe(SEPT.MAPPED);
      expect(td(p, tdr).sept!.translate(GPA / PAGE)).toBeGreaterThan(0);
      const r = refused(p, () => p.host.tdhMemRangeUnblock(p.lp0, tdr, GPA), REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX);
      expect(r.rdx).toBe(levelState(0, SEPT.MAPPED));
    });

    it('should unblock without tracking in an INITIALIZED TD (no vCPU can run yet)', () => {
      const { p, tdr } = initialized();
      addPage(p, tdr, GPA, new Uint8Array([1]));
      p.host.tdhMemRangeBlock(p.lp0, tdr, GPA);
      expect(hex(p.host.tdhMemRangeUnblock(p.lp0, tdr, GPA).status)).toBe(hex(REF.SUCCESS));
    });

    it('should hide a page under a blocked non-leaf entry from the guest until it is unblocked', () => {
      const p = bootPlatform();
      const { tdr } = buildTd(p, { pages: [{ gpa: GPA, content: new Uint8Array([7]) }] });
      const sept = td(p, tdr).sept!;
      expect(sept.translate(GPA / PAGE)).toBeGreaterThan(0);
      p.host.tdhMemRangeBlock(p.lp0, tdr, GPA, 1);
      expect(sept.translate(GPA / PAGE)).toBe(-1);
      p.host.tdhMemTrack(p.lp0, tdr);
      p.host.tdhMemRangeUnblock(p.lp0, tdr, GPA, 1);
      expect(sept.translate(GPA / PAGE)).toBeGreaterThan(0);
    });
  });

  describe('TDH.MEM.PAGE.REMOVE (29)', () => {
    it('should remove a blocked, tracked page of a RUNNABLE TD: RCX = HPA, page PT_NDA, child count down', () => {
      const p = bootPlatform();
      const { tdr, pageHpa } = buildTd(p, { pages: [{ gpa: GPA, content: new Uint8Array([5]) }] });
      const hpa = pageHpa.get(GPA)!;
      const children = td(p, tdr).childCount;
      let r = refused(p, () => p.host.tdhMemPageRemove(p.lp0, tdr, GPA), REF.GPA_RANGE_NOT_BLOCKED + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([BigInt(hpa) | 7n, levelState(0, SEPT.MAPPED)]);
      p.host.tdhMemRangeBlock(p.lp0, tdr, GPA);
      r = refused(p, () => p.host.tdhMemPageRemove(p.lp0, tdr, GPA), REF.TLB_TRACKING_NOT_DONE + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([0n, 0n]);
      p.host.tdhMemTrack(p.lp0, tdr);
      r = p.host.tdhMemPageRemove(p.lp0, tdr, GPA);
      expect([hex(r.status), r.rcx, r.rdx]).toEqual([hex(REF.SUCCESS), BigInt(hpa), 0n]);
      expect(leaf(p, tdr)).toBeUndefined();
      expect(p.module.pamt.typeOf(hpa)).toBe(PT.NDA);
      expect(td(p, tdr).childCount).toBe(children - 1);
    });

    it('should remove a MAPPED or PENDING page of an INITIALIZED TD without blocking', () => {
      const { p, tdr } = initialized();
      const hpa = addPage(p, tdr, GPA, new Uint8Array([1]));
      aug(p, tdr, GPA + PAGE);
      expect(hex(p.host.tdhMemPageRemove(p.lp0, tdr, GPA).status)).toBe(hex(REF.SUCCESS));
      expect(hex(p.host.tdhMemPageRemove(p.lp0, tdr, GPA + PAGE).status)).toBe(hex(REF.SUCCESS));
      expect(p.module.pamt.typeOf(hpa)).toBe(PT.NDA);
    });

    it('should refuse a FREE entry, a non-leaf level and a missing table with their statuses', () => {
      const { p, tdr } = runnable();
      addSeptTables(p, tdr, GPA);
      let r = refused(p, () => p.host.tdhMemPageRemove(p.lp0, tdr, GPA), REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX);
      expect(r.rdx).toBe(levelState(0, SEPT.FREE));
      r = refused(p, () => p.host.tdhMemPageRemove(p.lp0, tdr, GPA & ~0x1f_ffff, 1), REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX);
      expect(r.rdx).toBe(levelState(1, SEPT.NL_MAPPED));
      refused(p, () => p.host.tdhMemPageRemove(p.lp0, tdr, 2 ** 41), REF.EPT_WALK_FAILED + OP.RCX);
      refused(p, () => p.host.tdhMemPageRemove(p.lp0, tdr, GPA, 3), REF.OPERAND_INVALID + OP.RCX);
    });
  });

  describe('TDH.MEM.SEPT.REMOVE (30)', () => {
    it('should remove an empty SEPT page: RCX = its HPA, PAMT PT_NDA; refuse one with entries (TDX_EPT_PAGE_NOT_FREE)', () => {
      const { p, tdr } = initialized();
      const [, , pt] = addSeptTables(p, tdr, GPA);
      addPage(p, tdr, GPA, new Uint8Array([1]));
      const r = refused(p, () => p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 1), REF.EPT_PAGE_NOT_FREE + OP.RCX);
      expect([r.rcx, r.rdx]).toEqual([BigInt(pt!) | 7n, levelState(1, SEPT.NL_MAPPED)]);
      p.host.tdhMemPageRemove(p.lp0, tdr, GPA);
      const ok = p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 1);
      expect([hex(ok.status), ok.rcx]).toEqual([hex(REF.SUCCESS), BigInt(pt!)]);
      expect(p.module.pamt.typeOf(pt!)).toBe(PT.NDA);
      expect(td(p, tdr).sept!.entryState(GPA, 1)).toBe(SEPT.FREE);
    });

    it('should need NL_BLOCKED and TDH.MEM.TRACK in a RUNNABLE TD', () => {
      const { p, tdr } = runnable();
      addSeptTables(p, tdr, GPA);
      refused(p, () => p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 1), REF.GPA_RANGE_NOT_BLOCKED + OP.RCX);
      p.host.tdhMemRangeBlock(p.lp0, tdr, GPA, 1);
      refused(p, () => p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 1), REF.TLB_TRACKING_NOT_DONE + OP.RCX);
      p.host.tdhMemTrack(p.lp0, tdr);
      expect(hex(p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 1).status)).toBe(hex(REF.SUCCESS));
    });

    it('should refuse level 0 (TDX_OPERAND_INVALID|RCX) and a FREE entry (TDX_EPT_ENTRY_STATE_INCORRECT|RCX)', () => {
      const { p, tdr } = initialized();
      addSeptTables(p, tdr, GPA);
      refused(p, () => p.host.tdhMemSeptRemove(p.lp0, tdr, GPA, 0), REF.OPERAND_INVALID + OP.RCX);
      refused(p, () => p.host.tdhMemSeptRemove(p.lp0, tdr, GPA + 0x20_0000, 1), REF.EPT_ENTRY_STATE_INCORRECT + OP.RCX);
    });

    it('should return NULL_PA in R9..R11 for version 1', () => {
      const { p, tdr } = initialized();
      const [, , pt] = addSeptTables(p, tdr, GPA);
      const args = new RegisterFile();
      args.set(RCX, BigInt(GPA) | 1n);
      args.set(RDX, BigInt(tdr));
      const status = seamcallRet(p.lp0, 30 | (1 << 16), args);
      expect(hex(status)).toBe(hex(REF.SUCCESS));
      expect(args.get(RCX)).toBe(BigInt(pt!));
      for (const reg of [R9, R10, R11]) expect(args.get(reg)).toBe(0xffff_ffff_ffff_ffffn);
    });
  });
});
