import { randomBytes } from 'node:crypto';
import { type GuestProgram, type LogicalProcessor, type SeamCpu, type SeamModule } from '@seamkit/seam-cpu';
import { PAGE_SIZE, RAX } from '@seamkit/seam-cpu/abi';
import * as L from '../abi/leaves.js';
import { HKID_FREE, PT_NDA, PT_TDR, PT_TDVPR, SYS_READY, SYS_SHUTDOWN, SYSINIT_PENDING, TD_KEYS_CONFIGURED } from '../abi/states.js';
import * as S from '../abi/status.js';
import { TDCS_PAGES } from '../abi/structures.js';
import { TDREPORT_REPORTMACSTRUCT_SIZE, TDREPORT_SIZE } from '../abi/tdreport.js';
import { moduleError } from '../errors.js';
import { verifyReportMacStruct } from '../measurement/tdreport.js';
import { tdhMemPageAdd, tdhMemSeptAdd, tdhMrExtend } from './memoryLeaves.js';
import { Pamt } from './Pamt.js';
import { tdhSysConfig, tdhSysInit, tdhSysKeyConfig, tdhSysLpInit, tdhSysTdmrInit } from './platformLeaves.js';
import { fail } from './status.js';
import type { Td } from './Td.js';
import { tdhMngAddcx, tdhMngCreate, tdhMngInit, tdhMngKeyConfig, tdhMrFinalize } from './tdLeaves.js';
import type { TdVcpu } from './TdVcpu.js';
import { tdhVpAddcx, tdhVpCreate, tdhVpInit } from './vcpuLeaves.js';
import { tdgVpInfo, tdhVpEnter } from './vpEnter.js';
import { tdhMngRd, tdhMngWr, tdhVpRd, tdhVpWr } from './metadataLeaves.js';
import { tdhSysInfo, tdhSysLpShutdown, tdhSysRd, tdhSysShutdown } from './platformInfoLeaves.js';
import { tdgMrReport, tdgMrRtmrExtend, tdgMrVerifyReport } from './tdcall/mrLeaves.js';
import { tdgSysRd, tdgVmRd, tdgVmWr, tdgVpCpuidveSet, tdgVpVeinfoGet } from './tdcall/vmLeaves.js';
import {
  tdhMemPageAug, tdhMemPageRemove, tdhMemRangeBlock, tdhMemRangeUnblock, tdhMemSeptRemove, tdhMemTrack,
} from './septLeaves.js';
import {
  tdhMngKeyFreeid, tdhMngVpflushdone, tdhPhymemCacheWb, tdhPhymemPageReclaim, tdhPhymemPageWbinvd, tdhVpFlush,
} from './teardownLeaves.js';
import { tdgMemPageAccept } from './tdcall/acceptLeaf.js';

/** A SEAMCALL leaf handler: reads inputs from and writes outputs to `lp.regs`. */
export type SeamcallHandler = (m: TdxModule, lp: LogicalProcessor) => void;
/**
 * A TDCALL leaf answered inside the module: reads and writes the guest's registers. Returns
 * nothing (or 0) to resume the guest after the TDCALL, or a VMX exit reason to end TDH.VP.ENTER
 * with that asynchronous TD exit instead (an EPT violation on a memory operand, with the LP's
 * exit GPA and qualification set); the TDCALL is then executed again on the next entry.
 */
export type TdcallHandler = (m: TdxModule, vcpu: TdVcpu) => number | void;

/** Leaves accepted before the platform is SYS_READY. */
const PRE_READY_LEAVES = new Set([
  L.TDH_SYS_INFO, L.TDH_SYS_RD, L.TDH_SYS_RDALL, L.TDH_SYS_INIT, L.TDH_SYS_LP_INIT, L.TDH_SYS_CONFIG,
  L.TDH_SYS_KEY_CONFIG, L.TDH_SYS_LP_SHUTDOWN, L.TDH_SYS_UPDATE,
]);
/** Leaves that do not need TDH.SYS.LP.INIT on the calling LP. */
const NO_LP_INIT_LEAVES = new Set([
  L.TDH_SYS_INIT, L.TDH_SYS_LP_INIT, L.TDH_SYS_INFO, L.TDH_SYS_RD, L.TDH_SYS_RDALL, L.TDH_SYS_LP_SHUTDOWN,
]);
/** Leaves that accept a non-zero version (bits 23:16 of RAX), with their highest version. */
const MAX_VERSION = new Map<number, number>([
  [L.TDH_MEM_PAGE_PROMOTE, 1], [L.TDH_MEM_SEPT_ADD, 1], [L.TDH_MEM_SEPT_REMOVE, 1], [L.TDH_MNG_RD, 1],
  [L.TDH_VP_RD, 1], [L.TDH_VP_INIT, 1],
]);

