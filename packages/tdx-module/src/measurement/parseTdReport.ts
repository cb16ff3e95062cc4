import * as R from '../abi/tdreport.js';
import { moduleError } from '../errors.js';

/** A TDREPORT_STRUCT split into named fields (byte arrays are copies). */
export interface TdReport {
  /** REPORTTYPE.TYPE: 0x81 for TDX. */
  readonly reportType: number;
  /** REPORTTYPE.SUBTYPE. */
  readonly reportSubtype: number;
  /** REPORTTYPE.VERSION: 0 without service TDs, 1 with. */
  readonly reportVersion: number;
  /** CPUSVN (16 bytes). */
  readonly cpuSvn: Uint8Array;
  /** TEE_TCB_INFO_HASH = SHA-384(TEE_TCB_INFO) (48 bytes). */
  readonly teeTcbInfoHash: Uint8Array;
  /** TEE_INFO_HASH = SHA-384(TDINFO) (48 bytes). */
  readonly teeInfoHash: Uint8Array;
  /** REPORTDATA (64 bytes). */
  readonly reportData: Uint8Array;
  /** MAC over REPORTMACSTRUCT bytes 0..223 (32 bytes). */
  readonly mac: Uint8Array;
  /** The whole REPORTMACSTRUCT (256 bytes), e.g. for TDG.MR.VERIFYREPORT. */
  readonly reportMacStruct: Uint8Array;
  /** TEE_TCB_INFO.VALID bitmap. */
  readonly teeTcbInfoValid: bigint;
  /** TEE_TCB_INFO.TEE_TCB_SVN (16 bytes). */
  readonly teeTcbSvn: Uint8Array;
  /** TEE_TCB_INFO.MRSEAM (48 bytes). */
  readonly mrSeam: Uint8Array;
  /** TEE_TCB_INFO.MRSIGNERSEAM (48 bytes). */
  readonly mrSignerSeam: Uint8Array;
  /** TEE_TCB_INFO.ATTRIBUTES (SEAM attributes). */
  readonly seamAttributes: bigint;
  /** The TEE_TCB_INFO bytes that are hashed (239). */
  readonly teeTcbInfo: Uint8Array;
  /** TDINFO.ATTRIBUTES (TD attributes). */
  readonly tdAttributes: bigint;
  /** TDINFO.XFAM. */
  readonly xfam: bigint;
  /** TDINFO.MRTD (48 bytes). */
  readonly mrTd: Uint8Array;
  /** TDINFO.MRCONFIGID (48 bytes). */
  readonly mrConfigId: Uint8Array;
  /** TDINFO.MROWNER (48 bytes). */
  readonly mrOwner: Uint8Array;
  /** TDINFO.MROWNERCONFIG (48 bytes). */
  readonly mrOwnerConfig: Uint8Array;
  /** TDINFO.RTMR[0..3] (48 bytes each). */
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** TDINFO.SERVTD_HASH (48 bytes). */
  readonly servTdHash: Uint8Array;
  /** The whole TDINFO (512 bytes). */
  readonly tdInfo: Uint8Array;
}

/**
 * Splits a 1024-byte TDREPORT_STRUCT (TDG.MR.REPORT output, the input of a quote) into its named
 * fields, at the offsets of `abi/tdreport.ts`. Checks nothing but the length (it does not verify
 * the MAC).
 * @throws SEAMKIT_ERR_MODULE_TDREPORT_SIZE if `bytes` is not 1024 bytes long
 */
export function parseTdReport(bytes: Uint8Array): TdReport {
  if (bytes.length !== R.TDREPORT_SIZE) throw moduleError('SEAMKIT_ERR_MODULE_TDREPORT_SIZE', [bytes.length]);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (off: number, len: number): Uint8Array => bytes.slice(off, off + len);
  const mr = (off: number): Uint8Array => at(off, R.TDREPORT_MEASUREMENT_SIZE);
  return {
    reportType: bytes[R.TDREPORT_REPORTTYPE_TYPE]!,
    reportSubtype: bytes[R.TDREPORT_REPORTTYPE_SUBTYPE]!,
    reportVersion: bytes[R.TDREPORT_REPORTTYPE_VERSION]!,
    cpuSvn: at(R.TDREPORT_CPUSVN, R.TDREPORT_CPUSVN_SIZE),
    teeTcbInfoHash: mr(R.TDREPORT_TEE_TCB_INFO_HASH),
    teeInfoHash: mr(R.TDREPORT_TEE_INFO_HASH),
    reportData: at(R.TDREPORT_REPORTDATA, R.TDREPORT_REPORTDATA_SIZE),
    mac: at(R.TDREPORT_MAC, R.TDREPORT_MAC_SIZE),
    reportMacStruct: at(R.TDREPORT_REPORTMACSTRUCT, R.TDREPORT_REPORTMACSTRUCT_SIZE),
    teeTcbInfoValid: v.getBigUint64(R.TDREPORT_TEE_TCB_VALID, true),
    teeTcbSvn: at(R.TDREPORT_TEE_TCB_SVN, R.TDREPORT_TEE_TCB_SVN_SIZE),
    mrSeam: mr(R.TDREPORT_MRSEAM),
    mrSignerSeam: mr(R.TDREPORT_MRSIGNERSEAM),
    seamAttributes: v.getBigUint64(R.TDREPORT_SEAM_ATTRIBUTES, true),
    teeTcbInfo: at(R.TDREPORT_TEE_TCB_INFO, R.TDREPORT_TEE_TCB_INFO_SIZE),
    tdAttributes: v.getBigUint64(R.TDREPORT_TD_ATTRIBUTES, true),
    xfam: v.getBigUint64(R.TDREPORT_XFAM, true),
    mrTd: mr(R.TDREPORT_MRTD),
    mrConfigId: mr(R.TDREPORT_MRCONFIGID),
    mrOwner: mr(R.TDREPORT_MROWNER),
    mrOwnerConfig: mr(R.TDREPORT_MROWNERCONFIG),
    rtmr: [mr(R.TDREPORT_RTMR0), mr(R.TDREPORT_RTMR0 + 48), mr(R.TDREPORT_RTMR0 + 96), mr(R.TDREPORT_RTMR0 + 144)],
    servTdHash: mr(R.TDREPORT_SERVTD_HASH),
    tdInfo: at(R.TDREPORT_TDINFO, R.TDREPORT_TDINFO_SIZE),
  };
}
