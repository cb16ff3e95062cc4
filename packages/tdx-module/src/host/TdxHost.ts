import { RegisterFile, type LogicalProcessor } from '@seamkit/seam-cpu';
import { R8, R9, RCX, RDX, RAX } from '@seamkit/seam-cpu/abi';
import * as L from '../abi/leaves.js';
import { seamcall, seamcallRet, seamcallSavedRet } from './seamcall.js';

/** Result of a SEAMCALL whose outputs are in registers. */
export interface SeamcallResult {
  /** RAX: the completion status. */
  readonly status: bigint;
  /** RCX after the call. */
  readonly rcx: bigint;
  /** RDX after the call. */
  readonly rdx: bigint;
  /** R8 after the call. */
  readonly r8: bigint;
  /** R9 after the call. */
  readonly r9: bigint;
}

/**
 * Host-side SEAMCALL API, one method per TDH leaf, in the shape Linux's
 * arch/x86/virt/vmx/tdx/tdx.c exports them. Each method names its leaf; inputs are physical
 * addresses and values, the result is the 64-bit completion status (plus output registers
 * where the leaf has them). Addresses are numbers (they fit in 52 bits).
 */
export class TdxHost {
  readonly #args = new RegisterFile();

  #call(lp: LogicalProcessor, fn: number, rcx = 0n, rdx = 0n, r8 = 0n, r9 = 0n): bigint {
    const a = this.#args;
    a.clear();
    a.set(RCX, rcx);
    a.set(RDX, rdx);
    a.set(R8, r8);
    a.set(R9, r9);
    return seamcall(lp, fn, a);
  }

  #callRet(lp: LogicalProcessor, fn: number, rcx = 0n, rdx = 0n, r8 = 0n, r9 = 0n): SeamcallResult {
    const a = this.#args;
    a.clear();
    a.set(RCX, rcx);
    a.set(RDX, rdx);
    a.set(R8, r8);
    a.set(R9, r9);
    const status = seamcallRet(lp, fn, a);
    return { status, rcx: a.get(RCX), rdx: a.get(RDX), r8: a.get(R8), r9: a.get(R9) };
  }

  /** TDH.SYS.INIT (33). */
  tdhSysInit(lp: LogicalProcessor, attributes = 0n): bigint {
    return this.#call(lp, L.TDH_SYS_INIT, attributes);
  }

  /** TDH.SYS.LP.INIT (35), on the LP it initializes. */
  tdhSysLpInit(lp: LogicalProcessor): bigint {
    return this.#call(lp, L.TDH_SYS_LP_INIT);
  }

  /** TDH.SYS.CONFIG (45): `tdmrArrayPa` = PA of an array of `count` TDMR_INFO PAs; `globalHkid`. */
  tdhSysConfig(lp: LogicalProcessor, tdmrArrayPa: number, count: number, globalHkid: number): bigint {
    return this.#call(lp, L.TDH_SYS_CONFIG, BigInt(tdmrArrayPa), BigInt(count), BigInt(globalHkid));
  }

  /** TDH.SYS.KEY.CONFIG (31), once on an LP of each package. */
  tdhSysKeyConfig(lp: LogicalProcessor): bigint {
    return this.#call(lp, L.TDH_SYS_KEY_CONFIG);
  }

  /** TDH.SYS.TDMR.INIT (36): returns the status and, in `rdx`, the next address to initialize. */
  tdhSysTdmrInit(lp: LogicalProcessor, tdmrBase: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_SYS_TDMR_INIT, BigInt(tdmrBase));
  }

  /** TDH.MNG.CREATE (9). */
  tdhMngCreate(lp: LogicalProcessor, tdr: number, hkid: number): bigint {
    return this.#call(lp, L.TDH_MNG_CREATE, BigInt(tdr), BigInt(hkid));
  }

  /** TDH.MNG.KEY.CONFIG (8), once on an LP of each package. */
  tdhMngKeyConfig(lp: LogicalProcessor, tdr: number): bigint {
    return this.#call(lp, L.TDH_MNG_KEY_CONFIG, BigInt(tdr));
  }

  /** TDH.MNG.ADDCX (1). */
  tdhMngAddcx(lp: LogicalProcessor, tdr: number, page: number): bigint {
    return this.#call(lp, L.TDH_MNG_ADDCX, BigInt(page), BigInt(tdr));
  }

  /** TDH.MNG.INIT (21): `tdParams` = PA of TD_PARAMS; returns RCX for CPUID-config errors. */
  tdhMngInit(lp: LogicalProcessor, tdr: number, tdParams: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_MNG_INIT, BigInt(tdr), BigInt(tdParams));
  }

  /** TDH.VP.CREATE (10). */
  tdhVpCreate(lp: LogicalProcessor, tdr: number, tdvpr: number): bigint {
    return this.#call(lp, L.TDH_VP_CREATE, BigInt(tdvpr), BigInt(tdr));
  }

  /** TDH.VP.ADDCX (4). */
  tdhVpAddcx(lp: LogicalProcessor, tdvpr: number, page: number): bigint {
    return this.#call(lp, L.TDH_VP_ADDCX, BigInt(page), BigInt(tdvpr));
  }

  /** TDH.VP.INIT (22), version 1 with the x2APIC ID in R8 when `x2apicId` is given. */
  tdhVpInit(lp: LogicalProcessor, tdvpr: number, initialRcx: bigint, x2apicId?: number): bigint {
    if (x2apicId === undefined) return this.#call(lp, L.TDH_VP_INIT, BigInt(tdvpr), initialRcx);
    return this.#call(lp, L.TDH_VP_INIT | (1 << L.LEAF_VERSION_SHIFT), BigInt(tdvpr), initialRcx, BigInt(x2apicId));
  }

  /** TDH.MEM.SEPT.ADD (3): `level` of the entry that will point to the new SEPT page. */
  tdhMemSeptAdd(lp: LogicalProcessor, tdr: number, gpa: number, level: number, page: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_SEPT_ADD, BigInt(gpa) | BigInt(level), BigInt(tdr), BigInt(page));
  }

  /** TDH.MEM.PAGE.ADD (2): 4 KiB page at `gpa`, private page `page`, contents from `source`. */
  tdhMemPageAdd(lp: LogicalProcessor, tdr: number, gpa: number, page: number, source: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_PAGE_ADD, BigInt(gpa), BigInt(tdr), BigInt(page), BigInt(source));
  }

  /** TDH.MR.EXTEND (16): measures the 256 bytes at `gpa`. */
  tdhMrExtend(lp: LogicalProcessor, tdr: number, gpa: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_MR_EXTEND, BigInt(gpa), BigInt(tdr));
  }

  /**
   * TDH.SYS.INFO (32): writes TDSYSINFO_STRUCT (`size` bytes available) at `infoPa` and the
   * CMR_INFO array (`cmrEntries` entries) at `cmrPa`; returns RDX = bytes written, R9 = #CMR entries.
   */
  tdhSysInfo(lp: LogicalProcessor, infoPa: number, size: number, cmrPa: number, cmrEntries: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_SYS_INFO, BigInt(infoPa), BigInt(size), BigInt(cmrPa), BigInt(cmrEntries));
  }

  /** TDH.SYS.RD (34), as Linux's `read_sys_metadata_field`: R8 = value, RDX = next field id. */
  tdhSysRd(lp: LogicalProcessor, fieldId: bigint): SeamcallResult {
    return this.#callRet(lp, L.TDH_SYS_RD, 0n, fieldId);
  }

  /** TDH.SYS.LP.SHUTDOWN (44). */
  tdhSysLpShutdown(lp: LogicalProcessor): bigint {
    return this.#call(lp, L.TDH_SYS_LP_SHUTDOWN);
  }

  /** TDH.SYS.SHUTDOWN (52): RCX = handoff version (MODULE_HV). */
  tdhSysShutdown(lp: LogicalProcessor, handoffVersion = 0n): bigint {
    return this.#call(lp, L.TDH_SYS_SHUTDOWN, handoffVersion);
  }

  /** TDH.MNG.RD (11), version 0 or 1: R8 = value; version 1 also RDX = next field id. */
  tdhMngRd(lp: LogicalProcessor, tdr: number, fieldId: bigint, version = 0): SeamcallResult {
    return this.#callRet(lp, L.TDH_MNG_RD | (version << L.LEAF_VERSION_SHIFT), BigInt(tdr), fieldId);
  }

  /** TDH.MNG.WR (13): writes `value` under `mask`; R8 = old value. */
  tdhMngWr(lp: LogicalProcessor, tdr: number, fieldId: bigint, value: bigint, mask: bigint): SeamcallResult {
    return this.#callRet(lp, L.TDH_MNG_WR, BigInt(tdr), fieldId, value, mask);
  }

  /** TDH.VP.RD (26), version 0 or 1, as KVM's `tdh_vp_rd`: R8 = value; version 1 also RDX = next field id. */
  tdhVpRd(lp: LogicalProcessor, tdvpr: number, fieldId: bigint, version = 0): SeamcallResult {
    return this.#callRet(lp, L.TDH_VP_RD | (version << L.LEAF_VERSION_SHIFT), BigInt(tdvpr), fieldId);
  }

  /** TDH.VP.WR (43), as KVM's `tdh_vp_wr`: writes `value` under `mask`; R8 = old value. */
  tdhVpWr(lp: LogicalProcessor, tdvpr: number, fieldId: bigint, value: bigint, mask: bigint): SeamcallResult {
    return this.#callRet(lp, L.TDH_VP_WR, BigInt(tdvpr), fieldId, value, mask);
  }

  /**
   * TDH.MEM.PAGE.AUG (6), as Linux's `tdh_mem_page_aug`: adds the PENDING private page `page` at
   * `gpa` (`level` 0 = 4 KiB). On SEPT errors `rcx` = the SEPT entry, `rdx` = level | state << 8.
   */
  tdhMemPageAug(lp: LogicalProcessor, tdr: number, gpa: number, page: number, level = 0): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_PAGE_AUG, BigInt(gpa) | BigInt(level), BigInt(tdr), BigInt(page));
  }

  /** TDH.MEM.RANGE.BLOCK (7), as `tdh_mem_range_block`: blocks the SEPT entry at `level` covering `gpa`. */
  tdhMemRangeBlock(lp: LogicalProcessor, tdr: number, gpa: number, level = 0): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_RANGE_BLOCK, BigInt(gpa) | BigInt(level), BigInt(tdr));
  }

  /** TDH.MEM.TRACK (38), as `tdh_mem_track`: advances the TD's TLB-tracking epoch. */
  tdhMemTrack(lp: LogicalProcessor, tdr: number): bigint {
    return this.#call(lp, L.TDH_MEM_TRACK, BigInt(tdr));
  }

  /** TDH.MEM.RANGE.UNBLOCK (39): unblocks the SEPT entry at `level` covering `gpa`. */
  tdhMemRangeUnblock(lp: LogicalProcessor, tdr: number, gpa: number, level = 0): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_RANGE_UNBLOCK, BigInt(gpa) | BigInt(level), BigInt(tdr));
  }

  /**
   * TDH.MEM.PAGE.REMOVE (29), as `tdh_mem_page_remove`: removes the private page at `gpa`; on
   * success `rcx` = its HPA, on SEPT errors `rcx` / `rdx` = entry and level | state << 8.
   */
  tdhMemPageRemove(lp: LogicalProcessor, tdr: number, gpa: number, level = 0): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_PAGE_REMOVE, BigInt(gpa) | BigInt(level), BigInt(tdr));
  }

  /**
   * TDH.MEM.SEPT.REMOVE (30), version 0: removes the SEPT page that the level-`level` entry
   * covering `gpa` points to; on success `rcx` = its HPA.
   */
  tdhMemSeptRemove(lp: LogicalProcessor, tdr: number, gpa: number, level: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_MEM_SEPT_REMOVE, BigInt(gpa) | BigInt(level), BigInt(tdr));
  }

  /** TDH.VP.FLUSH (18), as `tdh_vp_flush`: on the LP the vCPU is associated with. */
  tdhVpFlush(lp: LogicalProcessor, tdvpr: number): bigint {
    return this.#call(lp, L.TDH_VP_FLUSH, BigInt(tdvpr));
  }

  /** TDH.MNG.VPFLUSHDONE (19), as `tdh_mng_vpflushdone`. */
  tdhMngVpflushdone(lp: LogicalProcessor, tdr: number): bigint {
    return this.#call(lp, L.TDH_MNG_VPFLUSHDONE, BigInt(tdr));
  }

  /**
   * TDH.PHYMEM.CACHE.WB (40), as `tdh_phymem_cache_wb`: on one LP of each package; `resume`
   * continues a session that returned TDX_INTERRUPTED_RESUMABLE (RCX = 1, else 0).
   */
  tdhPhymemCacheWb(lp: LogicalProcessor, resume = false): bigint {
    return this.#call(lp, L.TDH_PHYMEM_CACHE_WB, resume ? 1n : 0n);
  }

  /** TDH.MNG.KEY.FREEID (20), as `tdh_mng_key_freeid`. */
  tdhMngKeyFreeid(lp: LogicalProcessor, tdr: number): bigint {
    return this.#call(lp, L.TDH_MNG_KEY_FREEID, BigInt(tdr));
  }

  /**
   * TDH.PHYMEM.PAGE.RECLAIM (28), as `tdh_phymem_page_reclaim`: `rcx` = page type, `rdx` = owner
   * TDR, `r8` = page size.
   */
  tdhPhymemPageReclaim(lp: LogicalProcessor, page: number): SeamcallResult {
    return this.#callRet(lp, L.TDH_PHYMEM_PAGE_RECLAIM, BigInt(page));
  }

  /**
   * TDH.PHYMEM.PAGE.WBINVD (41): `keyedPage` is the page's HPA with the key id in its high bits
   * (Linux `tdh_phymem_page_wbinvd_tdr` / `_hkid` build it with `mk_keyed_paddr`; see
   * `TdxModule.keyedPa`).
   */
  tdhPhymemPageWbinvd(lp: LogicalProcessor, keyedPage: bigint): bigint {
    return this.#call(lp, L.TDH_PHYMEM_PAGE_WBINVD, keyedPage);
  }

  /** TDH.MR.FINALIZE (17). */
  tdhMrFinalize(lp: LogicalProcessor, tdr: number): bigint {
    return this.#call(lp, L.TDH_MR_FINALIZE, BigInt(tdr));
  }

  /**
   * TDH.VP.ENTER (0) through `__seamcall_saved_ret`: `args` is the per-vCPU argument block,
   * used in place as input and output (RCX is set to the TDVPR). The status / exit reason is
   * in `args` RAX afterwards.
   */
  tdhVpEnter(lp: LogicalProcessor, tdvpr: number, args: RegisterFile): void {
    this.tdhVpEnterHalves(lp, tdvpr >>> 0, Math.floor(tdvpr / 0x1_0000_0000), args);
  }

  /**
   * {@link tdhVpEnter} with the TDVPR address as two 32-bit halves (KVM keeps them per vCPU, so
   * its run loop converts nothing per entry). Same SEAMCALL, same outputs.
   */
  tdhVpEnterHalves(lp: LogicalProcessor, tdvprLo: number, tdvprHi: number, args: RegisterFile): void {
    const u = args.u32;
    u[RCX * 2] = tdvprLo;
    u[RCX * 2 + 1] = tdvprHi;
    seamcallSavedRet(lp, L.TDH_VP_ENTER, args);
  }

  /** Status of the last {@link tdhVpEnter} on `args`, as a BigInt (off the hot path). */
  static status(args: RegisterFile): bigint {
    return args.get(RAX);
  }
}