/**
 * Test-only hooks of the simulated module (never set by seamkit itself): they let tests force the
 * failures real hardware can produce but the simulation otherwise never does.
 */
export interface TdxModuleTestHooks {
  /**
   * Called before a SEAMCALL leaf handler runs (after the platform checks). Returning a status
   * makes the SEAMCALL fail with it, changing nothing; returning undefined runs the leaf.
   */
  faultSeamcall?(leaf: number, lp: LogicalProcessor): bigint | undefined;
  /**
   * Whether an interrupt is pending on the host side of `lp` (TDH.PHYMEM.CACHE.WB then stops with
   * TDX_INTERRUPTED_RESUMABLE). Default: never.
   */
  hostInterruptPending?(lp: LogicalProcessor): boolean;
}

/** TDH.PHYMEM.CACHE.WB progress of one package (the module's WBT entry). */
export interface CacheWbState {
  /** Next cache sub-block to write back; 0 when no interrupted session is saved. */
  intrPoint: number;
  /** HKIDs (index = HKID - tdxKeyIdStart) that were HKID_FLUSHED when the session started. */
  readonly hkidFlushed: Uint8Array;
}

/** Options of the simulated TDX module. */
export interface TdxModuleOptions {
  /** First TDX private key id (HKID); key ids below are MKTME's. Default 32. */
  readonly tdxKeyIdStart?: number;
  /** Number of TDX private key ids. Default 32. */
  readonly tdxKeyIds?: number;
}

/**
 * The simulated Intel TDX module (1.5). Load it into a {@link SeamCpu} with {@link install};
 * the host then drives it with SEAMCALLs (see the wrappers in `host/`), and TD guests reach it
 * with TDCALL. Leaf numbers, register conventions and 64-bit completion statuses follow the
 * TDX module 1.5.01 ABI; every failed call leaves all module state unchanged.
 */
export class TdxModule implements SeamModule {
  /** The CPU the module is loaded on. */
  readonly cpu: SeamCpu;
  /** Platform state (SYSINIT_PENDING .. SYS_SHUTDOWN). */
  sysState = SYSINIT_PENDING;
  /** TDH.SYS.LP.INIT done, per LP. */
  readonly lpInitDone: boolean[];
  /** Packages whose global key is configured. */
  readonly keyConfiguredPackages = new Set<number>();
  /** Global private HKID (from TDH.SYS.CONFIG), 0 before. */
  globalHkid = 0;
  /** First TDX private key id. */
  readonly tdxKeyIdStart: number;
  /** Key ownership table, index = HKID - tdxKeyIdStart (HKID_* states). */
  readonly kot: Uint8Array;
  /** Physical address metadata table. */
  readonly pamt = new Pamt();
  /** TDs by TDR page address. */
  readonly tds = new Map<number, Td>();
  /** vCPUs by TDVPR page address. */
  readonly vcpus = new Map<number, TdVcpu>();
  /** The vCPU {@link vcpuOfHalves} found last (TDH.VP.ENTER repeats the same TDVPR). */
  lastVcpu: TdVcpu | undefined = undefined;
  /** SEAMCALL dispatch table, index = leaf number. */
  readonly seamcallLeaves = new Map<number, SeamcallHandler>();
  /** TDCALL leaves answered in the module (VP.VMCALL is handled by TD exit). */
  readonly tdcallLeaves = new Map<number, TdcallHandler>();
  /**
   * The platform's report MAC key (32 random bytes, made with the module): TDG.MR.REPORT MACs
   * REPORTMACSTRUCT with it (HMAC-SHA-256) and TDG.MR.VERIFYREPORT checks with it.
   */
  readonly reportMacKey: Uint8Array = new Uint8Array(randomBytes(32));
  /**
   * KOT WBINVD bitmap per HKID (index = HKID - tdxKeyIdStart): packages that still have to run
   * TDH.PHYMEM.CACHE.WB before TDH.MNG.KEY.FREEID can free the HKID.
   */
  readonly kotWbinvd: Uint32Array;
  /** TDH.PHYMEM.CACHE.WB state per package. */
  readonly cacheWb: CacheWbState[];
  /**
   * Physical-address bits usable for memory (MAXPHYADDR 52 reduced by the key id bits); a keyed
   * HPA carries its HKID from this bit up (Linux `mk_keyed_paddr`).
   */
  readonly physAddrBits: number;
  /** Test-only hooks (see {@link TdxModuleTestHooks}); undefined in normal use. */
  testHooks: TdxModuleTestHooks | undefined = undefined;
  readonly #tdmrProgress = new Map<number, number>();

