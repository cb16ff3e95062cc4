/**
 * SEAMCALL (TDH.*) and TDCALL (TDG.*) leaf numbers, as passed in RAX bits 15:0.
 *
 * Sources: TDX module 1.5.01 include/tdx_api_defs.h (`seamcall_leaf_opcode_t`,
 * `tdcall_leaf_opcode_t`), cross-checked with Linux arch/x86/virt/vmx/tdx/tdx.h.
 * @module
 */

/** TDH.VP.ENTER */
export const TDH_VP_ENTER = 0;
/** TDH.MNG.ADDCX */
export const TDH_MNG_ADDCX = 1;
/** TDH.MEM.PAGE.ADD */
export const TDH_MEM_PAGE_ADD = 2;
/** TDH.MEM.SEPT.ADD */
export const TDH_MEM_SEPT_ADD = 3;
/** TDH.VP.ADDCX */
export const TDH_VP_ADDCX = 4;
/** TDH.MEM.PAGE.RELOCATE */
export const TDH_MEM_PAGE_RELOCATE = 5;
/** TDH.MEM.PAGE.AUG */
export const TDH_MEM_PAGE_AUG = 6;
/** TDH.MEM.RANGE.BLOCK */
export const TDH_MEM_RANGE_BLOCK = 7;
/** TDH.MNG.KEY.CONFIG */
export const TDH_MNG_KEY_CONFIG = 8;
/** TDH.MNG.CREATE */
export const TDH_MNG_CREATE = 9;
/** TDH.VP.CREATE */
export const TDH_VP_CREATE = 10;
/** TDH.MNG.RD */
export const TDH_MNG_RD = 11;
/** TDH.MEM.RD */
export const TDH_MEM_RD = 12;
/** TDH.MNG.WR */
export const TDH_MNG_WR = 13;
/** TDH.MEM.WR */
export const TDH_MEM_WR = 14;
/** TDH.MEM.PAGE.DEMOTE */
export const TDH_MEM_PAGE_DEMOTE = 15;
/** TDH.MR.EXTEND */
export const TDH_MR_EXTEND = 16;
/** TDH.MR.FINALIZE */
export const TDH_MR_FINALIZE = 17;
/** TDH.VP.FLUSH */
export const TDH_VP_FLUSH = 18;
/** TDH.MNG.VPFLUSHDONE */
export const TDH_MNG_VPFLUSHDONE = 19;
/** TDH.MNG.KEY.FREEID */
export const TDH_MNG_KEY_FREEID = 20;
/** TDH.MNG.INIT */
export const TDH_MNG_INIT = 21;
/** TDH.VP.INIT */
export const TDH_VP_INIT = 22;
/** TDH.MEM.PAGE.PROMOTE */
export const TDH_MEM_PAGE_PROMOTE = 23;
/** TDH.PHYMEM.PAGE.RDMD */
export const TDH_PHYMEM_PAGE_RDMD = 24;
/** TDH.MEM.SEPT.RD */
export const TDH_MEM_SEPT_RD = 25;
/** TDH.VP.RD */
export const TDH_VP_RD = 26;
/** TDH.MNG.KEY.RECLAIMID */
export const TDH_MNG_KEY_RECLAIMID = 27;
/** TDH.PHYMEM.PAGE.RECLAIM */
export const TDH_PHYMEM_PAGE_RECLAIM = 28;
/** TDH.MEM.PAGE.REMOVE */
export const TDH_MEM_PAGE_REMOVE = 29;
/** TDH.MEM.SEPT.REMOVE */
export const TDH_MEM_SEPT_REMOVE = 30;
/** TDH.SYS.KEY.CONFIG */
export const TDH_SYS_KEY_CONFIG = 31;
/** TDH.SYS.INFO */
export const TDH_SYS_INFO = 32;
/** TDH.SYS.INIT */
export const TDH_SYS_INIT = 33;
/** TDH.SYS.RD */
export const TDH_SYS_RD = 34;
/** TDH.SYS.LP.INIT */
export const TDH_SYS_LP_INIT = 35;
/** TDH.SYS.TDMR.INIT */
export const TDH_SYS_TDMR_INIT = 36;
/** TDH.SYS.RDALL */
export const TDH_SYS_RDALL = 37;
/** TDH.MEM.TRACK */
export const TDH_MEM_TRACK = 38;
/** TDH.MEM.RANGE.UNBLOCK */
export const TDH_MEM_RANGE_UNBLOCK = 39;
/** TDH.PHYMEM.CACHE.WB */
export const TDH_PHYMEM_CACHE_WB = 40;
/** TDH.PHYMEM.PAGE.WBINVD */
export const TDH_PHYMEM_PAGE_WBINVD = 41;
/** TDH.VP.WR */
export const TDH_VP_WR = 43;
/** TDH.SYS.LP.SHUTDOWN */
export const TDH_SYS_LP_SHUTDOWN = 44;
/** TDH.SYS.CONFIG */
export const TDH_SYS_CONFIG = 45;
/** TDH.SYS.SHUTDOWN */
export const TDH_SYS_SHUTDOWN = 52;
/** TDH.SYS.UPDATE */
export const TDH_SYS_UPDATE = 53;

/** TDG.VP.VMCALL */
export const TDG_VP_VMCALL = 0;
/** TDG.VP.INFO */
export const TDG_VP_INFO = 1;
/** TDG.MR.RTMR.EXTEND */
export const TDG_MR_RTMR_EXTEND = 2;
/** TDG.VP.VEINFO.GET */
export const TDG_VP_VEINFO_GET = 3;
/** TDG.MR.REPORT */
export const TDG_MR_REPORT = 4;
/** TDG.VP.CPUIDVE.SET */
export const TDG_VP_CPUIDVE_SET = 5;
/** TDG.MEM.PAGE.ACCEPT */
export const TDG_MEM_PAGE_ACCEPT = 6;
/** TDG.VM.RD */
export const TDG_VM_RD = 7;
/** TDG.VM.WR */
export const TDG_VM_WR = 8;
/** TDG.VP.RD */
export const TDG_VP_RD = 9;
/** TDG.VP.WR */
export const TDG_VP_WR = 10;
/** TDG.SYS.RD */
export const TDG_SYS_RD = 11;
/** TDG.MR.VERIFYREPORT */
export const TDG_MR_VERIFYREPORT = 22;

/** Bit position of the version field in RAX (bits 23:16). */
export const LEAF_VERSION_SHIFT = 16;
