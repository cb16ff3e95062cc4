/**
 * State-machine values of the TDX module: platform (sysinit), TD life cycle, TD operational
 * state, vCPU state, key ownership table, PAMT page types, SEPT entry states.
 *
 * Sources: TDX module 1.5.01 src/common/data_structures/tdx_global_data.h (sysinit_state_e,
 * KOT states), td_control_structures.h (lifecycle, OP_STATE), tdx_tdvps.h (vCPU states,
 * last_td_exit), memory_handlers/pamt_manager.h (page types), sept_manager.h (SEPT states).
 * @module
 */

/** Platform state SYSINIT_PENDING. */
export const SYSINIT_PENDING = 0;
/** Platform state SYSINIT_DONE. */
export const SYSINIT_DONE = 1;
/** Platform state SYSCONFIG_DONE. */
export const SYSCONFIG_DONE = 2;
/** Platform state SYS_READY. */
export const SYS_READY = 3;
/** Platform state SYS_SHUTDOWN. */
export const SYS_SHUTDOWN = 4;

/** TD life cycle TD_HKID_ASSIGNED. */
export const TD_HKID_ASSIGNED = 0;
/** TD life cycle TD_KEYS_CONFIGURED. */
export const TD_KEYS_CONFIGURED = 1;
/** TD life cycle TD_BLOCKED. */
export const TD_BLOCKED = 2;
/** TD life cycle TD_TEARDOWN. */
export const TD_TEARDOWN = 3;

/** OP_STATE UNINITIALIZED. */
export const OP_STATE_UNINITIALIZED = 0;
/** OP_STATE INITIALIZED (after TDH.MNG.INIT). */
export const OP_STATE_INITIALIZED = 1;
/** OP_STATE RUNNABLE (after TDH.MR.FINALIZE). */
export const OP_STATE_RUNNABLE = 2;

/** vCPU state VCPU_UNINITIALIZED. */
export const VCPU_UNINITIALIZED = 0x0;
/** vCPU state VCPU_READY. */
export const VCPU_READY = 0x2;
/** vCPU state VCPU_ACTIVE. */
export const VCPU_ACTIVE = 0x4;
/** vCPU state VCPU_DISABLED. */
export const VCPU_DISABLED = 0x8;

/** last_td_exit ASYNC_FAULT. */
export const LAST_EXIT_ASYNC_FAULT = 0;
/** last_td_exit ASYNC_TRAP. */
export const LAST_EXIT_ASYNC_TRAP = 1;
/** last_td_exit TDVMCALL. */
export const LAST_EXIT_TDVMCALL = 2;

/** KOT entry HKID_FREE. */
export const HKID_FREE = 0;
/** KOT entry HKID_ASSIGNED. */
export const HKID_ASSIGNED = 1;
/** KOT entry HKID_FLUSHED. */
export const HKID_FLUSHED = 2;
/** KOT entry HKID_RESERVED. */
export const HKID_RESERVED = 3;

/** PAMT page type PT_NDA (free). */
export const PT_NDA = 0;
/** PAMT page type PT_RSVD. */
export const PT_RSVD = 1;
/** PAMT page type PT_REG (TD private page). */
export const PT_REG = 3;
/** PAMT page type PT_TDR. */
export const PT_TDR = 4;
/** PAMT page type PT_TDCX (TDCS and TDVPS extension pages). */
export const PT_TDCX = 5;
/** PAMT page type PT_TDVPR. */
export const PT_TDVPR = 6;
/** PAMT page type PT_EPT (SEPT page). */
export const PT_EPT = 8;

/** SEPT entry FREE. */
export const SEPT_FREE = 0;
/** SEPT entry BLOCKED. */
export const SEPT_BLOCKED = 1;
/** SEPT entry PENDING (PAGE.AUG, not yet accepted). */
export const SEPT_PENDING = 2;
/** SEPT entry PENDING_BLOCKED. */
export const SEPT_PENDING_BLOCKED = 3;
/** SEPT entry MAPPED. */
export const SEPT_MAPPED = 4;
/** SEPT non-leaf entry NL_MAPPED. */
export const SEPT_NL_MAPPED = 0x84;
/** SEPT entry REMOVED (import only; never produced by this module). */
export const SEPT_REMOVED = 5;
/** SEPT non-leaf entry NL_BLOCKED (TDH.MEM.RANGE.BLOCK on a non-leaf entry). */
export const SEPT_NL_BLOCKED = 0x81;

/** Extended exit qualification type NONE (bits 3:0 of RDX on an EPT-violation TD exit). */
export const EXT_EXIT_QUAL_TYPE_NONE = 0;
/** Extended exit qualification type ACCEPT: TDG.MEM.PAGE.ACCEPT hit a non-acceptable entry. */
export const EXT_EXIT_QUAL_TYPE_ACCEPT = 1;
/**
 * Extended exit qualification type PENDING_EPT_VIOLATION: the guest touched a PENDING page of a
 * TD with PENDING_VE_DISABLE (ATTRIBUTES.SEPT_VE_DISABLE). Linux: TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION.
 */
export const EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION = 6;