  /**
   * @param cpu - the CPU to run on
   * @param options - key id partitioning
   */
  constructor(cpu: SeamCpu, options: TdxModuleOptions = {}) {
    this.cpu = cpu;
    this.lpInitDone = cpu.lps.map(() => false);
    this.tdxKeyIdStart = options.tdxKeyIdStart ?? 32;
    this.kot = new Uint8Array(options.tdxKeyIds ?? 32).fill(HKID_FREE);
    this.kotWbinvd = new Uint32Array(this.kot.length);
    this.cacheWb = Array.from({ length: cpu.packages }, () => ({ intrPoint: 0, hkidFlushed: new Uint8Array(this.kot.length) }));
    this.physAddrBits = 52 - Math.ceil(Math.log2(this.tdxKeyIdStart + this.kot.length));
    const s = this.seamcallLeaves;
    s.set(L.TDH_VP_ENTER, tdhVpEnter);
    s.set(L.TDH_MNG_ADDCX, tdhMngAddcx);
    s.set(L.TDH_MEM_PAGE_ADD, tdhMemPageAdd);
    s.set(L.TDH_MEM_SEPT_ADD, tdhMemSeptAdd);
    s.set(L.TDH_VP_ADDCX, tdhVpAddcx);
    s.set(L.TDH_MNG_KEY_CONFIG, tdhMngKeyConfig);
    s.set(L.TDH_MNG_CREATE, tdhMngCreate);
    s.set(L.TDH_VP_CREATE, tdhVpCreate);
    s.set(L.TDH_MR_EXTEND, tdhMrExtend);
    s.set(L.TDH_MR_FINALIZE, tdhMrFinalize);
    s.set(L.TDH_MNG_INIT, tdhMngInit);
    s.set(L.TDH_VP_INIT, tdhVpInit);
    s.set(L.TDH_SYS_KEY_CONFIG, tdhSysKeyConfig);
    s.set(L.TDH_SYS_INIT, tdhSysInit);
    s.set(L.TDH_SYS_LP_INIT, tdhSysLpInit);
    s.set(L.TDH_SYS_TDMR_INIT, tdhSysTdmrInit);
    s.set(L.TDH_SYS_CONFIG, tdhSysConfig);
    s.set(L.TDH_MEM_PAGE_AUG, tdhMemPageAug);
    s.set(L.TDH_MEM_RANGE_BLOCK, tdhMemRangeBlock);
    s.set(L.TDH_MEM_TRACK, tdhMemTrack);
    s.set(L.TDH_MEM_RANGE_UNBLOCK, tdhMemRangeUnblock);
    s.set(L.TDH_MEM_PAGE_REMOVE, tdhMemPageRemove);
    s.set(L.TDH_MEM_SEPT_REMOVE, tdhMemSeptRemove);
    s.set(L.TDH_VP_FLUSH, tdhVpFlush);
    s.set(L.TDH_MNG_VPFLUSHDONE, tdhMngVpflushdone);
    s.set(L.TDH_PHYMEM_CACHE_WB, tdhPhymemCacheWb);
    s.set(L.TDH_MNG_KEY_FREEID, tdhMngKeyFreeid);
    s.set(L.TDH_PHYMEM_PAGE_RECLAIM, tdhPhymemPageReclaim);
    s.set(L.TDH_PHYMEM_PAGE_WBINVD, tdhPhymemPageWbinvd);
    this.tdcallLeaves.set(L.TDG_MEM_PAGE_ACCEPT, tdgMemPageAccept);
    this.tdcallLeaves.set(L.TDG_VP_INFO, tdgVpInfo);
    s.set(L.TDH_SYS_INFO, tdhSysInfo);
    s.set(L.TDH_SYS_RD, tdhSysRd);
    s.set(L.TDH_SYS_LP_SHUTDOWN, tdhSysLpShutdown);
    s.set(L.TDH_SYS_SHUTDOWN, tdhSysShutdown);
    s.set(L.TDH_MNG_RD, tdhMngRd);
    s.set(L.TDH_MNG_WR, tdhMngWr);
    s.set(L.TDH_VP_RD, tdhVpRd);
    s.set(L.TDH_VP_WR, tdhVpWr);
    const t = this.tdcallLeaves;
    t.set(L.TDG_MR_RTMR_EXTEND, tdgMrRtmrExtend);
    t.set(L.TDG_VP_VEINFO_GET, tdgVpVeinfoGet);
    t.set(L.TDG_MR_REPORT, tdgMrReport);
    t.set(L.TDG_VP_CPUIDVE_SET, tdgVpCpuidveSet);
    t.set(L.TDG_VM_RD, tdgVmRd);
    t.set(L.TDG_VM_WR, tdgVmWr);
    t.set(L.TDG_SYS_RD, tdgSysRd);
    t.set(L.TDG_MR_VERIFYREPORT, tdgMrVerifyReport);
  }

