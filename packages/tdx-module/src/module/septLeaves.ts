/**
 * Secure-EPT runtime leaves: TDH.MEM.PAGE.AUG (6), TDH.MEM.RANGE.BLOCK (7), TDH.MEM.TRACK (38),
 * TDH.MEM.RANGE.UNBLOCK (39), TDH.MEM.PAGE.REMOVE (29) and TDH.MEM.SEPT.REMOVE (30).
 *
 * Order of checks, statuses and the extended error information (RCX = architectural SEPT entry,
 * RDX = level | state << 8) follow the TDX module 1.5.01 handlers (src/vmm_dispatcher/api_calls/
 * tdh_mem_page_aug.c, tdh_mem_range_block.c, tdh_mem_track.c, tdh_mem_range_unblock.c,
 * tdh_mem_page_remove.c, tdh_mem_sept_remove.c) and the SEPT state table
 * (include/auto_gen/sept_state_lookup.c). Every failure changes nothing.
 * @module
 */
import { type LogicalProcessor, type RegisterFile } from '@seamkit/seam-cpu';
import { PAGE_SIZE, R10, R11, R8, R9, RAX, RCX, RDX } from '@seamkit/seam-cpu/abi';
import { LEAF_VERSION_SHIFT } from '../abi/leaves.js';
import {
  OP_STATE_INITIALIZED, OP_STATE_RUNNABLE, PT_NDA, PT_REG, PT_TDR, SEPT_BLOCKED, SEPT_FREE, SEPT_MAPPED,
  SEPT_NL_BLOCKED, SEPT_NL_MAPPED, SEPT_PENDING, SEPT_PENDING_BLOCKED,
} from '../abi/states.js';
import * as S from '../abi/status.js';
import { decodePageInfo, type PageInfo } from './decodePageInfo.js';
import { SecureEpt, septIsBlocked } from './SecureEpt.js';
import { fail, failSept, setStatus } from './status.js';
import type { Td } from './Td.js';
import type { TdxModule } from './TdxModule.js';

/** OP_STATEs in which the SEPT may change while vCPUs can run (TLB tracking is required). */
function tlbTrackingRequired(td: Td): boolean {
  return td.opState === OP_STATE_RUNNABLE;
}

/**
 * Checks an explicit TDR operand `pa` as `check_lock_and_map_explicit_tdr` does: 4 KiB aligned (else
 * OPERAND_INVALID), inside a TDMR (else OPERAND_ADDR_RANGE_ERROR), a TDR page (else
 * PAGE_METADATA_INCORRECT), all with `operand`. Returns the TD, or undefined after failing.
 */
export function explicitTdr(m: TdxModule, r: RegisterFile, pa: number, operand: bigint): Td | undefined {
  if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0) {
    fail(r, S.TDX_OPERAND_INVALID, operand);
    return undefined;
  }
  if (!m.pamt.covers(pa)) {
    fail(r, S.TDX_OPERAND_ADDR_RANGE_ERROR, operand);
    return undefined;
  }
  const td = m.pamt.typeOf(pa) === PT_TDR ? m.tds.get(pa) : undefined;
  if (td === undefined) fail(r, S.TDX_PAGE_METADATA_INCORRECT, operand);
  return td;
}

/**
 * TDR (in RDX) and TDCS checks of the SEPT and memory leaves: the explicit TDR checks, keys
 * configured, not fatal, TDCS allocated, OP_STATE one of `states` (else TDX_OP_STATE_INCORRECT).
 */
export function tdForSept(m: TdxModule, r: RegisterFile, tdrPa: number, states: readonly number[], operand = S.TDX_OPERAND_ID_RDX): Td | undefined {
  const td = explicitTdr(m, r, tdrPa, operand);
  if (td === undefined) return undefined;
  const bad = m.checkTdcs(td);
  if (bad !== undefined) {
    fail(r, bad);
    return undefined;
  }
  if (!states.includes(td.opState)) {
    fail(r, S.TDX_OP_STATE_INCORRECT, S.TDX_OPERAND_ID_OP_STATE);
    return undefined;
  }
  return td;
}

