import type { LogicalProcessor } from '@seamkit/seam-cpu';
import {
  MD_SYS_CPUID_CONFIG_LEAVES, MD_SYS_CPUID_CONFIG_VALUES, MD_SYS_NUM_CPUID_CONFIG, TD_PARAMS_CPUID_CONFIG,
  TD_PARAMS_CPUID_CONFIG_ENTRY_SIZE, TDX_SUCCESS, type TdxHost,
} from '@seamkit/tdx-module';
import { KvmCpuid, type KvmCpuidEntry2 } from './devices/Cpuid.js';
import { kvmError } from './errors.js';
import { EINVAL, EIO } from './uapi/errno.js';
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from './uapi/x86.js';

/** `struct kvm_cpuid2`: `nent` entries (KVM_TDX_CAPABILITIES' `cpuid`, KVM_TDX_GET_CPUID). */
export interface KvmCpuid2 {
  /** Number of entries. */
  readonly nent: number;
  /** The entries. */
  readonly entries: readonly KvmCpuidEntry2[];
}

/**
 * The CPUID part of Linux's `struct tdx_sys_info_td_conf`, read once from the TDX module's global
 * metadata at boot (tdx_global_metadata.c: NUM_CPUID_CONFIG, CPUID_CONFIG_LEAVES[i],
 * CPUID_CONFIG_VALUES[i][0..1]).
 */
export interface TdxCpuidConf {
  /** num_cpuid_config. */
  readonly numCpuidConfig: number;
  /** cpuid_config_leaves[i]: leaf in bits 31:0, subleaf in 63:32 (0xFFFFFFFF: none). */
  readonly leaves: readonly bigint[];
  /** cpuid_config_values[i]: [EBX:EAX, EDX:ECX], the bits the VMM may configure. */
  readonly values: readonly (readonly [bigint, bigint])[];
}

/** KVM_TDX_CPUID_NO_SUBLEAF: the subleaf of a configurable leaf without subleaves. */
export const KVM_TDX_CPUID_NO_SUBLEAF = 0xffff_ffff;
/** KVM's TD_MD_FIELD_ID_CPUID_VALUES (tdx_arch.h): the TDCS CPUID values, read with TDH.MNG.RD. */
export const TD_MD_FIELD_ID_CPUID_VALUES = 0x9410_0003_0000_0000n;
/** TDX_MD_UNREADABLE_LEAF_MASK (GENMASK(30, 7)): leaf bits a CPUID_VALUES field id cannot carry. */
const TDX_MD_UNREADABLE_LEAF_MASK = 0x7fff_ff80;
/** KVM_MAX_CPUID_ENTRIES. */
const MAX_ENTRIES = 256;

/**
 * Reads the CPUID configuration table from the module with TDH.SYS.RD, as Linux's
 * get_tdx_sys_info_td_conf does.
 * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) when a read fails
 */
export function readTdxCpuidConf(host: TdxHost, lp: LogicalProcessor): TdxCpuidConf {
  const rd = (id: bigint): bigint => {
    const r = host.tdhSysRd(lp, id);
    if (r.status !== TDX_SUCCESS) throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`TDH.SYS.RD 0x${id.toString(16)}`, r.status.toString(16)], EIO);
    return r.r8;
  };
  const numCpuidConfig = Number(rd(MD_SYS_NUM_CPUID_CONFIG));
  const leaves: bigint[] = [];
  const values: (readonly [bigint, bigint])[] = [];
  for (let i = 0; i < numCpuidConfig; i++) leaves.push(rd(MD_SYS_CPUID_CONFIG_LEAVES + BigInt(i)));
  for (let i = 0; i < numCpuidConfig; i++) {
    values.push([rd(MD_SYS_CPUID_CONFIG_VALUES + BigInt(i * 2)), rd(MD_SYS_CPUID_CONFIG_VALUES + BigInt(i * 2 + 1))]);
  }
  return { numCpuidConfig, leaves, values };
}

/** CPUID.0x80000008:EAX[23:16], the guest physical address width KVM uses as the TD's GPAW (tdx_get_guest_phys_addr_bits). */
export function tdxGuestPhysAddrBits(eax: number): number {
  return (eax >>> 16) & 0xff;
}

/** `eax` with bits 23:16 replaced by `bits` (tdx_set_guest_phys_addr_bits). */
export function tdxSetGuestPhysAddrBits(eax: number, bits: number): number {
  return ((eax & ~0xff_0000) | ((bits & 0xff) << 16)) >>> 0;
}

/**
 * Entry `i` of the configuration table as KVM reports it to userspace (td_init_cpuid_entry2):
 * NO_SUBLEAF becomes index 0, and 0x80000008 EAX[23:16] is reported as configurable (0xff)
 * because KVM takes the GPAW from it.
 */