  /**
   * Creates a module and loads it into the CPU's SEAM range.
   * @throws SEAMKIT_ERR_CPU_MODULE_LOADED if the CPU already has one
   */
  static install(cpu: SeamCpu, options?: TdxModuleOptions): TdxModule {
    const m = new TdxModule(cpu, options);
    cpu.loadSeamModule(m);
    return m;
  }

  /**
   * The platform's check of a TDREPORT's REPORTMACSTRUCT (its first 256 bytes) with the CPU's
   * report key: what SEAMVERIFYREPORT does for TDG.MR.VERIFYREPORT and EVERIFYREPORT2 does for a
   * quoting enclave on the same platform (the simulator keeps that key with the module, as
   * {@link reportMacKey}). Host code uses it where a real QE would run EVERIFYREPORT2.
   * @param tdReport - a 1024-byte TDREPORT_STRUCT
   * @returns TDX_SUCCESS; TDX_INVALID_CPUSVN for a report made with another CPUSVN;
   *   TDX_INVALID_REPORTMACSTRUCT when the MAC does not match (the report was changed or forged)
   * @throws SEAMKIT_ERR_MODULE_TDREPORT_SIZE if `tdReport` is not 1024 bytes long
   */
  verifyReportMac(tdReport: Uint8Array): bigint {
    if (tdReport.length !== TDREPORT_SIZE) throw moduleError('SEAMKIT_ERR_MODULE_TDREPORT_SIZE', [tdReport.length]);
    return verifyReportMacStruct(this.reportMacKey, tdReport.subarray(0, TDREPORT_REPORTMACSTRUCT_SIZE));
  }

