/**
 * TD teardown leaves: TDH.VP.FLUSH (18), TDH.MNG.VPFLUSHDONE (19), TDH.PHYMEM.CACHE.WB (40),
 * TDH.MNG.KEY.FREEID (20), TDH.PHYMEM.PAGE.RECLAIM (28) and TDH.PHYMEM.PAGE.WBINVD (41).
 *
 * The life cycle they drive (TDR.LIFECYCLE_STATE and the KOT entry of the TD's HKID):
 * KEYS_CONFIGURED --VPFLUSHDONE (no vCPU associated)--> BLOCKED / HKID_FLUSHED --CACHE.WB on
 * every package, KEY.FREEID--> TEARDOWN / HKID_FREE; then RECLAIM returns every TD page to
 * PT_NDA, the TDR last. Checks and statuses follow the TDX module 1.5.01 handlers
 * (src/vmm_dispatcher/api_calls/tdh_vp_flush.c, tdh_mng_vpflushdone.c, tdh_phymem_cache_wb.c,
 * tdh_mng_key_freeid.c, tdh_phymem_page_reclaim.c, tdh_phymem_page_wbinvd.c). Failures change
 * nothing, except that an interrupted TDH.PHYMEM.CACHE.WB keeps its resume point, as in the module.
 * @module
 */
import { type LogicalProcessor } from '@seamkit/seam-cpu';
import { PAGE_SIZE, R10, R11, R8, R9, RCX, RDX } from '@seamkit/seam-cpu/abi';
import {
  HKID_FLUSHED, HKID_FREE, OP_STATE_UNINITIALIZED, PT_EPT, PT_NDA, PT_REG, PT_RSVD, PT_TDCX, PT_TDR, PT_TDVPR,
  TD_BLOCKED, TD_HKID_ASSIGNED, TD_KEYS_CONFIGURED, TD_TEARDOWN,
} from '../abi/states.js';
import * as S from '../abi/status.js';
import { TDCS_PAGES, TDVPS_PAGES } from '../abi/structures.js';
import { explicitTdr } from './septLeaves.js';
import { fail, setStatus } from './status.js';
import type { Td } from './Td.js';
import type { TdxModule } from './TdxModule.js';

/** TDH.PHYMEM.CACHE.WB commands (RCX). */
const CACHE_WB_START = 0;
const CACHE_WB_RESUME = 1;
/**
 * Number of cache sub-blocks one TDH.PHYMEM.CACHE.WB writes back (the module's
 * `num_of_cached_sub_blocks`); between two of them the module checks for a pending host interrupt.
 */
export const CACHE_WB_SUB_BLOCKS = 4;

/**
 * TDH.VP.FLUSH (18): RCX = TDVPR PA. Flushes the vCPU's TLB and VMCS state from the current LP
 * and disassociates it (TDCS.NUM_ASSOC_VCPUS--). The TD must be KEYS_CONFIGURED (else
 * TDX_TD_KEYS_NOT_CONFIGURED), the TDVPS complete (else TDX_TDCX_NUM_INCORRECT), and the vCPU
 * associated with this LP (else TDX_VCPU_NOT_ASSOCIATED, which KVM ignores). Legal in every OP_STATE.
 */
