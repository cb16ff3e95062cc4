/**
 * Sizes and layouts of TDX structures: TD_PARAMS, TD attributes, config flags, TDMR_INFO,
 * control-structure page counts, measurement block format.
 *
 * Sources: TDX module 1.5.01 include/tdx_api_defs.h (`td_params_t`, `td_param_attributes_t`,
 * config flags), td_control_structures.h (MIN_NUM_TDCS_PAGES, VIRT_TSC_FREQUENCY_*),
 * tdh_mem_page_add.c / tdh_mr_extend.c (MRTD blocks); Linux arch/x86/virt/vmx/tdx/tdx.h
 * (`struct tdmr_info`), arch/x86/include/asm/tdx.h (TDX_CONFIG_FLAGS_*).
 * @module
 */

/** Size of TD_PARAMS in bytes (1024-aligned input of TDH.MNG.INIT). */
export const TD_PARAMS_SIZE = 1024;
/** TD_PARAMS.ATTRIBUTES offset (u64). */
export const TD_PARAMS_ATTRIBUTES = 0;
/** TD_PARAMS.XFAM offset (u64). */
export const TD_PARAMS_XFAM = 8;
/** TD_PARAMS.MAX_VCPUS offset (u16). */
export const TD_PARAMS_MAX_VCPUS = 16;
/** TD_PARAMS.NUM_L2_VMS offset (u8). */
export const TD_PARAMS_NUM_L2_VMS = 18;
/** TD_PARAMS.EPTP_CONTROLS offset (u64). */
export const TD_PARAMS_EPTP_CONTROLS = 24;
/** TD_PARAMS.CONFIG_FLAGS offset (u64). */
export const TD_PARAMS_CONFIG_FLAGS = 32;
/** TD_PARAMS.TSC_FREQUENCY offset (u16, units of 25 MHz). */
export const TD_PARAMS_TSC_FREQUENCY = 40;
/** TD_PARAMS.MRCONFIGID offset (48 bytes). */
export const TD_PARAMS_MRCONFIGID = 80;
/** TD_PARAMS.MROWNER offset (48 bytes). */
export const TD_PARAMS_MROWNER = 128;
/** TD_PARAMS.MROWNERCONFIG offset (48 bytes). */
export const TD_PARAMS_MROWNERCONFIG = 176;
/** TD_PARAMS.CPUID_CONFIG values offset (16 bytes each). */
export const TD_PARAMS_CPUID_CONFIG = 256;
/**
 * Size of one TD_PARAMS.CPUID_CONFIG entry: EAX, EBX, ECX, EDX (u32 each), in the order of the
 * module's CPUID_CONFIG table (TDH.SYS.INFO / CPUID_CONFIG_LEAVES).
 */
export const TD_PARAMS_CPUID_CONFIG_ENTRY_SIZE = 16;

/** TD attribute DEBUG (bit 0). */
export const TD_ATTR_DEBUG = 1n << 0n;
/** TD attribute SEPT_VE_DISABLE (bit 28). */
export const TD_ATTR_SEPT_VE_DISABLE = 1n << 28n;
/** TD attribute MIGRATABLE (bit 29). */
export const TD_ATTR_MIGRATABLE = 1n << 29n;
/** TD attribute PKS (bit 30). */
export const TD_ATTR_PKS = 1n << 30n;
/** TD attribute KL (bit 31). */
export const TD_ATTR_KL = 1n << 31n;
/** TD attribute PERFMON (bit 63). */
export const TD_ATTR_PERFMON = 1n << 63n;
/** Every TD attribute bit this module supports; others are reserved. */
export const TD_ATTR_SUPPORTED = TD_ATTR_DEBUG | TD_ATTR_SEPT_VE_DISABLE | TD_ATTR_MIGRATABLE | TD_ATTR_PKS | TD_ATTR_KL | TD_ATTR_PERFMON;

/** Config flag MAX_GPAW (bit 0): GPAW 52 (shared bit 51) instead of 48 (shared bit 47). */
export const TDX_CONFIG_FLAGS_MAX_GPAW = 1n << 0n;
/** Config flag FLEXIBLE_PENDING_VE (bit 1). */
export const TDX_CONFIG_FLAGS_FLEXIBLE_PENDING_VE = 1n << 1n;
/** Config flag NO_RBP_MOD (bit 2): RBP is never exposed to or changed by the VMM. */
export const TDX_CONFIG_FLAGS_NO_RBP_MOD = 1n << 2n;
/** Every config flag this module supports. */
export const TDX_CONFIG_FLAGS_SUPPORTED = TDX_CONFIG_FLAGS_MAX_GPAW | TDX_CONFIG_FLAGS_FLEXIBLE_PENDING_VE | TDX_CONFIG_FLAGS_NO_RBP_MOD;

/** EPTP_CONTROLS page-walk-length field: bits 5:3 = levels - 1. */
export const EPTP_PWL_SHIFT = 3n;
/** TSC_FREQUENCY minimum (4 x 25 MHz = 100 MHz). */
export const TSC_FREQUENCY_MIN = 4;
/** TSC_FREQUENCY maximum (400 x 25 MHz = 10 GHz). */
export const TSC_FREQUENCY_MAX = 400;

/** Number of TDCS pages added by TDH.MNG.ADDCX (MIN_NUM_TDCS_PAGES, no L2 VMs). */
export const TDCS_PAGES = 6;
/** Number of TDVPS pages: the TDVPR plus TDVPS_PAGES - 1 added by TDH.VP.ADDCX. */
export const TDVPS_PAGES = 6;

/** Byte offsets in `struct tdmr_info`: base (u64). */
export const TDMR_INFO_BASE = 0;
/** Byte offsets in `struct tdmr_info`: size (u64). */
export const TDMR_INFO_SIZE = 8;
/** TDMRs are 1 GiB-aligned and a multiple of 1 GiB in size. */
export const TDMR_ALIGNMENT = 2 ** 30;

/** Size of one MRTD measurement block. */
export const MRTD_BLOCK_SIZE = 128;
/** ASCII tag of the TDH.MEM.PAGE.ADD block (bytes 0..15, zero padded). */
export const MRTD_TAG_PAGE_ADD = 'MEM.PAGE.ADD';
/** ASCII tag of the TDH.MR.EXTEND header block. */
export const MRTD_TAG_MR_EXTEND = 'MR.EXTEND';
/** Bytes of page content measured by one TDH.MR.EXTEND. */
export const MR_EXTEND_CHUNK = 256;
/** Size of a measurement register (SHA-384). */
export const MEASUREMENT_SIZE = 48;