export function tdInitCpuidEntry2(conf: TdxCpuidConf, i: number): KvmCpuidEntry2 {
  const leaf = conf.leaves[i]!;
  const [ebxEax, edxEcx] = conf.values[i]!;
  const fn = Number(leaf & 0xffff_ffffn);
  const sub = Number(leaf >> 32n);
  const eax = Number(ebxEax & 0xffff_ffffn);
  return {
    function: fn,
    index: sub === KVM_TDX_CPUID_NO_SUBLEAF ? 0 : sub,
    flags: 0,
    eax: fn === 0x8000_0008 ? tdxSetGuestPhysAddrBits(eax, 0xff) : eax,
    ebx: Number(ebxEax >> 32n),
    ecx: Number(edxEcx & 0xffff_ffffn),
    edx: Number(edxEcx >> 32n),
  };
}

/**
 * What a VMM passes to KVM_TDX_INIT_VM (QEMU's and the TDX selftests' `tdx_filter_cpuid`): of the
 * CPUID it wants for the TD (typically KVM_GET_SUPPORTED_CPUID), only the leaves
 * KVM_TDX_CAPABILITIES lists as configurable, each ANDed with the configurable bits; then
 * CPUID.0x80000008:EAX[23:16] (GuestPhysBits) = `gpaw`, from which KVM takes the TD's GPAW.
 * @param wanted - the CPUID the VMM wants for the TD
 * @param configurable - KVM_TDX_CAPABILITIES' `cpuid.entries`
 * @param gpaw - 48, or 52 for 5-level EPT
 */
export function filterTdxCpuid(wanted: readonly KvmCpuidEntry2[], configurable: readonly KvmCpuidEntry2[], gpaw: 48 | 52): KvmCpuidEntry2[] {
  const out: KvmCpuidEntry2[] = [];
  for (const e of wanted) {
    const conf = configurable.find((c) => c.function === e.function && c.index === e.index);
    if (conf === undefined) continue;
    const eax = (e.eax & conf.eax) >>> 0;
    out.push({
      function: e.function, index: e.index, flags: e.flags,
      eax: e.function === 0x8000_0008 ? tdxSetGuestPhysAddrBits(eax, gpaw) : eax,
      ebx: (e.ebx & conf.ebx) >>> 0, ecx: (e.ecx & conf.ecx) >>> 0, edx: (e.edx & conf.edx) >>> 0,
    });
  }
  return out;
}

/**
 * A copy of a CPUID table with `apicId` as the initial APIC ID in CPUID.1:EBX[31:24], as a VMM
 * gives each vCPU its own KVM_SET_CPUID2 table.
 */
export function cpuidWithApicId(entries: readonly KvmCpuidEntry2[], apicId: number): KvmCpuidEntry2[] {
  return entries.map((e) => (e.function === 1 ? { ...e, ebx: ((e.ebx & 0x00ff_ffff) | ((apicId & 0xff) << 24)) >>> 0 } : { ...e }));
}

/** kvm_find_cpuid_entry2(entries, nent, function, index), over a temporary table. */
export function findCpuidEntry2(entries: readonly KvmCpuidEntry2[], fn: number, index: number): KvmCpuidEntry2 | undefined {
  const t = new KvmCpuid();
  t.set(entries);
  const i = t.find(fn, index);
  return i < 0 ? undefined : entries[i];
}

/**
 * setup_tdparams_eptp_controls: the GPAW from CPUID.0x80000008:EAX[23:16] of the userspace
 * entries (48 or 52; 5-level EPT is always available on the simulated CPU).
 * @returns the GPAW, or undefined when there is no 0x80000008 entry
 * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for any other width
 */
export function tdxGpawFromCpuid(entries: readonly KvmCpuidEntry2[]): 48 | 52 | undefined {
  const e = findCpuidEntry2(entries, 0x8000_0008, 0);
  if (e === undefined) return undefined;
  const pa = tdxGuestPhysAddrBits(e.eax);
  if (pa !== 48 && pa !== 52) throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_TDX_INIT_VM', `CPUID.0x80000008:EAX[23:16] = ${pa} (48 or 52)`], EINVAL);
  return pa;
}

/**
 * setup_tdparams_cpuids: writes TD_PARAMS.CPUID_CONFIG (into the 1024 TD_PARAMS bytes `tdParams`)
 * in the order of the module's table, one 16-byte EAX/EBX/ECX/EDX entry for each configurable leaf
 * userspace passed (kvm_find_cpuid_entry2; leaves it did not pass stay 0), with 0x80000008
 * EAX[23:16] cleared. Whether the bits are allowed is left to TDH.MNG.INIT.
 * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) when an entry matches no configurable leaf (or two entries
 *   match one), as KVM's `copy_cnt != cpuid->nent` check
 */