/**
 * `verify_page_info_input` + `check_gpa_validity(PRIVATE_ONLY)`: reserved bits clear, level in
 * [minLevel, maxLevel], GPA aligned to the level's page size, below the shared bit. Fails with
 * TDX_OPERAND_INVALID (RCX) otherwise.
 */
function pageInfo(r: RegisterFile, raw: bigint, td: Td, minLevel: number, maxLevel: number): PageInfo | undefined {
  const info = decodePageInfo(raw);
  if (
    info === undefined || info.level < minLevel || info.level > maxLevel ||
    info.gpa % 2 ** (12 + 9 * info.level) !== 0 || info.gpa >= 2 ** (td.gpaw - 1)
  ) {
    fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
    return undefined;
  }
  return info;
}

/**
 * Walks the secure EPT to `info.level`; on failure reports TDX_EPT_WALK_FAILED with the FREE
 * entry and the level where the walk stopped. Returns the state of the entry reached, or -1.
 */
function walkTo(r: RegisterFile, sept: SecureEpt, info: PageInfo): number {
  const stopped = sept.walk(info.gpa, info.level);
  if (stopped >= 0) {
    failSept(r, S.TDX_EPT_WALK_FAILED, sept.archEntry(info.gpa, stopped), stopped, SEPT_FREE);
    return -1;
  }
  return sept.entryState(info.gpa, info.level);
}

/** Reports `status` (operand RCX) with the entry at the requested level as extended information. */
function failEntry(r: RegisterFile, status: bigint, sept: SecureEpt, info: PageInfo, state: number): void {
  failSept(r, status, sept.archEntry(info.gpa, info.level), info.level, state);
}

/** The BEPOCH recorded when the entry at `info` was blocked. */
function bepochOf(sept: SecureEpt, info: PageInfo): number {
  if (info.level === 0) return sept.leaves.get(info.gpa / PAGE_SIZE)?.bepoch ?? 0;
  return sept.blockedTables[info.level]!.get(SecureEpt.index(info.gpa, info.level)) ?? 0;
}

/** `is_tlb_tracked`: a TDH.MEM.TRACK ran since the entry was blocked (no vCPU can be in an old epoch here). */
function tracked(td: Td, bepoch: number): boolean {
  return bepoch < td.tdEpoch;
}

/** What a SEPT leaf operates on, after the checks every such leaf makes in the same order. */
interface SeptTarget {
  readonly td: Td;
  readonly sept: SecureEpt;
  readonly info: PageInfo;
  readonly state: number;
}

/**
 * The common front of the SEPT leaves: the TDR/TDCS/OP_STATE checks, the page_info operand
 * (level in [minLevel, maxLevel]; maxLevel -1 = the TD's top SEPT level), and the walk down to
 * that level. Returns the target, or undefined after writing the failing status.
 */
function septTarget(m: TdxModule, r: RegisterFile, raw: bigint, tdrPa: number, minLevel: number, maxLevel: number): SeptTarget | undefined {
  const td = tdForSept(m, r, tdrPa, [OP_STATE_INITIALIZED, OP_STATE_RUNNABLE]);
  if (td === undefined) return undefined;
  const sept = td.sept!;
  const info = pageInfo(r, raw, td, minLevel, maxLevel < 0 ? sept.levels - 1 : maxLevel);
  if (info === undefined) return undefined;
  const state = walkTo(r, sept, info);
  if (state < 0) return undefined;
  return { td, sept, info, state };
}

/**
 * Reads the page-info (RCX) and TDR (RDX) inputs, then clears RCX / RDX: the default outputs,
 * no extended error information.
 */
function inputs(r: RegisterFile): [bigint, number] {
  const info = r.get(RCX);
  const tdr = r.getNumber(RDX);
  r.setHalves(RCX, 0, 0);
  r.setHalves(RDX, 0, 0);
  return [info, tdr];
}

/**
 * TDH.MEM.PAGE.AUG (6): RCX = level | GPA, RDX = TDR PA, R8 = target page PA. Adds a PENDING
 * 4 KiB private page at GPA in an INITIALIZED or RUNNABLE TD; the guest must accept it with
 * TDG.MEM.PAGE.ACCEPT before using it. The page is not cleared here (ACCEPT zeroes it).
 *
 * The model maps private memory at 4 KiB only (as KVM does): level 1 (2 MiB) is refused with
 * TDX_OPERAND_INVALID (RCX), where the real module would add a 2 MiB PENDING leaf.
 */
