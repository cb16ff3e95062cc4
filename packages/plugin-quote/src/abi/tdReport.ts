/**
 * TDREPORT_STRUCT (the 1024-byte output of TDG.MR.REPORT) as the quote generation service reads
 * it: absolute offsets and sizes of the fields a DCAP TD quote body is re-packed from.
 *
 * Sources: TDX module 1.5 `include/tdx_api_defs.h` (`td_report_t`, `report_mac_struct_t`,
 * `tee_tcb_info_t`, `td_info_t`); EDK2 MdePkg/Include/IndustryStandard/Tdx.h
 * (`TDREPORT_STRUCT`); Intel DCAP `sgx_quote_4.h` (`tee_info_t`). The quote service needs only
 * these constants, so it does not depend on the TDX module package.
 * @module
 */

/** Size of TDREPORT_STRUCT. */
export const TDREPORT_SIZE = 1024;

/** REPORTMACSTRUCT.REPORTTYPE.TYPE (u8 at 0): 0x81 for a TD (0x00 = SGX). */
export const TDREPORT_TYPE = 0;
/** REPORTMACSTRUCT.REPORTTYPE.SUBTYPE (u8 at 1). */
export const TDREPORT_SUBTYPE = 1;
/** REPORTMACSTRUCT.REPORTTYPE.VERSION (u8 at 2). */
export const TDREPORT_VERSION = 2;
/** The REPORTTYPE.TYPE of a TDREPORT. */
export const TDREPORT_TYPE_TDX = 0x81;
/** REPORTMACSTRUCT.CPUSVN (16 bytes at 16). */
export const TDREPORT_CPUSVN = 16;
/** REPORTMACSTRUCT.TEE_TCB_INFO_HASH (48 bytes at 32): SHA-384 of TEE_TCB_INFO. */
export const TDREPORT_TEE_TCB_INFO_HASH = 32;
/** REPORTMACSTRUCT.TEE_INFO_HASH (48 bytes at 80): SHA-384 of TDINFO. */
export const TDREPORT_TEE_INFO_HASH = 80;
/** REPORTMACSTRUCT.REPORTDATA (64 bytes at 128). */
export const TDREPORT_REPORTDATA = 128;
/** REPORTMACSTRUCT.MAC (32 bytes at 224). */
export const TDREPORT_MAC = 224;

/** TEE_TCB_INFO (at 256; 239 bytes hashed, then 17 reserved). */
export const TDREPORT_TEE_TCB_INFO = 256;
/** Size of TEE_TCB_INFO as hashed into TEE_TCB_INFO_HASH (`sizeof(tee_tcb_info_t)`). */
export const TDREPORT_TEE_TCB_INFO_SIZE = 239;
/** TEE_TCB_INFO.VALID (8 bytes at 256). */
export const TDREPORT_TEE_TCB_VALID = 256;
/** TEE_TCB_INFO.TEE_TCB_SVN (16 bytes at 264). */
export const TDREPORT_TEE_TCB_SVN = 264;
/** TEE_TCB_INFO.MRSEAM (48 bytes at 280). */
export const TDREPORT_MRSEAM = 280;
/** TEE_TCB_INFO.MRSIGNERSEAM (48 bytes at 328). */
export const TDREPORT_MRSIGNERSEAM = 328;
/** TEE_TCB_INFO.ATTRIBUTES (8 bytes at 376): the SEAM attributes. */
export const TDREPORT_SEAM_ATTRIBUTES = 376;

/** TDINFO (512 bytes at 512, all hashed into TEE_INFO_HASH). */
export const TDREPORT_TDINFO = 512;
/** Size of TDINFO. */
export const TDREPORT_TDINFO_SIZE = 512;
/** TDINFO.ATTRIBUTES (8 bytes at 512): the TD attributes. */
export const TDREPORT_TD_ATTRIBUTES = 512;
/** TDINFO.XFAM (8 bytes at 520). */
export const TDREPORT_XFAM = 520;
/** TDINFO.MRTD (48 bytes at 528). */
export const TDREPORT_MRTD = 528;
/** TDINFO.MRCONFIGID (48 bytes at 576). */
export const TDREPORT_MRCONFIGID = 576;
/** TDINFO.MROWNER (48 bytes at 624). */
export const TDREPORT_MROWNER = 624;
/** TDINFO.MROWNERCONFIG (48 bytes at 672). */
export const TDREPORT_MROWNERCONFIG = 672;
/** TDINFO.RTMR[0..3] (4 x 48 bytes at 720). */
export const TDREPORT_RTMR = 720;
/** TDINFO.SERVTD_HASH (48 bytes at 912; TDX 1.5). */
export const TDREPORT_SERVTD_HASH = 912;
