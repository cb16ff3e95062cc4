import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as R from '../abi/tdreport.js';
import * as S from '../abi/status.js';
import type { Td } from '../module/Td.js';

/**
 * The fixed identity string of the simulated TDX module; MRSEAM is its SHA-384 (the real MRSEAM
 * is the SHA-384 of the module binary, taken by the SEAM loader).
 */
export const SIM_MODULE_IDENTITY = 'seamkit simulated Intel TDX module 1.5.01';

/** MRSEAM of the simulated module: SHA-384 of {@link SIM_MODULE_IDENTITY}. */
export const SIM_MRSEAM: Uint8Array = new Uint8Array(createHash('sha384').update(SIM_MODULE_IDENTITY, 'utf8').digest());

/** CPUSVN of the simulated CPU (simulator value), REPORTMACSTRUCT.CPUSVN. */
export const SIM_CPUSVN: Uint8Array = Uint8Array.from([0x05, 0x05, 0x02, 0x02, 0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/**
 * TEE_TCB_SVN of the simulated module (simulator value): byte 0 module SVN minor (1, for update
 * 1.5.01), byte 1 module SVN major (1), byte 2 SEAM loader patch SVN (0), the rest 0.
 */
export const SIM_TEE_TCB_SVN: Uint8Array = Uint8Array.from([0x01, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/**
 * TEE_TCB_INFO.VALID of the simulated module: one bit per populated field, bit i for the field at
 * TEE_TCB_INFO offset 8*i: TEE_TCB_SVN (8, bit 1), MRSEAM (24, bit 3), MRSIGNERSEAM (72, bit 9),
 * ATTRIBUTES (120, bit 15). TEE_TCB_SVN2 is not populated.
 */
export const SIM_TEE_TCB_INFO_VALID = (1n << 1n) | (1n << 3n) | (1n << 9n) | (1n << 15n);

/** Size of the MAC key (HMAC-SHA-256). */
export const REPORT_MAC_KEY_SIZE = 32;

/**
 * The TEE_TCB_INFO the simulated module's SEAMREPORT produces (239 bytes, `tee_tcb_info_t`):
 * VALID, TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM = 0, ATTRIBUTES = 0.
 */
export function teeTcbInfo(): Uint8Array {
  const b = new Uint8Array(R.TDREPORT_TEE_TCB_INFO_SIZE);
  const base = R.TDREPORT_TEE_TCB_INFO;
  new DataView(b.buffer).setBigUint64(R.TDREPORT_TEE_TCB_VALID - base, SIM_TEE_TCB_INFO_VALID, true);
  b.set(SIM_TEE_TCB_SVN, R.TDREPORT_TEE_TCB_SVN - base);
  b.set(SIM_MRSEAM, R.TDREPORT_MRSEAM - base);
  return b;
}

/**
 * TDINFO of a TD (512 bytes, `td_info_t`): ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER,
 * MROWNERCONFIG, RTMR[0..3], SERVTD_HASH (0: no service TD is bound), reserved 0.
 */
export function tdInfoOf(td: Td): Uint8Array {
  const b = new Uint8Array(R.TDREPORT_TDINFO_SIZE);
  const base = R.TDREPORT_TDINFO;
  const v = new DataView(b.buffer);
  v.setBigUint64(R.TDREPORT_TD_ATTRIBUTES - base, td.attributes, true);
  v.setBigUint64(R.TDREPORT_XFAM - base, td.xfam, true);
  b.set(td.mrtd, R.TDREPORT_MRTD - base);
  b.set(td.mrConfigId, R.TDREPORT_MRCONFIGID - base);
  b.set(td.mrOwner, R.TDREPORT_MROWNER - base);
  b.set(td.mrOwnerConfig, R.TDREPORT_MROWNERCONFIG - base);
  td.rtmr.forEach((rtmr, i) => b.set(rtmr, R.TDREPORT_RTMR0 - base + i * R.TDREPORT_MEASUREMENT_SIZE));
  return b;
}

/**
 * The MAC of a REPORTMACSTRUCT: HMAC-SHA-256, keyed by the platform's report key, over bytes
 * 0..223 (everything before the MAC). Real hardware uses a CPU-internal key and a model-specific
 * MAC; any party without the key cannot forge one, which is the property that matters here.
 */
export function reportMac(key: Uint8Array, reportMacStruct: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(reportMacStruct.subarray(0, R.TDREPORT_MAC)).digest());
}

/**
 * Builds the TDREPORT_STRUCT TDG.MR.REPORT returns: REPORTMACSTRUCT (REPORTTYPE 0x81/0/0,
 * CPUSVN, TEE_TCB_INFO_HASH = SHA-384(TEE_TCB_INFO), TEE_INFO_HASH = SHA-384(TDINFO),
 * REPORTDATA, MAC), TEE_TCB_INFO and TDINFO, at the offsets of `abi/tdreport.ts`.
 * @param key - the platform's report MAC key
 * @param td - the reporting TD
 * @param reportData - the 64 bytes of REPORTDATA
 */
export function buildTdReport(key: Uint8Array, td: Td, reportData: Uint8Array): Uint8Array {
  const report = new Uint8Array(R.TDREPORT_SIZE);
  const tcb = teeTcbInfo();
  const info = tdInfoOf(td);
  report[R.TDREPORT_REPORTTYPE_TYPE] = R.TDX_REPORT_TYPE;
  report[R.TDREPORT_REPORTTYPE_SUBTYPE] = R.TDX_REPORT_SUBTYPE;
  report[R.TDREPORT_REPORTTYPE_VERSION] = R.TDX_REPORT_VERSION_NO_SERVTDS;
  report.set(SIM_CPUSVN, R.TDREPORT_CPUSVN);
  report.set(createHash('sha384').update(tcb).digest(), R.TDREPORT_TEE_TCB_INFO_HASH);
  report.set(createHash('sha384').update(info).digest(), R.TDREPORT_TEE_INFO_HASH);
  report.set(reportData.subarray(0, R.TDREPORT_REPORTDATA_SIZE), R.TDREPORT_REPORTDATA);
  report.set(reportMac(key, report.subarray(0, R.TDREPORT_REPORTMACSTRUCT_SIZE)), R.TDREPORT_MAC);
  report.set(tcb, R.TDREPORT_TEE_TCB_INFO);
  report.set(info, R.TDREPORT_TDINFO);
  return report;
}

/**
 * SEAMVERIFYREPORT as TDG.MR.VERIFYREPORT uses it: a REPORTMACSTRUCT from another CPUSVN cannot
 * be checked (TDX_INVALID_CPUSVN); a MAC that does not match is TDX_INVALID_REPORTMACSTRUCT;
 * otherwise TDX_SUCCESS.
 */
export function verifyReportMacStruct(key: Uint8Array, reportMacStruct: Uint8Array): bigint {
  const svn = reportMacStruct.subarray(R.TDREPORT_CPUSVN, R.TDREPORT_CPUSVN + R.TDREPORT_CPUSVN_SIZE);
  if (!timingSafeEqual(svn, SIM_CPUSVN)) return S.TDX_INVALID_CPUSVN;
  const mac = reportMacStruct.subarray(R.TDREPORT_MAC, R.TDREPORT_MAC + R.TDREPORT_MAC_SIZE);
  return timingSafeEqual(mac, reportMac(key, reportMacStruct)) ? S.TDX_SUCCESS : S.TDX_INVALID_REPORTMACSTRUCT;
}

/** RTMR[i] = SHA-384(RTMR[i] || extension): extends one runtime measurement register in place. */
export function extendRtmr(rtmr: Uint8Array, extension: Uint8Array): void {
  rtmr.set(createHash('sha384').update(rtmr).update(extension).digest());
}
