import { CpuMode, type LogicalProcessor } from '@seamkit/seam-cpu';
import { PAGE_SIZE, R8, R9, RCX, RDX } from '@seamkit/seam-cpu/abi';
import * as M from '../abi/metadata.js';
import { SYS_SHUTDOWN } from '../abi/states.js';
import * as S from '../abi/status.js';
import {
  TD_ATTR_SUPPORTED, TDCS_PAGES, TDVPS_PAGES, TDX_CONFIG_FLAGS_SUPPORTED,
} from '../abi/structures.js';
import { cpuidConfigValue, cpuidLeafSubleaf, SIM_CPUID_CONFIGURABLE } from './cpuidConfig.js';
import { ALL, isNullFieldId, MdTable, mdField, type MdRefs } from './metadata.js';
import { fail, setStatus } from './status.js';
import type { TdxModule } from './TdxModule.js';

/**
 * What the simulated module reports about itself (TDSYSINFO_STRUCT and global metadata). Values
 * marked "simulator" are choices of seamkit; the others are the TDX module 1.5 constants named.
 */
export const SIM_MODULE_INFO = {
  /** VENDOR_ID: Intel. */
  vendorId: 0x8086,
  /** MAJOR_VERSION (module 1.5.01). */
  majorVersion: 1,
  /** MINOR_VERSION. */
  minorVersion: 5,
  /** UPDATE_VERSION. */
  updateVersion: 1,
  /** INTERNAL_VERSION (simulator). */
  internalVersion: 0,
  /** BUILD_DATE, YYYYMMDD (simulator). */
  buildDate: 20231002,
  /** BUILD_NUM (simulator). */
  buildNum: 0,
  /** MODULE_HV and MIN_UPDATE_HV: the only handoff version TDH.SYS.SHUTDOWN accepts (simulator). */
  handoffVersion: 0,
  /** MAX_TDMRS (module `MAX_TDMRS`). */
  maxTdmrs: 64,
  /** MAX_RESERVED_PER_TDMR (module `MAX_RESERVED_AREAS`). */
  maxReservedPerTdmr: 16,
  /** PAMT entry size in bytes (`sizeof(pamt_entry_t)`), for 4K, 2M and 1G. */
  pamtEntrySize: 16,
  /** MAX_VCPUS_PER_TD (module `MAX_VCPUS_PER_TD`). */
  maxVcpusPerTd: 576,
  /** TDX_FEATURES0: NO_RBP_MOD (bit 18), which KVM requires. */
  tdxFeatures0: M.TDX_FEATURES0_NO_RBP_MOD,
  /** XFAM_FIXED0 (simulator CPU): x87, SSE, AVX, AVX-512 opmask/ZMM (5..7), PKRU (9). */
  xfamFixed0: 0x2e7n,
  /** XFAM_FIXED1: x87 and SSE are mandatory. */
  xfamFixed1: 0x3n,
  /** NUM_CPUID_CONFIG: entries of the CPUID_CONFIG table (`SIM_CPUID_CONFIGURABLE`: leaves 0x1, 0x7/0, 0x7/1, 0x80000008). */
  numCpuidConfig: SIM_CPUID_CONFIGURABLE.length,
} as const;

/** TDSYSINFO_STRUCT size (also the alignment of its PA). */
export const TDSYSINFO_STRUCT_SIZE = 1024;
/** Number of CMR_INFO entries TDH.SYS.INFO writes (module `MAX_CMR`); the array must be aligned to 32 * 16. */
export const MAX_CMR = 32;
/** Size of one CMR_INFO entry (base, size). */
export const CMR_INFO_ENTRY_SIZE = 16;