export function tdhMemPageAug(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const [raw, tdrPa] = inputs(r);
  const t = septTarget(m, r, raw, tdrPa, 0, 0);
  if (t === undefined) return;
  const { td, sept, info, state } = t;
  if (state !== SEPT_FREE) return failEntry(r, S.TDX_EPT_ENTRY_STATE_INCORRECT, sept, info, state);
  const page = r.getNumber(R8);
  const badPage = m.checkFreePage(page, S.TDX_OPERAND_ID_R8);
  if (badPage !== undefined) return fail(r, badPage);
  sept.leaves.set(info.gpa / PAGE_SIZE, { state: SEPT_PENDING, hpa: page });
  m.pamt.set(page, PT_REG, td.tdrPa);
  td.childCount++;
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MEM.RANGE.BLOCK (7): RCX = level | GPA, RDX = TDR PA. Blocks the SEPT entry at `level`
 * (a MAPPED or PENDING leaf, or an NL_MAPPED entry above) so no new translation can use it, and
 * records the TD epoch (BEPOCH) for TLB tracking. An entry already blocked gets the warning
 * TDX_GPA_RANGE_ALREADY_BLOCKED.
 */
export function tdhMemRangeBlock(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const [raw, tdrPa] = inputs(r);
  const t = septTarget(m, r, raw, tdrPa, 0, -1);
  if (t === undefined) return;
  const { td, sept, info, state } = t;
  if (state !== SEPT_MAPPED && state !== SEPT_PENDING && state !== SEPT_NL_MAPPED) {
    return failEntry(r, septIsBlocked(state) ? S.TDX_GPA_RANGE_ALREADY_BLOCKED : S.TDX_EPT_ENTRY_STATE_INCORRECT, sept, info, state);
  }
  if (info.level === 0) {
    const leaf = sept.leaves.get(info.gpa / PAGE_SIZE)!;
    leaf.state = state === SEPT_MAPPED ? SEPT_BLOCKED : SEPT_PENDING_BLOCKED;
    leaf.bepoch = td.tdEpoch;
  } else {
    sept.blockTable(info.gpa, info.level, td.tdEpoch);
  }
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MEM.TRACK (38): RCX = TDR PA. Advances the TD epoch (TDCS.TD_EPOCH); entries blocked
 * before it count as TLB-tracked afterwards. (TDX_PREVIOUS_TLB_EPOCH_BUSY needs a vCPU still
 * running in the previous epoch, which cannot happen while the host runs a SEAMCALL here.)
 */
export function tdhMemTrack(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = tdForSept(m, r, r.getNumber(RCX), [OP_STATE_INITIALIZED, OP_STATE_RUNNABLE], S.TDX_OPERAND_ID_RCX);
  if (td === undefined) return;
  td.tdEpoch++;
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MEM.RANGE.UNBLOCK (39): RCX = level | GPA, RDX = TDR PA. Returns a BLOCKED,
 * PENDING_BLOCKED or NL_BLOCKED entry to MAPPED, PENDING or NL_MAPPED; in a RUNNABLE TD only
 * after TDH.MEM.TRACK (else TDX_TLB_TRACKING_NOT_DONE).
 */
export function tdhMemRangeUnblock(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const [raw, tdrPa] = inputs(r);
  const t = septTarget(m, r, raw, tdrPa, 0, -1);
  if (t === undefined) return;
  const { td, sept, info, state } = t;
  if (state !== SEPT_BLOCKED && state !== SEPT_PENDING_BLOCKED && state !== SEPT_NL_BLOCKED) {
    return failEntry(r, S.TDX_EPT_ENTRY_STATE_INCORRECT, sept, info, state);
  }
  if (tlbTrackingRequired(td) && !tracked(td, bepochOf(sept, info))) return fail(r, S.TDX_TLB_TRACKING_NOT_DONE, S.TDX_OPERAND_ID_RCX);
  if (info.level === 0) {
    const leaf = sept.leaves.get(info.gpa / PAGE_SIZE)!;
    leaf.state = state === SEPT_BLOCKED ? SEPT_MAPPED : SEPT_PENDING;
    delete leaf.bepoch;
  } else {
    sept.unblockTable(info.gpa, info.level);
  }
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MEM.PAGE.REMOVE (29): RCX = level | GPA, RDX = TDR PA. Removes a private page (MAPPED,
 * PENDING or blocked leaf): the entry becomes FREE and the page PT_NDA, still encrypted with the
 * TD's key (the host must TDH.PHYMEM.PAGE.WBINVD it before reuse). In a RUNNABLE TD the entry
 * must be blocked (TDX_GPA_RANGE_NOT_BLOCKED) and TLB-tracked (TDX_TLB_TRACKING_NOT_DONE).
 * On success RCX = the removed page's HPA.
 */
export function tdhMemPageRemove(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const [raw, tdrPa] = inputs(r);
  const t = septTarget(m, r, raw, tdrPa, 0, 2);
  if (t === undefined) return;
  const { td, sept, info, state } = t;
  if (info.level !== 0 || (state !== SEPT_MAPPED && state !== SEPT_BLOCKED && state !== SEPT_PENDING && state !== SEPT_PENDING_BLOCKED)) {
    return failEntry(r, S.TDX_EPT_ENTRY_STATE_INCORRECT, sept, info, state);
  }
  const gfn = info.gpa / PAGE_SIZE;
  const leaf = sept.leaves.get(gfn)!;
  if (tlbTrackingRequired(td)) {
    if (!septIsBlocked(state)) return failEntry(r, S.TDX_GPA_RANGE_NOT_BLOCKED, sept, info, state);
    if (!tracked(td, leaf.bepoch ?? 0)) return fail(r, S.TDX_TLB_TRACKING_NOT_DONE, S.TDX_OPERAND_ID_RCX);
  }
  sept.leaves.delete(gfn);
  m.pamt.set(leaf.hpa, PT_NDA, -1);
  td.childCount--;
  r.setNumber(RCX, leaf.hpa);
  setStatus(r, S.TDX_SUCCESS);
}

/** NULL_PA: what versioned leaves return for L2 SEPT pages that do not exist. */
const NULL_PA_HALF = 0xffff_ffff;

/**
 * TDH.MEM.SEPT.REMOVE (30, versions 0 and 1): RCX = level | GPA (level 1..PWL-1), RDX = TDR PA.
 * Removes the SEPT page the level-`level` entry points to, which must have no entry in use
 * (else TDX_EPT_PAGE_NOT_FREE); in a RUNNABLE TD the entry must be NL_BLOCKED and TLB-tracked.
 * On success RCX = the removed SEPT page's HPA (version 1: R9..R11 = NULL_PA, no L2 VMs).
 */
export function tdhMemSeptRemove(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const [raw, tdrPa] = inputs(r);
  if (((r.lo(RAX) >>> LEAF_VERSION_SHIFT) & 0xff) > 0) {
    for (const reg of [R9, R10, R11]) r.setHalves(reg, NULL_PA_HALF, NULL_PA_HALF);
  }
  const t = septTarget(m, r, raw, tdrPa, 1, -1);
  if (t === undefined) return;
  const { td, sept, info, state } = t;
  if (state !== SEPT_NL_MAPPED && state !== SEPT_NL_BLOCKED) return failEntry(r, S.TDX_EPT_ENTRY_STATE_INCORRECT, sept, info, state);
  if (tlbTrackingRequired(td)) {
    if (state !== SEPT_NL_BLOCKED) return failEntry(r, S.TDX_GPA_RANGE_NOT_BLOCKED, sept, info, state);
    if (!tracked(td, bepochOf(sept, info))) return fail(r, S.TDX_TLB_TRACKING_NOT_DONE, S.TDX_OPERAND_ID_RCX);
  }
  if (!sept.tableIsEmpty(info.gpa, info.level)) return failEntry(r, S.TDX_EPT_PAGE_NOT_FREE, sept, info, state);
  const page = sept.tables[info.level]!.get(SecureEpt.index(info.gpa, info.level))!;
  sept.removeTable(info.gpa, info.level);
  m.pamt.set(page, PT_NDA, -1);
  td.childCount--;
  r.setNumber(RCX, page);
  setStatus(r, S.TDX_SUCCESS);
}