export function setupTdparamsCpuids(conf: TdxCpuidConf, entries: readonly KvmCpuidEntry2[], tdParams: Uint8Array): void {
  const v = new DataView(tdParams.buffer, tdParams.byteOffset, tdParams.byteLength);
  let copied = 0;
  for (let i = 0; i < conf.numCpuidConfig; i++) {
    const tmp = tdInitCpuidEntry2(conf, i);
    const e = findCpuidEntry2(entries, tmp.function, tmp.index);
    if (e === undefined) continue;
    copied++;
    const o = TD_PARAMS_CPUID_CONFIG + i * TD_PARAMS_CPUID_CONFIG_ENTRY_SIZE;
    v.setUint32(o, tmp.function === 0x8000_0008 ? tdxSetGuestPhysAddrBits(e.eax, 0) : e.eax, true);
    v.setUint32(o + 4, e.ebx, true);
    v.setUint32(o + 8, e.ecx, true);
    v.setUint32(o + 12, e.edx, true);
  }
  if (copied !== entries.length) {
    throw kvmError('SEAMKIT_ERR_KVM_ARG', ['KVM_TDX_INIT_VM', `${entries.length - copied} CPUID entries match no configurable leaf`], EINVAL);
  }
}

/**
 * KVM_TDX_GET_CPUID's reads (tdx_vcpu_get_cpuid): for leaf 0 .. CPUID.0:EAX and 0x80000000 ..
 * CPUID.0x80000000:EAX, the TD's CPUID values with TDH.MNG.RD of TD_MD_FIELD_ID_CPUID_VALUES, first
 * without a subleaf, else subleaf 0, 1, ... until a read fails; entries read with a subleaf get
 * KVM_CPUID_FLAG_SIGNIFCANT_INDEX, and 0x80000008 EAX[23:16] is set to `gpaw`. Leaves the module
 * does not virtualize are skipped.
 * @returns the entries (at most KVM_MAX_CPUID_ENTRIES)
 * @throws SEAMKIT_ERR_KVM_TDX_FAILED (EIO) when leaf 0 or 0x80000000 cannot be read
 */
export function tdxReadTdCpuid(host: TdxHost, lp: LogicalProcessor, tdr: number, gpaw: number): KvmCpuidEntry2[] {
  const out: KvmCpuidEntry2[] = [];
  // tdx_read_cpuid: 0 = read, -1 = the module refused (EIO), -2 = not expressible (EINVAL).
  const read = (leaf: number, subleaf: number, withSubleaf: boolean): number => {
    if (subleaf > 0x7f || out.length >= MAX_ENTRIES || (leaf & TDX_MD_UNREADABLE_LEAF_MASK) !== 0) return -2;
    let id = TD_MD_FIELD_ID_CPUID_VALUES | (BigInt(leaf >>> 31) << 16n) | (BigInt(leaf & 0x7f) << 9n);
    id |= withSubleaf ? BigInt(subleaf & 0x7f) << 1n : 0x1fen;
    const a = host.tdhMngRd(lp, tdr, id);
    if (a.status !== TDX_SUCCESS) return -1;
    const b = host.tdhMngRd(lp, tdr, id + 1n);
    if (b.status !== TDX_SUCCESS) return -1;
    const eax = Number(a.r8 & 0xffff_ffffn);
    out.push({
      function: leaf >>> 0,
      index: subleaf,
      flags: withSubleaf ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
      eax: leaf >>> 0 === 0x8000_0008 ? tdxSetGuestPhysAddrBits(eax, gpaw) : eax,
      ebx: Number(a.r8 >> 32n),
      ecx: Number(b.r8 & 0xffff_ffffn),
      edx: Number(b.r8 >> 32n),
    });
    return 0;
  };
  // tdx_vcpu_get_cpuid_leaf: nonzero when nothing could be read.
  const readLeaf = (leaf: number): number => {
    const r = read(leaf, 0, false);
    if (r !== -1) return r;
    for (let sub = 0; ; sub++) if (read(leaf, sub, true) !== 0) return sub === 0 ? 1 : 0;
  };
  const failed = (leaf: number): never => {
    throw kvmError('SEAMKIT_ERR_KVM_TDX_FAILED', [`KVM_TDX_GET_CPUID (TDH.MNG.RD of CPUID 0x${leaf.toString(16)})`, 'no value'], EIO);
  };
  if (readLeaf(0) !== 0) failed(0);
  const basic = out[0]!.eax;
  for (let leaf = 1; leaf <= basic; leaf++) readLeaf(leaf);
  if (readLeaf(0x8000_0000) !== 0) failed(0x8000_0000);
  const ext = out[out.length - 1]!.eax;
  for (let leaf = 0x8000_0001; leaf <= ext; leaf++) readLeaf(leaf);
  return out;
}