/** Byte offsets in TDSYSINFO_STRUCT (`td_sys_info_t`, TDX module 1.5 tdx_api_defs.h). */
export const TDSYSINFO = {
  /** ATTRIBUTES (4 bytes; bit 31 debug module). */
  ATTRIBUTES: 0,
  /** VENDOR_ID (4). */
  VENDOR_ID: 4,
  /** BUILD_DATE (4). */
  BUILD_DATE: 8,
  /** BUILD_NUM (2). */
  BUILD_NUM: 12,
  /** MINOR_VERSION (2). */
  MINOR_VERSION: 14,
  /** MAJOR_VERSION (2). */
  MAJOR_VERSION: 16,
  /** SYS_RD (1): 1 = use TDH.SYS.RD for the rest. */
  SYS_RD: 18,
  /** MAX_TDMRS (2). */
  MAX_TDMRS: 32,
  /** MAX_RESERVED_PER_TDMR (2). */
  MAX_RESERVED_PER_TDMR: 34,
  /** PAMT_ENTRY_SIZE (2). */
  PAMT_ENTRY_SIZE: 36,
  /** TDCS_BASE_SIZE (2). */
  TDCS_BASE_SIZE: 48,
  /** TDVPS_BASE_SIZE (2). */
  TDVPS_BASE_SIZE: 52,
  /** TDVPS_XFAM_DEPENDENT_SIZE (1). */
  TDVPS_XFAM_DEPENDENT_SIZE: 54,
  /** ATTRIBUTES_FIXED0 (8). */
  ATTRIBUTES_FIXED0: 64,
  /** ATTRIBUTES_FIXED1 (8). */
  ATTRIBUTES_FIXED1: 72,
  /** XFAM_FIXED0 (8). */
  XFAM_FIXED0: 80,
  /** XFAM_FIXED1 (8). */
  XFAM_FIXED1: 88,
  /** NUM_CPUID_CONFIG (4). */
  NUM_CPUID_CONFIG: 128,
  /** CPUID_CONFIG list (24 bytes each: leaf, subleaf, eax, ebx, ecx, edx). */
  CPUID_CONFIG_LIST: 132,
} as const;

/** Size of one TDSYSINFO_STRUCT CPUID_CONFIG entry (`cpuid_config_t`: leaf, subleaf, EAX, EBX, ECX, EDX). */
export const TDSYSINFO_CPUID_CONFIG_SIZE = 24;

/** CPUID_CONFIG_VALUES element `index` (field index / 2, element index % 2): EBX:EAX or EDX:ECX. */
function cpuidConfigElement(index: number): bigint {
  const [eax, ebx, ecx, edx] = cpuidConfigValue(index >> 1);
  return (index & 1) === 0 ? (BigInt(ebx) << 32n) | BigInt(eax) : (BigInt(edx) << 32n) | BigInt(ecx);
}

/** The CMRs the simulated platform reports: one range over all physical memory. */
export function cmrsOf(m: TdxModule): readonly (readonly [number, number])[] {
  return [[0, Math.floor(m.cpu.memory.size / PAGE_SIZE) * PAGE_SIZE]];
}

const I = SIM_MODULE_INFO;
const n = (v: number | bigint): (() => bigint) => () => BigInt(v);

/**
 * The global metadata fields the simulated module implements (TDH.SYS.RD, TDG.SYS.RD), in the
 * order of the module's `global_sys_lookup`. Guest-readable (TDG.SYS.RD): VENDOR_ID,
 * MINOR_VERSION, MAJOR_VERSION, SYS_ATTRIBUTES, NUM_TDX_FEATURES, TDX_FEATURES0.
 */
