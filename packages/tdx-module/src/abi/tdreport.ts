/**
 * TDREPORT_STRUCT (output of TDG.MR.REPORT, 1024 bytes): absolute byte offsets and sizes of
 * REPORTMACSTRUCT, TEE_TCB_INFO and TDINFO. Constants only.
 *
 * Sources: TDX module 1.5 include/tdx_api_defs.h (`report_mac_struct_t`, `tee_tcb_info_t`
 * (239 bytes) followed by 17 reserved bytes, `td_info_t`, `td_report_t`, TDX_REPORT_TYPE 0x81);
 * EDK2 MdePkg/Include/IndustryStandard/Tdx.h (`TDREPORT_STRUCT`); DCAP sgx_quote_4.h
 * (`tee_info_t` offsets); Linux include/uapi/linux/tdx-guest.h (TDX_REPORTDATA_LEN 64,
 * TDX_REPORT_LEN 1024); reference tdx-module-abi.md §8.
 * @module
 */

/** Size of TDREPORT_STRUCT (Linux TDX_REPORT_LEN); the output GPA must be aligned to it. */
export const TDREPORT_SIZE = 1024;
/** Size of REPORTDATA (Linux TDX_REPORTDATA_LEN); its GPA must be 64-byte aligned. */
export const TDREPORT_REPORTDATA_SIZE = 64;
/** Size of a measurement (SHA-384). */
export const TDREPORT_MEASUREMENT_SIZE = 48;

/** REPORTMACSTRUCT: offset. */
export const TDREPORT_REPORTMACSTRUCT = 0;
/** REPORTMACSTRUCT: size. */
export const TDREPORT_REPORTMACSTRUCT_SIZE = 256;
/** REPORTTYPE (4 bytes: type, subtype, version, reserved). */
export const TDREPORT_REPORTTYPE = 0;
/** REPORTTYPE.TYPE (1 byte): 0x81 = TDX. */
export const TDREPORT_REPORTTYPE_TYPE = 0;
/** REPORTTYPE.SUBTYPE (1 byte): 0. */
export const TDREPORT_REPORTTYPE_SUBTYPE = 1;
/** REPORTTYPE.VERSION (1 byte): 0 without service TDs, 1 with. */
export const TDREPORT_REPORTTYPE_VERSION = 2;
/** CPUSVN (16 bytes). */
export const TDREPORT_CPUSVN = 16;
/** Size of CPUSVN. */
export const TDREPORT_CPUSVN_SIZE = 16;
/** TEE_TCB_INFO_HASH = SHA-384(TEE_TCB_INFO) (48 bytes). */
export const TDREPORT_TEE_TCB_INFO_HASH = 32;
/** TEE_INFO_HASH = SHA-384(TDINFO) (48 bytes). */
export const TDREPORT_TEE_INFO_HASH = 80;
/** REPORTDATA (64 bytes). */
export const TDREPORT_REPORTDATA = 128;
/** MAC over REPORTMACSTRUCT bytes 0..223 (32 bytes). */
export const TDREPORT_MAC = 224;
/** Size of the MAC. */
export const TDREPORT_MAC_SIZE = 32;

/** TEE_TCB_INFO: offset. */
export const TDREPORT_TEE_TCB_INFO = 256;
/** TEE_TCB_INFO: size of the structure that is hashed (`sizeof(tee_tcb_info_t)`). */
export const TDREPORT_TEE_TCB_INFO_SIZE = 239;
/** TEE_TCB_INFO.VALID (8 bytes): bit i set = the field at TEE_TCB_INFO offset 8*i is populated. */
export const TDREPORT_TEE_TCB_VALID = 256;
/** TEE_TCB_INFO.TEE_TCB_SVN (16 bytes: module SVN minor, module SVN major, SEAM loader patch SVN, ...). */
export const TDREPORT_TEE_TCB_SVN = 264;
/** Size of TEE_TCB_SVN. */
export const TDREPORT_TEE_TCB_SVN_SIZE = 16;
/** TEE_TCB_INFO.MRSEAM (48 bytes). */
export const TDREPORT_MRSEAM = 280;
/** TEE_TCB_INFO.MRSIGNERSEAM (48 bytes; 0 for the Intel module). */
export const TDREPORT_MRSIGNERSEAM = 328;
/** TEE_TCB_INFO.ATTRIBUTES (8 bytes; 0 for the Intel module). */
export const TDREPORT_SEAM_ATTRIBUTES = 376;
/** TEE_TCB_INFO.TEE_TCB_SVN2 (16 bytes, 1.5 headers). */
export const TDREPORT_TEE_TCB_SVN2 = 384;

/** TDINFO: offset. */
export const TDREPORT_TDINFO = 512;
/** TDINFO: size (hashed whole into TEE_INFO_HASH). */
export const TDREPORT_TDINFO_SIZE = 512;
/** TDINFO.ATTRIBUTES (8 bytes). */
export const TDREPORT_TD_ATTRIBUTES = 512;
/** TDINFO.XFAM (8 bytes). */
export const TDREPORT_XFAM = 520;
/** TDINFO.MRTD (48 bytes). */
export const TDREPORT_MRTD = 528;
/** TDINFO.MRCONFIGID (48 bytes). */
export const TDREPORT_MRCONFIGID = 576;
/** TDINFO.MROWNER (48 bytes). */
export const TDREPORT_MROWNER = 624;
/** TDINFO.MROWNERCONFIG (48 bytes). */
export const TDREPORT_MROWNERCONFIG = 672;
/** TDINFO.RTMR[0] (48 bytes); RTMR[i] is at this + 48 * i (720, 768, 816, 864). */
export const TDREPORT_RTMR0 = 720;
/** TDINFO.SERVTD_HASH (48 bytes; 0 when no service TD is bound). */
export const TDREPORT_SERVTD_HASH = 912;

/** REPORTTYPE.TYPE of a TDX report (`TDX_REPORT_TYPE`). */
export const TDX_REPORT_TYPE = 0x81;
/** REPORTTYPE.SUBTYPE accepted by TDG.MR.REPORT (`TDX_REPORT_SUBTYPE`). */
export const TDX_REPORT_SUBTYPE = 0;
/** REPORTTYPE.VERSION without service TDs (`TDX_REPORT_VERSION_NO_SERVTDS`). */
export const TDX_REPORT_VERSION_NO_SERVTDS = 0;
/** Number of RTMRs. */
export const NUM_RTMRS = 4;