export function tdhVpFlush(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const pa = r.getNumber(RCX);
  if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  if (!m.pamt.covers(pa)) return fail(r, S.TDX_OPERAND_ADDR_RANGE_ERROR, S.TDX_OPERAND_ID_RCX);
  const vcpu = m.pamt.typeOf(pa) === PT_TDVPR ? m.vcpus.get(pa) : undefined;
  if (vcpu === undefined) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  const td = vcpu.td;
  if (td.lifecycle !== TD_KEYS_CONFIGURED) return fail(r, S.TDX_TD_KEYS_NOT_CONFIGURED);
  if (vcpu.tdcxPages.length !== TDVPS_PAGES - 1) return fail(r, S.TDX_TDCX_NUM_INCORRECT);
  if (vcpu.lp !== lp.index) return fail(r, S.TDX_VCPU_NOT_ASSOCIATED);
  vcpu.lp = -1;
  td.numAssocVcpus--;
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MNG.VPFLUSHDONE (19): RCX = TDR PA. Ends the TD's use of its HKID: allowed in
 * HKID_ASSIGNED or KEYS_CONFIGURED (else TDX_LIFECYCLE_STATE_INCORRECT), and only when no vCPU
 * is still associated with an LP (else TDX_FLUSHVP_NOT_DONE). The TD becomes TD_BLOCKED, the
 * KOT entry HKID_FLUSHED, and every package must now run TDH.PHYMEM.CACHE.WB.
 */
export function tdhMngVpflushdone(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = explicitTdr(m, r, r.getNumber(RCX), S.TDX_OPERAND_ID_RCX);
  if (td === undefined) return;
  if (td.lifecycle !== TD_KEYS_CONFIGURED && td.lifecycle !== TD_HKID_ASSIGNED) return fail(r, S.TDX_LIFECYCLE_STATE_INCORRECT);
  if (td.tdcsPages.length >= TDCS_PAGES && td.opState !== OP_STATE_UNINITIALIZED && td.numAssocVcpus !== 0) {
    return fail(r, S.TDX_FLUSHVP_NOT_DONE);
  }
  const k = td.hkid - m.tdxKeyIdStart;
  m.kotWbinvd[k] = allPackages(m);
  m.kot[k] = HKID_FLUSHED;
  td.lifecycle = TD_BLOCKED;
  setStatus(r, S.TDX_SUCCESS);
}

/** Bitmap with one bit per package. */
function allPackages(m: TdxModule): number {
  return m.cpu.packages >= 32 ? 0xffff_ffff : (2 ** m.cpu.packages - 1) >>> 0;
}

/**
 * TDH.PHYMEM.CACHE.WB (40): RCX = 0 (start) or 1 (resume). Writes back and invalidates this
 * package's caches for every HKID that was HKID_FLUSHED when the session started, then clears
 * this package's bit in their KOT WBINVD bitmaps. Start with no such HKID: the warning
 * TDX_NO_HKID_READY_TO_WBCACHE. An interrupt pending on the host between two sub-blocks stops it
 * with TDX_INTERRUPTED_RESUMABLE (the resume point is kept); resume without an interrupted
 * session: TDX_WBCACHE_RESUME_ERROR; RCX > 1: TDX_OPERAND_INVALID (RCX).
 */
export function tdhPhymemCacheWb(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  if (r.hi(RCX) !== 0 || r.lo(RCX) > CACHE_WB_RESUME) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  const wbt = m.cacheWb[lp.packageId]!;
  let point: number;
  if (r.lo(RCX) === CACHE_WB_START) {
    wbt.intrPoint = 0;
    let any = false;
    for (let i = 0; i < m.kot.length; i++) if (m.kot[i] === HKID_FLUSHED) any = true;
    if (!any) return fail(r, S.TDX_NO_HKID_READY_TO_WBCACHE);
    for (let i = 0; i < m.kot.length; i++) wbt.hkidFlushed[i] = m.kot[i] === HKID_FLUSHED ? 1 : 0;
    point = 0;
  } else {
    if (wbt.intrPoint === 0) return fail(r, S.TDX_WBCACHE_RESUME_ERROR);
    point = wbt.intrPoint;
  }
  const interrupted = m.testHooks?.hostInterruptPending;
  do {
    point++;
    if (point < CACHE_WB_SUB_BLOCKS && interrupted !== undefined && interrupted(lp)) {
      wbt.intrPoint = point;
      return fail(r, S.TDX_INTERRUPTED_RESUMABLE);
    }
  } while (point < CACHE_WB_SUB_BLOCKS);
  wbt.intrPoint = 0;
  const bit = ~(1 << lp.packageId);
  for (let i = 0; i < m.kot.length; i++) if (wbt.hkidFlushed[i] === 1) m.kotWbinvd[i] = (m.kotWbinvd[i]! & bit) >>> 0;
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.MNG.KEY.FREEID (20): RCX = TDR PA. Frees the TD's HKID: the TD must be TD_BLOCKED (else
 * TDX_LIFECYCLE_STATE_INCORRECT) and TDH.PHYMEM.CACHE.WB must have run on every package since
 * TDH.MNG.VPFLUSHDONE (else TDX_WBCACHE_NOT_COMPLETE). The KOT entry becomes HKID_FREE and the
 * TD TD_TEARDOWN: its pages can now be reclaimed.
 */
export function tdhMngKeyFreeid(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const td = explicitTdr(m, r, r.getNumber(RCX), S.TDX_OPERAND_ID_RCX);
  if (td === undefined) return;
  if (td.lifecycle !== TD_BLOCKED) return fail(r, S.TDX_LIFECYCLE_STATE_INCORRECT);
  const k = td.hkid - m.tdxKeyIdStart;
  if (m.kotWbinvd[k] !== 0) return fail(r, S.TDX_WBCACHE_NOT_COMPLETE);
  m.kot[k] = HKID_FREE;
  td.lifecycle = TD_TEARDOWN;
  setStatus(r, S.TDX_SUCCESS);
}

/** Output registers of TDH.PHYMEM.PAGE.RECLAIM, zeroed before the checks. */
const RECLAIM_OUTPUTS = [RCX, RDX, R8, R9, R10, R11] as const;

/** HPAs of private pages to guest frame numbers, per TD in teardown (the SEPT no longer changes then). */
const teardownIndex = new WeakMap<Td, Map<number, number>>();

/** Drops the module's record of a reclaimed page of `td` (its TDCS / TDVPS / SEPT / leaf entry). */
function forgetPage(m: TdxModule, td: Td, pa: number, type: number): void {
  if (type === PT_TDVPR) {
    const gone = m.vcpus.get(pa);
    if (gone !== undefined) gone.reclaimed = true;
    m.vcpus.delete(pa);
  } else if (type === PT_TDCX) {
    const i = td.tdcsPages.indexOf(pa);
    if (i >= 0) {
      td.tdcsPages.splice(i, 1);
      return;
    }
    for (const v of m.vcpus.values()) {
      const j = v.td === td ? v.tdcxPages.indexOf(pa) : -1;
      if (j >= 0) {
        v.tdcxPages.splice(j, 1);
        return;
      }
    }
  } else if (type === PT_EPT) {
    for (const t of td.sept?.tables ?? []) {
      for (const [idx, hpa] of t) {
        if (hpa === pa) {
          t.delete(idx);
          return;
        }
      }
    }
  } else if (type === PT_REG && td.sept !== undefined) {
    let index = teardownIndex.get(td);
    if (index === undefined) {
      index = new Map();
      for (const [gfn, leaf] of td.sept.leaves) index.set(leaf.hpa, gfn);
      teardownIndex.set(td, index);
    }
    const gfn = index.get(pa);
    if (gfn !== undefined) td.sept.leaves.delete(gfn);
  }
}

/**
 * TDH.PHYMEM.PAGE.RECLAIM (28): RCX = HPA (4 KiB aligned, no HKID bits). Returns a page of a TD
 * in TD_TEARDOWN to the host (PT_NDA). Outputs RCX = page type, RDX = owner TDR PA, R8 = page
 * size (0 = 4 KiB), R9..R11 = 0 (written once the page is found, even if the call then fails).
 * A free or reserved page: TDX_PAGE_METADATA_INCORRECT (RCX); a TD not in teardown:
 * TDX_LIFECYCLE_STATE_INCORRECT; the TDR while the TD still owns pages:
 * TDX_TD_ASSOCIATED_PAGES_EXIST.
 */
export function tdhPhymemPageReclaim(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const pa = r.getNumber(RCX);
  for (const reg of RECLAIM_OUTPUTS) r.setHalves(reg, 0, 0);
  if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0 || pa >= 2 ** m.physAddrBits) {
    return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  }
  if (!m.pamt.covers(pa)) return fail(r, S.TDX_OPERAND_ADDR_RANGE_ERROR, S.TDX_OPERAND_ID_RCX);
  const type = m.pamt.typeOf(pa);
  if (type === PT_NDA || type === PT_RSVD) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  const owner = m.pamt.ownerOf(pa);
  r.setNumber(RCX, type);
  r.setNumber(RDX, owner);
  r.setHalves(R8, 0, 0);
  const td = m.tds.get(owner);
  if (td === undefined || td.lifecycle !== TD_TEARDOWN) return fail(r, S.TDX_LIFECYCLE_STATE_INCORRECT);
  if (type === PT_TDR) {
    if (td.childCount !== 0) return fail(r, S.TDX_TD_ASSOCIATED_PAGES_EXIST);
    m.tds.delete(pa);
  } else {
    td.childCount--;
    forgetPage(m, td, pa, type);
  }
  m.pamt.set(pa, PT_NDA, -1);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.PHYMEM.PAGE.WBINVD (41): RCX = keyed HPA (the HKID in the bits above
 * {@link TdxModule.physAddrBits}). Writes back and invalidates the page's cache lines for that
 * key. The page must be 4 KiB aligned (else TDX_OPERAND_INVALID), in a TDMR (else
 * TDX_OPERAND_ADDR_RANGE_ERROR) and free, PT_NDA (else TDX_PAGE_METADATA_INCORRECT), all RCX.
 * No module state changes.
 */
export function tdhPhymemPageWbinvd(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const keyed = r.get(RCX);
  const pa = Number(keyed & ((1n << BigInt(m.physAddrBits)) - 1n));
  if (pa % PAGE_SIZE !== 0) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  if (!m.pamt.covers(pa)) return fail(r, S.TDX_OPERAND_ADDR_RANGE_ERROR, S.TDX_OPERAND_ID_RCX);
  if (m.pamt.typeOf(pa) !== PT_NDA) return fail(r, S.TDX_PAGE_METADATA_INCORRECT, S.TDX_OPERAND_ID_RCX);
  setStatus(r, S.TDX_SUCCESS);
}

/** Test/diagnostic helper: the KOT state and WBINVD bitmap of `hkid` (undefined if not a TDX HKID). */
export function kotEntry(m: TdxModule, hkid: number): { state: number; wbinvd: number } | undefined {
  if (!m.isTdxKeyId(hkid)) return undefined;
  const k = hkid - m.tdxKeyIdStart;
  return { state: m.kot[k]!, wbinvd: m.kotWbinvd[k]! };
}