export const SYS_METADATA = new MdTable([
  mdField('VENDOR_ID', M.MD_SYS_VENDOR_ID, { hostRd: ALL, guestRd: ALL, read: n(I.vendorId) }),
  mdField('BUILD_DATE', M.MD_SYS_BUILD_DATE, { hostRd: ALL, read: n(I.buildDate) }),
  mdField('BUILD_NUM', M.MD_SYS_BUILD_NUM, { hostRd: ALL, read: n(I.buildNum) }),
  mdField('MINOR_VERSION', M.MD_SYS_MINOR_VERSION, { hostRd: ALL, guestRd: ALL, read: n(I.minorVersion) }),
  mdField('MAJOR_VERSION', M.MD_SYS_MAJOR_VERSION, { hostRd: ALL, guestRd: ALL, read: n(I.majorVersion) }),
  mdField('UPDATE_VERSION', M.MD_SYS_UPDATE_VERSION, { hostRd: ALL, read: n(I.updateVersion) }),
  mdField('INTERNAL_VERSION', M.MD_SYS_INTERNAL_VERSION, { hostRd: ALL, read: n(I.internalVersion) }),
  mdField('MODULE_HV', M.MD_SYS_MODULE_HV, { hostRd: ALL, read: n(I.handoffVersion) }),
  mdField('MIN_UPDATE_HV', M.MD_SYS_MIN_UPDATE_HV, { hostRd: ALL, read: n(I.handoffVersion) }),
  mdField('NO_DOWNGRADE', M.MD_SYS_NO_DOWNGRADE, { hostRd: ALL, read: n(0) }),
  mdField('SYS_ATTRIBUTES', M.MD_SYS_ATTRIBUTES, { hostRd: ALL, guestRd: ALL, read: n(0) }),
  mdField('NUM_TDX_FEATURES', M.MD_SYS_NUM_TDX_FEATURES, { hostRd: ALL, guestRd: ALL, read: n(1) }),
  mdField('TDX_FEATURES0', M.MD_SYS_TDX_FEATURES0, { hostRd: ALL, guestRd: ALL, read: n(I.tdxFeatures0) }),
  mdField('NUM_CMRS', M.MD_SYS_NUM_CMRS, { hostRd: ALL, read: (r) => BigInt(cmrsOf(r.m).length) }),
  mdField('CMR_BASE', M.MD_SYS_CMR_BASE, { hostRd: ALL, numFields: MAX_CMR, read: (r, i) => BigInt(cmrsOf(r.m)[i]?.[0] ?? 0) }),
  mdField('CMR_SIZE', M.MD_SYS_CMR_SIZE, { hostRd: ALL, numFields: MAX_CMR, read: (r, i) => BigInt(cmrsOf(r.m)[i]?.[1] ?? 0) }),
  mdField('MAX_TDMRS', M.MD_SYS_MAX_TDMRS, { hostRd: ALL, read: n(I.maxTdmrs) }),
  mdField('MAX_RESERVED_PER_TDMR', M.MD_SYS_MAX_RESERVED_PER_TDMR, { hostRd: ALL, read: n(I.maxReservedPerTdmr) }),
  mdField('PAMT_4K_ENTRY_SIZE', M.MD_SYS_PAMT_4K_ENTRY_SIZE, { hostRd: ALL, read: n(I.pamtEntrySize) }),
  mdField('PAMT_2M_ENTRY_SIZE', M.MD_SYS_PAMT_2M_ENTRY_SIZE, { hostRd: ALL, read: n(I.pamtEntrySize) }),
  mdField('PAMT_1G_ENTRY_SIZE', M.MD_SYS_PAMT_1G_ENTRY_SIZE, { hostRd: ALL, read: n(I.pamtEntrySize) }),
  mdField('TDR_BASE_SIZE', M.MD_SYS_TDR_BASE_SIZE, { hostRd: ALL, read: n(PAGE_SIZE) }),
  mdField('TDCS_BASE_SIZE', M.MD_SYS_TDCS_BASE_SIZE, { hostRd: ALL, read: n(PAGE_SIZE * TDCS_PAGES) }),
  mdField('TDVPS_BASE_SIZE', M.MD_SYS_TDVPS_BASE_SIZE, { hostRd: ALL, read: n(PAGE_SIZE * TDVPS_PAGES) }),
  mdField('ATTRIBUTES_FIXED0', M.MD_SYS_ATTRIBUTES_FIXED0, { hostRd: ALL, read: n(TD_ATTR_SUPPORTED) }),
  mdField('ATTRIBUTES_FIXED1', M.MD_SYS_ATTRIBUTES_FIXED1, { hostRd: ALL, read: n(0) }),
  mdField('XFAM_FIXED0', M.MD_SYS_XFAM_FIXED0, { hostRd: ALL, read: n(I.xfamFixed0) }),
  mdField('XFAM_FIXED1', M.MD_SYS_XFAM_FIXED1, { hostRd: ALL, read: n(I.xfamFixed1) }),
  mdField('NUM_CPUID_CONFIG', M.MD_SYS_NUM_CPUID_CONFIG, { hostRd: ALL, read: n(I.numCpuidConfig) }),
  mdField('CONFIG_FLAGS_FIXED0', M.MD_SYS_CONFIG_FLAGS_FIXED0, { hostRd: ALL, read: n(TDX_CONFIG_FLAGS_SUPPORTED) }),
  mdField('CONFIG_FLAGS_FIXED1', M.MD_SYS_CONFIG_FLAGS_FIXED1, { hostRd: ALL, read: n(0) }),
  mdField('MAX_VCPUS_PER_TD', M.MD_SYS_MAX_VCPUS_PER_TD, { hostRd: ALL, read: n(I.maxVcpusPerTd) }),
  mdField('CPUID_CONFIG_LEAVES', M.MD_SYS_CPUID_CONFIG_LEAVES, {
    hostRd: ALL, numFields: SIM_CPUID_CONFIGURABLE.length,
    read: (_r, i) => cpuidLeafSubleaf(SIM_CPUID_CONFIGURABLE[i]!.leaf, SIM_CPUID_CONFIGURABLE[i]!.subleaf),
  }),
  mdField('CPUID_CONFIG_VALUES', M.MD_SYS_CPUID_CONFIG_VALUES, {
    hostRd: ALL, numFields: SIM_CPUID_CONFIGURABLE.length, numElems: 2, read: (_r, i) => cpuidConfigElement(i),
  }),
]);