  /** {@inheritDoc @seamkit/seam-cpu!SeamModule.seamcall} */
  seamcall(lp: LogicalProcessor): void {
    const r = lp.regs;
    const raxLo = r.u32[RAX * 2]!;
    const leaf = raxLo & 0xffff;
    const version = (raxLo >>> L.LEAF_VERSION_SHIFT) & 0xff;
    // Fast path for TDH.VP.ENTER (version 0) on a ready platform: the same checks as below, in
    // the order that lets the common case through first.
    if (raxLo === L.TDH_VP_ENTER && this.sysState === SYS_READY && r.u32[RAX * 2 + 1] === 0 && this.testHooks === undefined && this.lpInitDone[lp.index] === true) {
      tdhVpEnter(this, lp);
      lp.seamret();
      return;
    }
    const handler = this.seamcallLeaves.get(leaf);
    // The module checks the platform state before it looks at the leaf.
    if (this.sysState === SYS_SHUTDOWN && leaf !== L.TDH_SYS_LP_SHUTDOWN) {
      fail(r, S.TDX_SYS_SHUTDOWN);
    } else if (this.sysState !== SYS_READY && !PRE_READY_LEAVES.has(leaf)) {
      fail(r, S.TDX_SYS_NOT_READY);
    } else if (handler === undefined || r.hi(RAX) !== 0 || raxLo >>> 24 !== 0 || (version !== 0 && version > (MAX_VERSION.get(leaf) ?? 0))) {
      fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RAX);
    } else if (this.lpInitDone[lp.index] !== true && !NO_LP_INIT_LEAVES.has(leaf)) {
      fail(r, S.TDX_SYS_LP_INIT_NOT_DONE);
    } else if (this.testHooks?.faultSeamcall !== undefined && this.#injectFault(leaf, lp)) {
      // A test forced this SEAMCALL to fail.
    } else {
      handler(this, lp);
    }
    lp.seamret();
  }

  /**
   * Simulator extension: binds the guest program that stands in for the TD image of the TD
   * whose TDR is at `tdrPa`. Each vCPU instantiates it on its first TDH.VP.ENTER. (On real
   * hardware the guest is code in the pages added with TDH.MEM.PAGE.ADD.)
   * @throws SEAMKIT_ERR_MODULE_NO_TD if no TD has that TDR
   */
  bindGuestProgram(tdrPa: number, program: GuestProgram): void {
    const td = this.tds.get(tdrPa);
    if (td === undefined) throw moduleError('SEAMKIT_ERR_MODULE_NO_TD', [`0x${tdrPa.toString(16)}`]);
    td.program = program;
  }

  #injectFault(leaf: number, lp: LogicalProcessor): boolean {
    const status = this.testHooks?.faultSeamcall?.(leaf, lp);
    if (status === undefined) return false;
    lp.regs.set(RAX, status);
    return true;
  }

  /** `pa` tagged with `hkid` in its key id bits (Linux `mk_keyed_paddr`), the RCX of TDH.PHYMEM.PAGE.WBINVD. */
  keyedPa(pa: number, hkid: number): bigint {
    return BigInt(pa) | (BigInt(hkid) << BigInt(this.physAddrBits));
  }

  /** The TD whose TDR is at `pa`, if the page is a TDR. */
  tdOf(pa: number): Td | undefined {
    return this.pamt.typeOf(pa) === PT_TDR ? this.tds.get(pa) : undefined;
  }

  /** The vCPU whose TDVPR is at `pa`, if the page is a TDVPR. */
  vcpuOf(pa: number): TdVcpu | undefined {
    // A TDVPR leaves `vcpus` when TDH.PHYMEM.PAGE.RECLAIM frees it, so the map alone is exact.
    return this.vcpus.get(pa);
  }

  /**
   * {@link vcpuOf} for a TDVPR address given as register halves (TDH.VP.ENTER's RCX): the last
   * vCPU found is checked first, so re-entering the same vCPU needs no map lookup.
   */
  vcpuOfHalves(lo: number, hi: number): TdVcpu | undefined {
    const last = this.lastVcpu;
    if (last !== undefined && last.tdvprLo === (lo | 0) && last.tdvprHi === (hi | 0) && last.reclaimed === false) return last;
    const v = this.vcpus.get(hi * 0x1_0000_0000 + lo);
    if (v !== undefined) this.lastVcpu = v;
    return v;
  }

  /** True if `hkid` is a TDX private key id of this platform. */
  isTdxKeyId(hkid: number): boolean {
    return Number.isInteger(hkid) && hkid >= this.tdxKeyIdStart && hkid < this.tdxKeyIdStart + this.kot.length;
  }

  /**
   * Makes a free page (checked with {@link checkFreePage}) a control or SEPT page of `td`: its
   * PAMT entry gets `type` and the TD as owner, the page is cleared with the TD's key (the
   * module's MOVDIR64B), and the TD counts one more child page.
   */
  assignPage(pa: number, type: number, td: Td): void {
    this.pamt.set(pa, type, td.tdrPa);
    this.cpu.memory.clearPage(pa, td.hkid);
    td.childCount++;
  }

  /**
   * Checks that a page can become a TD page: 4 KiB-aligned (else OPERAND_INVALID), inside an
   * initialized TDMR (else OPERAND_ADDR_RANGE_ERROR), and PT_NDA in the PAMT (else
   * PAGE_METADATA_INCORRECT). Returns the failing status (with operand) or undefined.
   */
  checkFreePage(pa: number, operand: bigint): bigint | undefined {
    if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0) return S.TDX_OPERAND_INVALID + operand;
    if (!this.pamt.covers(pa)) return S.TDX_OPERAND_ADDR_RANGE_ERROR + operand;
    if (this.pamt.typeOf(pa) !== PT_NDA) return S.TDX_PAGE_METADATA_INCORRECT + operand;
    return undefined;
  }

  /**
   * Checks what every TDCS access needs: keys configured, TD not fatal, TDCS allocated.
   * Returns the failing status or undefined.
   */
  checkTdcs(td: Td): bigint | undefined {
    if (td.lifecycle !== TD_KEYS_CONFIGURED) return S.TDX_TD_KEYS_NOT_CONFIGURED;
    if (td.fatal === true) return S.TDX_TD_FATAL;
    if (td.tdcsPages.length < TDCS_PAGES) return S.TDX_TDCS_NOT_ALLOCATED;
    return undefined;
  }

  /** Next address TDH.SYS.TDMR.INIT will initialize in the TDMR at `base`. */
  tdmrProgress(base: number): number {
    return this.#tdmrProgress.get(base) ?? base;
  }

  /** Records TDMR initialization progress. */
  setTdmrProgress(base: number, next: number): void {
    this.#tdmrProgress.set(base, next);
  }

  /** True if `pa` is a TDVPR page. */
  isTdvpr(pa: number): boolean {
    return this.pamt.typeOf(pa) === PT_TDVPR;
  }
}