/** True when `pa` is a host address `size` bytes long inside physical memory and aligned to `align`. */
function hostBufferOk(m: TdxModule, pa: bigint, size: number, align: number): boolean {
  return pa % BigInt(align) === 0n && pa + BigInt(size) <= BigInt(m.cpu.memory.size);
}

/**
 * TDH.SYS.INFO (32): RCX = PA of TDSYSINFO_STRUCT (1024 bytes, 1 KiB aligned), RDX = its size
 * (at least 1024), R8 = PA of the CMR_INFO array (aligned to 32 * 16 bytes), R9 = its number of
 * entries (at least 32). Writes both and returns RDX = 1024, R9 = 32 (0 and 0 on failure).
 * Needs TDH.SYS.LP.INIT on this LP. The simulator checks every operand before it writes.
 */
export function tdhSysInfo(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const infoPa = r.get(RCX);
  const size = r.get(RDX);
  const cmrPa = r.get(R8);
  const cmrCount = r.get(R9);
  r.set(RDX, 0n);
  r.set(R9, 0n);
  if (m.lpInitDone[lp.index] !== true) return fail(r, S.TDX_SYS_LP_INIT_NOT_DONE);
  if (!hostBufferOk(m, infoPa, TDSYSINFO_STRUCT_SIZE, TDSYSINFO_STRUCT_SIZE)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  if (size < BigInt(TDSYSINFO_STRUCT_SIZE)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RDX);
  const cmrBytes = MAX_CMR * CMR_INFO_ENTRY_SIZE;
  if (!hostBufferOk(m, cmrPa, cmrBytes, cmrBytes)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_R8);
  if (cmrCount < BigInt(MAX_CMR)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_R9);

  const info = new Uint8Array(TDSYSINFO_STRUCT_SIZE);
  const v = new DataView(info.buffer);
  v.setUint32(TDSYSINFO.ATTRIBUTES, 0, true);
  v.setUint32(TDSYSINFO.VENDOR_ID, I.vendorId, true);
  v.setUint32(TDSYSINFO.BUILD_DATE, I.buildDate, true);
  v.setUint16(TDSYSINFO.BUILD_NUM, I.buildNum, true);
  v.setUint16(TDSYSINFO.MINOR_VERSION, I.minorVersion, true);
  v.setUint16(TDSYSINFO.MAJOR_VERSION, I.majorVersion, true);
  v.setUint8(TDSYSINFO.SYS_RD, 1);
  v.setUint16(TDSYSINFO.MAX_TDMRS, I.maxTdmrs, true);
  v.setUint16(TDSYSINFO.MAX_RESERVED_PER_TDMR, I.maxReservedPerTdmr, true);
  v.setUint16(TDSYSINFO.PAMT_ENTRY_SIZE, I.pamtEntrySize, true);
  v.setUint16(TDSYSINFO.TDCS_BASE_SIZE, PAGE_SIZE * TDCS_PAGES, true);
  v.setUint16(TDSYSINFO.TDVPS_BASE_SIZE, PAGE_SIZE * TDVPS_PAGES, true);
  v.setUint8(TDSYSINFO.TDVPS_XFAM_DEPENDENT_SIZE, 0);
  v.setBigUint64(TDSYSINFO.ATTRIBUTES_FIXED0, TD_ATTR_SUPPORTED, true);
  v.setBigUint64(TDSYSINFO.ATTRIBUTES_FIXED1, 0n, true);
  v.setBigUint64(TDSYSINFO.XFAM_FIXED0, I.xfamFixed0, true);
  v.setBigUint64(TDSYSINFO.XFAM_FIXED1, I.xfamFixed1, true);
  v.setUint32(TDSYSINFO.NUM_CPUID_CONFIG, I.numCpuidConfig, true);
  SIM_CPUID_CONFIGURABLE.forEach((c, i) => {
    const o = TDSYSINFO.CPUID_CONFIG_LIST + i * TDSYSINFO_CPUID_CONFIG_SIZE;
    v.setUint32(o, c.leaf, true);
    v.setUint32(o + 4, c.subleaf, true);
    cpuidConfigValue(i).forEach((reg, k) => v.setUint32(o + 8 + k * 4, reg, true));
  });
  const cmrs = new Uint8Array(cmrBytes);
  const cv = new DataView(cmrs.buffer);
  cmrsOf(m).forEach(([base, len], i) => {
    cv.setBigUint64(i * CMR_INFO_ENTRY_SIZE, BigInt(base), true);
    cv.setBigUint64(i * CMR_INFO_ENTRY_SIZE + 8, BigInt(len), true);
  });
  m.cpu.memory.write(Number(infoPa), info);
  m.cpu.memory.write(Number(cmrPa), cmrs);
  r.setNumber(RDX, TDSYSINFO_STRUCT_SIZE);
  r.setNumber(R9, MAX_CMR);
  setStatus(r, S.TDX_SUCCESS);
}

/**
 * TDH.SYS.RD (34): RDX = field id. Returns R8 = the value and RDX = the id of the next readable
 * field (MD_FIELD_ID_NA after the last). A null field id returns
 * TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT with RDX = the first id. On failure R8 = 0 and
 * RDX = MD_FIELD_ID_NA. Needs TDH.SYS.LP.INIT on this LP; allowed before SYS_READY.
 */
export function tdhSysRd(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  const id = r.get(RDX);
  r.set(RDX, M.MD_FIELD_ID_NA);
  r.set(R8, 0n);
  if (m.lpInitDone[lp.index] !== true) return fail(r, S.TDX_SYS_LP_INIT_NOT_DONE);
  const refs: MdRefs = { m, debug: false };
  if (isNullFieldId(id)) {
    r.set(RDX, SYS_METADATA.first('host', false));
    return setStatus(r, S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
  }
  const res = SYS_METADATA.read(id, 'host', refs);
  r.set(R8, res.value);
  if (res.status === S.TDX_SUCCESS) r.set(RDX, res.next);
  setStatus(r, res.status);
}

/**
 * TDH.SYS.LP.SHUTDOWN (44): deprecated in 1.5 (the module keeps it as a no-op for legacy VMMs)
 * and always succeeds; it is the only leaf accepted once the module is in SYS_SHUTDOWN.
 */
export function tdhSysLpShutdown(_m: TdxModule, lp: LogicalProcessor): void {
  setStatus(lp.regs, S.TDX_SUCCESS);
}

/**
 * TDH.SYS.SHUTDOWN (52): RCX = handoff version, which must lie in [MIN_UPDATE_HV, MODULE_HV]
 * (else TDX_OPERAND_INVALID | RCX). Fails with TDX_SYS_BUSY while another LP is inside SEAM.
 * Then the module is in SYS_SHUTDOWN: every later SEAMCALL but TDH.SYS.LP.SHUTDOWN gets
 * TDX_SYS_SHUTDOWN. Only accepted in SYS_READY (the dispatcher answers TDX_SYS_NOT_READY before).
 */
export function tdhSysShutdown(m: TdxModule, lp: LogicalProcessor): void {
  const r = lp.regs;
  if (r.get(RCX) !== BigInt(I.handoffVersion)) return fail(r, S.TDX_OPERAND_INVALID, S.TDX_OPERAND_ID_RCX);
  if (m.cpu.lps.some((other) => other !== lp && other.mode !== CpuMode.VMX_ROOT)) return fail(r, S.TDX_SYS_BUSY);
  m.sysState = SYS_SHUTDOWN;
  setStatus(r, S.TDX_SUCCESS);
}
