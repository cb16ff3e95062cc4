/**
 * MSR emulation for TDX vCPUs as Linux 6.16 does it: tdx_has_emulated_msr / tdx_is_read_only_msr
 * / tdx_get_msr / tdx_set_msr (arch/x86/kvm/vmx/tdx.c) over the common paths kvm_get_msr_common /
 * kvm_set_msr_common, get_msr_mce / set_msr_mce (arch/x86/kvm/x86.c), kvm_mtrr_get_msr /
 * kvm_mtrr_set_msr (mtrr.c) and the x2APIC MSRs (lapic.c), plus the MSR filter
 * (KVM_X86_SET_MSR_FILTER, kvm_msr_allowed). Values are 64-bit, carried as two u32 halves so
 * that nothing allocates on the TDVMCALL path.
 * @module
 */
import { kvmError } from '../errors.js';
import { EFAULT, EINVAL } from '../uapi/errno.js';
import {
  KVM_MAX_MCE_BANKS, KVM_MSR_FILTER_DEFAULT_DENY, KVM_MSR_FILTER_MAX_BITMAP_SIZE, KVM_MSR_FILTER_MAX_RANGES,
  KVM_MSR_FILTER_RANGE_VALID_MASK, KVM_MSR_FILTER_VALID_MASK,
} from '../uapi/x86.js';
import type { KvmCpuid } from './Cpuid.js';
import type { KvmLapic } from './LocalApic.js';

/** MSR_IA32_FEAT_CTL */
export const MSR_IA32_FEAT_CTL = 0x3a;
/** MSR_IA32_UCODE_REV */
export const MSR_IA32_UCODE_REV = 0x8b;
/** MSR_PLATFORM_INFO */
export const MSR_PLATFORM_INFO = 0xce;
/** MSR_MTRRcap */
export const MSR_MTRRCAP = 0xfe;
/** MSR_IA32_ARCH_CAPABILITIES */
export const MSR_IA32_ARCH_CAPABILITIES = 0x10a;
/** MSR_MISC_FEATURES_ENABLES */
export const MSR_MISC_FEATURES_ENABLES = 0x140;
/** MSR_IA32_MCG_CAP */
export const MSR_IA32_MCG_CAP = 0x179;
/** MSR_IA32_MCG_STATUS */
export const MSR_IA32_MCG_STATUS = 0x17a;
/** MSR_IA32_MCG_CTL */
export const MSR_IA32_MCG_CTL = 0x17b;
/** MSR_IA32_MISC_ENABLE */
export const MSR_IA32_MISC_ENABLE = 0x1a0;
/** MSR_IA32_APICBASE */
export const MSR_IA32_APICBASE = 0x1b;
/** MSR_IA32_POWER_CTL */
export const MSR_IA32_POWER_CTL = 0x1fc;
/** MTRRphysBase_MSR(0): the first variable-range MTRR. */
export const MSR_MTRR_PHYS_BASE0 = 0x200;
/** MSR_IA32_CR_PAT */
export const MSR_IA32_CR_PAT = 0x277;
/** MSR_IA32_MC0_CTL2 (CMCI control of bank 0; bank n at 0x280 + n). */
export const MSR_IA32_MC0_CTL2 = 0x280;
/** MSR_MTRRfix4K_F8000: the last fixed-range MTRR. */
export const MSR_MTRR_FIX4K_F8000 = 0x26f;
/** MSR_MTRRdefType */
export const MSR_MTRR_DEF_TYPE = 0x2ff;
/** MSR_IA32_MC0_CTL (bank n's CTL, STATUS, ADDR, MISC at 0x400 + 4n + 0..3). */
export const MSR_IA32_MC0_CTL = 0x400;
/** MSR_IA32_MCG_EXT_CTL */
export const MSR_IA32_MCG_EXT_CTL = 0x4d0;
/** MSR_IA32_TSC_DEADLINE */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** APIC_BASE_MSR: x2APIC register r is MSR 0x800 + (r >> 4). */
export const APIC_BASE_MSR = 0x800;
/** MSR_EFER */
export const MSR_EFER = 0xc000_0080;
/** MSR_KVM_POLL_CONTROL */
export const MSR_KVM_POLL_CONTROL = 0x4b56_4d05;

/** Return value of the MSR helpers: success. */
export const KVM_MSR_RET_OK = 0;
/** Return value: the access faults (#GP; KVM_MSR_EXIT_REASON_INVAL). */
export const KVM_MSR_RET_ERROR = 1;
/** KVM_MSR_RET_UNSUPPORTED: KVM does not handle the MSR (KVM_MSR_EXIT_REASON_UNKNOWN). */
export const KVM_MSR_RET_UNSUPPORTED = 2;
/** KVM_MSR_RET_FILTERED: the MSR filter denies the access (KVM_MSR_EXIT_REASON_FILTER). */
export const KVM_MSR_RET_FILTERED = 3;

/** EFER of a TD vCPU (tdx_vcpu_create): SCE | LME | LMA | NX. */
export const TDX_VCPU_EFER = 0xd01;
/** MSR_IA32_CR_PAT_DEFAULT (each half). */
const PAT_DEFAULT_HALF = 0x0007_0406;
const MCG_CTL_P = 1 << 8;
const MCG_CMCI_P = 1 << 10;
const MCG_LMCE_P = 1 << 27;
const FEAT_CTL_LOCKED = 1 << 0;
const FEAT_CTL_LMCE_ENABLED = 1 << 20;
/** MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL | BTS_UNAVAIL: read-only for the guest (PMU_RO_MASK), set at reset. */
const MISC_ENABLE_PMU_RO = (1 << 12) | (1 << 11);
/** MSR_IA32_MISC_ENABLE_EMON: writes ignored. */
const MISC_ENABLE_EMON = 1 << 7;
const PLATFORM_INFO_CPUID_FAULT = 1 << 31;
const MISC_FEATURES_CPUID_FAULT = 1 << 0;
const MCI_CTL2_VALID = (1 << 30) | 0x7fff;
/** KVM_NR_VAR_MTRR */
const KVM_NR_VAR_MTRR = 8;

/** x2APIC MSRs the CPU virtualizes for a TD (TPR, PPR, EOI, and ISR/TMR/IRR as 6.16 spells the ranges). */
function cpuVirtualizedX2apic(index: number): boolean {
  // X2APIC_MSR(APIC_ISR) ... X2APIC_MSR(APIC_ISR + APIC_ISR_NR): (0x100 + 8) >> 4 is 0x10 again, so
  // each range covers only its first register (0x810, 0x818, 0x820) in Linux 6.16.
  return index === 0x808 || index === 0x80a || index === 0x80b || index === 0x810 || index === 0x818 || index === 0x820;
}

/**
 * tdx_has_emulated_msr (Linux 6.16): the MSRs KVM emulates for a TD. Every other RDMSR/WRMSR
 * TDVMCALL fails (INVALID_OPERAND, or a userspace exit with KVM_MSR_EXIT_REASON_INVAL).
 */
export function tdxHasEmulatedMsr(index: number): boolean {
  switch (index) {
    case MSR_IA32_UCODE_REV:
    case MSR_IA32_ARCH_CAPABILITIES:
    case MSR_IA32_POWER_CTL:
    case MSR_IA32_CR_PAT:
    case MSR_MTRRCAP:
    case MSR_MTRR_DEF_TYPE:
    case MSR_IA32_TSC_DEADLINE:
    case MSR_IA32_MISC_ENABLE:
    case MSR_PLATFORM_INFO:
    case MSR_MISC_FEATURES_ENABLES:
    case MSR_IA32_APICBASE:
    case MSR_EFER:
    case MSR_IA32_FEAT_CTL:
    case MSR_IA32_MCG_CAP:
    case MSR_IA32_MCG_STATUS:
    case MSR_IA32_MCG_CTL:
    case MSR_IA32_MCG_EXT_CTL:
    case MSR_KVM_POLL_CONTROL:
      return true;
    default:
      break;
  }
  if (index >= MSR_MTRR_PHYS_BASE0 && index <= MSR_MTRR_FIX4K_F8000) return true;
  if (index >= MSR_IA32_MC0_CTL && index < MSR_IA32_MC0_CTL + 4 * KVM_MAX_MCE_BANKS) return true;
  if (index >= MSR_IA32_MC0_CTL2 && index < MSR_IA32_MC0_CTL2 + KVM_MAX_MCE_BANKS) return true;
  if (index >= APIC_BASE_MSR && index <= APIC_BASE_MSR + 0xff) return !cpuVirtualizedX2apic(index);
  return false;
}

/** tdx_is_read_only_msr: APICBASE, EFER and FEAT_CTL cannot be written, by the guest or the host. */
export function tdxIsReadOnlyMsr(index: number): boolean {
  return index === MSR_IA32_APICBASE || index === MSR_EFER || index === MSR_IA32_FEAT_CTL;
}

/** kvm_pat_valid on one 32-bit half: every byte a memory type in 0, 1, 4, 5, 6, 7. */
function patHalfValid(x: number): boolean {
  return (x & 0xf8f8_f8f8) === 0 && ((x | ((x & 0x0202_0202) << 1)) >>> 0) === x >>> 0;
}

/** valid_mtrr_type: 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB). */
function validMtrrType(t: number): boolean {
  return t < 8 && ((1 << t) & 0x73) !== 0;
}

/** find_mtrr: the storage slot of an MTRR MSR, or -1 (a gap in 0x200..0x26f). */
function mtrrSlot(index: number): number {
  if (index >= MSR_MTRR_PHYS_BASE0 && index < MSR_MTRR_PHYS_BASE0 + 2 * KVM_NR_VAR_MTRR) return index - MSR_MTRR_PHYS_BASE0;
  if (index === 0x250) return 16;
  if (index === 0x258 || index === 0x259) return 17 + index - 0x258;
  if (index >= 0x268 && index <= 0x26f) return 19 + index - 0x268;
  if (index === MSR_MTRR_DEF_TYPE) return 27;
  return -1;
}

/**
 * A vCPU's emulated MSR state and KVM's accessors. {@link get} and {@link set} return one of the
 * KVM_MSR_RET_* values; a read's value is in {@link out} (`out[0]` low, `out[1]` high half).
 * `host` is `host_initiated` (KVM_GET_MSRS / KVM_SET_MSRS) versus a guest access.
 *
 * Initial values are KVM's after vCPU creation and KVM_TDX_INIT_VCPU: UCODE_REV 0x100000000,
 * PAT 0x0007040600070406, MISC_ENABLE 0x1800 (PEBS and BTS unavailable), PLATFORM_INFO with
 * CPUID faulting (bit 31), MCG_CAP 32 banks without CTL_P, CMCI_P or LMCE_P, POLL_CONTROL 1,
 * EFER 0xd01, ARCH_CAPABILITIES 0 (KVM uses the host's value; the simulator has no host CPU).
 */
export class VcpuMsrs {
  /** Value of the last successful read: low and high halves. */
  readonly out = new Uint32Array(2);
  /** UCODE_REV, POWER_CTL, PAT, MISC_ENABLE, PLATFORM_INFO, MISC_FEATURES_ENABLES, MCG_STATUS, MCG_CTL, MCG_EXT_CTL, POLL_CONTROL, ARCH_CAPABILITIES: two halves each. */
  readonly #v = new Uint32Array(22);
  /** MTRRs: 16 variable, fix64K, 2 fix16K, 8 fix4K, deftype (two halves each). */
  readonly #mtrr = new Uint32Array(56);
  /** MCi_CTL/STATUS/ADDR/MISC of the 32 banks (two halves each). */
  readonly #banks = new Uint32Array(4 * KVM_MAX_MCE_BANKS * 2);
  /** MCi_CTL2 of the 32 banks. */
  readonly #ctl2 = new Uint32Array(KVM_MAX_MCE_BANKS * 2);
  /** MCG_CAP (low half; the high half is 0). */
  mcgCap = KVM_MAX_MCE_BANKS;
  readonly #lapic: KvmLapic;
  readonly #cpuid: KvmCpuid;

  /**
   * @param lapic - the vCPU's local APIC (APICBASE, x2APIC MSRs, TSC_DEADLINE)
   * @param cpuid - the vCPU's CPUID table (feature checks, MAXPHYADDR)
   */
  constructor(lapic: KvmLapic, cpuid: KvmCpuid) {
    this.#lapic = lapic;
    this.#cpuid = cpuid;
    const v = this.#v;
    v[UCODE + 1] = 1;
    v[PAT] = PAT_DEFAULT_HALF;
    v[PAT + 1] = PAT_DEFAULT_HALF;
    v[MISC] = MISC_ENABLE_PMU_RO;
    v[PLATFORM] = PLATFORM_INFO_CPUID_FAULT >>> 0;
    v[POLL] = 1;
  }

  /** tdx_get_msr: reads MSR `index` into {@link out}. */
  get(index: number, host: boolean): number {
    const out = this.out;
    out[0] = 0;
    out[1] = 0;
    if (index === MSR_IA32_FEAT_CTL) {
      out[0] = FEAT_CTL_LOCKED | ((this.mcgCap & MCG_LMCE_P) !== 0 ? FEAT_CTL_LMCE_ENABLED : 0);
      return KVM_MSR_RET_OK;
    }
    if (index === MSR_IA32_MCG_EXT_CTL) {
      if (!host && (this.mcgCap & MCG_LMCE_P) === 0) return KVM_MSR_RET_ERROR;
      return this.#load(MCG_EXT);
    }
    if (!tdxHasEmulatedMsr(index)) return KVM_MSR_RET_ERROR;
    return this.#getCommon(index, host);
  }

  /** tdx_set_msr: writes `lo` / `hi` to MSR `index`. */
  set(index: number, lo: number, hi: number, host: boolean): number {
    if (index === MSR_IA32_MCG_EXT_CTL) {
      if ((!host && (this.mcgCap & MCG_LMCE_P) === 0) || hi !== 0 || (lo & ~1) !== 0) return KVM_MSR_RET_ERROR;
      return this.#store(MCG_EXT, lo, hi);
    }
    if (tdxIsReadOnlyMsr(index) || !tdxHasEmulatedMsr(index)) return KVM_MSR_RET_ERROR;
    return this.#setCommon(index, lo, hi, host);
  }

  #getCommon(index: number, host: boolean): number {
    const out = this.out;
    switch (index) {
      case MSR_IA32_UCODE_REV: return this.#load(UCODE);
      case MSR_IA32_ARCH_CAPABILITIES:
        if (!this.#cpuid.has(7, 0, 3, 29)) return KVM_MSR_RET_UNSUPPORTED;
        return this.#load(ARCH_CAP);
      case MSR_IA32_POWER_CTL: return this.#load(POWER);
      case MSR_IA32_CR_PAT: return this.#load(PAT);
      case MSR_MTRRCAP:
        out[0] = 0x500 | KVM_NR_VAR_MTRR;
        return KVM_MSR_RET_OK;
      case MSR_IA32_APICBASE:
        out[0] = this.#lapic.apicBase;
        return KVM_MSR_RET_OK;
      case MSR_IA32_TSC_DEADLINE:
        if (this.#lapic.tscDeadlineMode) {
          out[0] = this.#lapic.tscDeadlineLo;
          out[1] = this.#lapic.tscDeadlineHi;
        }
        return KVM_MSR_RET_OK;
      case MSR_IA32_MISC_ENABLE: return this.#load(MISC);
      case MSR_EFER:
        out[0] = TDX_VCPU_EFER;
        return KVM_MSR_RET_OK;
      case MSR_KVM_POLL_CONTROL: return this.#load(POLL);
      case MSR_PLATFORM_INFO: return this.#load(PLATFORM);
      case MSR_MISC_FEATURES_ENABLES: return this.#load(MISC_FEATURES);
      case MSR_IA32_MCG_CAP:
        out[0] = this.mcgCap;
        return KVM_MSR_RET_OK;
      case MSR_IA32_MCG_CTL:
        if ((this.mcgCap & MCG_CTL_P) === 0 && !host) return KVM_MSR_RET_ERROR;
        return this.#load(MCG_CTL);
      case MSR_IA32_MCG_STATUS: return this.#load(MCG_STATUS);
      default: break;
    }
    if (index >= APIC_BASE_MSR && index <= APIC_BASE_MSR + 0xff) return this.#lapic.readX2apic((index - APIC_BASE_MSR) << 4, out);
    if (index === MSR_MTRR_DEF_TYPE || (index >= MSR_MTRR_PHYS_BASE0 && index <= MSR_MTRR_FIX4K_F8000)) {
      const s = mtrrSlot(index);
      if (s < 0) return KVM_MSR_RET_ERROR;
      out[0] = this.#mtrr[2 * s]!;
      out[1] = this.#mtrr[2 * s + 1]!;
      return KVM_MSR_RET_OK;
    }
    const banks = this.mcgCap & 0xff;
    if (index >= MSR_IA32_MC0_CTL2 && index < MSR_IA32_MC0_CTL2 + KVM_MAX_MCE_BANKS) {
      if (index > MSR_IA32_MC0_CTL2 + banks - 1) return KVM_MSR_RET_ERROR;
      if ((this.mcgCap & MCG_CMCI_P) === 0 && !host) return KVM_MSR_RET_ERROR;
      const o = 2 * (index - MSR_IA32_MC0_CTL2);
      out[0] = this.#ctl2[o]!;
      out[1] = this.#ctl2[o + 1]!;
      return KVM_MSR_RET_OK;
    }
    if (index >= MSR_IA32_MC0_CTL && index < MSR_IA32_MC0_CTL + 4 * KVM_MAX_MCE_BANKS) {
      if (index > MSR_IA32_MC0_CTL + 4 * banks - 1) return KVM_MSR_RET_ERROR;
      const o = 2 * (index - MSR_IA32_MC0_CTL);
      out[0] = this.#banks[o]!;
      out[1] = this.#banks[o + 1]!;
      return KVM_MSR_RET_OK;
    }
    return KVM_MSR_RET_UNSUPPORTED;
  }

  #setCommon(index: number, lo: number, hi: number, host: boolean): number {
    switch (index) {
      case MSR_IA32_UCODE_REV:
        if (host) this.#store(UCODE, lo, hi);
        return KVM_MSR_RET_OK;
      case MSR_IA32_ARCH_CAPABILITIES:
        if (!host || !this.#cpuid.has(7, 0, 3, 29)) return KVM_MSR_RET_UNSUPPORTED;
        return this.#store(ARCH_CAP, lo, hi);
      case MSR_IA32_CR_PAT:
        if (!patHalfValid(lo) || !patHalfValid(hi)) return KVM_MSR_RET_ERROR;
        return this.#store(PAT, lo, hi);
      case MSR_IA32_TSC_DEADLINE:
        if (this.#lapic.tscDeadlineMode) {
          this.#lapic.tscDeadlineLo = lo >>> 0;
          this.#lapic.tscDeadlineHi = hi >>> 0;
        }
        return KVM_MSR_RET_OK;
      case MSR_IA32_MISC_ENABLE: {
        const v = this.#v;
        let l = lo >>> 0;
        if (!host) {
          if (((v[MISC]! ^ l) & MISC_ENABLE_PMU_RO) !== 0) return KVM_MSR_RET_ERROR;
          l = ((l & ~MISC_ENABLE_EMON) | (v[MISC]! & MISC_ENABLE_EMON)) >>> 0;
        }
        // KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT is on (TDX disables only IGNORE_GUEST_PAT): no MWAIT check.
        return this.#store(MISC, l, hi);
      }
      case MSR_IA32_POWER_CTL: return this.#store(POWER, lo, hi);
      case MSR_KVM_POLL_CONTROL:
        if (hi !== 0 || (lo & ~1) !== 0) return KVM_MSR_RET_ERROR;
        return this.#store(POLL, lo, hi);
      case MSR_PLATFORM_INFO:
        if (!host) return KVM_MSR_RET_ERROR;
        return this.#store(PLATFORM, lo, hi);
      case MSR_MISC_FEATURES_ENABLES:
        if (hi !== 0 || (lo & ~MISC_FEATURES_CPUID_FAULT) !== 0) return KVM_MSR_RET_ERROR;
        if ((lo & MISC_FEATURES_CPUID_FAULT) !== 0 && (this.#v[PLATFORM]! & PLATFORM_INFO_CPUID_FAULT) === 0) return KVM_MSR_RET_ERROR;
        return this.#store(MISC_FEATURES, lo, hi);
      case MSR_IA32_MCG_STATUS: return this.#store(MCG_STATUS, lo, hi);
      case MSR_IA32_MCG_CTL: {
        const zero = lo === 0 && hi === 0;
        if ((this.mcgCap & MCG_CTL_P) === 0 && (!zero || !host)) return KVM_MSR_RET_ERROR;
        if (!zero && !(lo >>> 0 === 0xffff_ffff && hi >>> 0 === 0xffff_ffff)) return KVM_MSR_RET_ERROR;
        return this.#store(MCG_CTL, lo, hi);
      }
      default: break;
    }
    if (index >= APIC_BASE_MSR && index <= APIC_BASE_MSR + 0xff) return this.#lapic.writeX2apic((index - APIC_BASE_MSR) << 4, lo >>> 0, hi >>> 0);
    if (index === MSR_MTRR_DEF_TYPE || (index >= MSR_MTRR_PHYS_BASE0 && index <= MSR_MTRR_FIX4K_F8000)) {
      const s = mtrrSlot(index);
      if (s < 0 || !this.#mtrrValid(index, lo >>> 0, hi >>> 0)) return KVM_MSR_RET_ERROR;
      this.#mtrr[2 * s] = lo;
      this.#mtrr[2 * s + 1] = hi;
      return KVM_MSR_RET_OK;
    }
    const banks = this.mcgCap & 0xff;
    if (index >= MSR_IA32_MC0_CTL2 && index < MSR_IA32_MC0_CTL2 + KVM_MAX_MCE_BANKS) {
      if (index > MSR_IA32_MC0_CTL2 + banks - 1) return KVM_MSR_RET_ERROR;
      if ((this.mcgCap & MCG_CMCI_P) === 0 && (lo !== 0 || hi !== 0 || !host)) return KVM_MSR_RET_ERROR;
      if (hi !== 0 || (lo & ~MCI_CTL2_VALID) !== 0) return KVM_MSR_RET_ERROR;
      const o = 2 * (index - MSR_IA32_MC0_CTL2);
      this.#ctl2[o] = lo;
      this.#ctl2[o + 1] = hi;
      return KVM_MSR_RET_OK;
    }
    if (index >= MSR_IA32_MC0_CTL && index < MSR_IA32_MC0_CTL + 4 * KVM_MAX_MCE_BANKS) {
      if (index > MSR_IA32_MC0_CTL + 4 * banks - 1) return KVM_MSR_RET_ERROR;
      const zero = lo === 0 && hi === 0;
      // MCi_CTL: 0 or all ones (bits 10 and 0 may be clear, for old guests' workarounds).
      if ((index & 3) === 0 && !zero && !(((lo | (1 << 10) | 1) >>> 0) === 0xffff_ffff && hi >>> 0 === 0xffff_ffff)) return KVM_MSR_RET_ERROR;
      // MCi_STATUS: the guest may only clear it (Intel: no HWCR.McStatusWrEn).
      if (!host && (index & 3) === 1 && !zero) return KVM_MSR_RET_ERROR;
      const o = 2 * (index - MSR_IA32_MC0_CTL);
      this.#banks[o] = lo;
      this.#banks[o + 1] = hi;
      return KVM_MSR_RET_OK;
    }
    // MTRRcap and MCG_CAP have no write path in kvm_set_msr_common.
    return KVM_MSR_RET_UNSUPPORTED;
  }

  /** kvm_mtrr_valid. */
  #mtrrValid(index: number, lo: number, hi: number): boolean {
    if (index === MSR_MTRR_DEF_TYPE) return hi === 0 && (lo & ~0xcff) === 0 && validMtrrType(lo & 0xff);
    if (index < MSR_MTRR_PHYS_BASE0 + 2 * KVM_NR_VAR_MTRR) {
      // Variable MTRR: bits at or above MAXPHYADDR are reserved; base: type + bits 11:8; mask: bits 10:0.
      const maxpa = this.#cpuid.maxPhyAddr();
      const rsvdHi = maxpa >= 64 ? 0 : maxpa >= 32 ? (~((2 ** (maxpa - 32)) - 1)) >>> 0 : 0xffff_ffff;
      const rsvdLo = maxpa >= 32 ? 0 : (~((2 ** maxpa) - 1)) >>> 0;
      if ((index & 1) === 0) {
        if (!validMtrrType(lo & 0xff)) return false;
        return (hi & rsvdHi) === 0 && (lo & (rsvdLo | 0xf00)) === 0;
      }
      return (hi & rsvdHi) === 0 && (lo & (rsvdLo | 0x7ff)) === 0;
    }
    for (let i = 0; i < 4; i++) if (!validMtrrType((lo >>> (8 * i)) & 0xff) || !validMtrrType((hi >>> (8 * i)) & 0xff)) return false;
    return true;
  }

  #load(slot: number): number {
    this.out[0] = this.#v[slot]!;
    this.out[1] = this.#v[slot + 1]!;
    return KVM_MSR_RET_OK;
  }

  #store(slot: number, lo: number, hi: number): number {
    this.#v[slot] = lo;
    this.#v[slot + 1] = hi;
    return KVM_MSR_RET_OK;
  }
}

const UCODE = 0;
const POWER = 2;
const PAT = 4;
const MISC = 6;
const PLATFORM = 8;
const MISC_FEATURES = 10;
const MCG_STATUS = 12;
const MCG_CTL = 14;
const MCG_EXT = 16;
const POLL = 18;
const ARCH_CAP = 20;

/** One range of a {@link KvmMsrFilterSpec} (`struct kvm_msr_filter_range`). */
export interface KvmMsrFilterRange {
  /** KVM_MSR_FILTER_READ and/or KVM_MSR_FILTER_WRITE: the accesses this range decides. */
  readonly flags: number;
  /** Number of MSRs (bits of `bitmap`) from `base`; 0 makes the range unused. */
  readonly nmsrs: number;
  /** First MSR index. */
  readonly base: number;
  /** One bit per MSR, LSB first: 1 allows the access, 0 denies it. KVM copies whole 64-bit words. */
  readonly bitmap: Uint8Array;
}

/** KVM_X86_SET_MSR_FILTER input (`struct kvm_msr_filter`). */
export interface KvmMsrFilterSpec {
  /** KVM_MSR_FILTER_DEFAULT_ALLOW (0) or KVM_MSR_FILTER_DEFAULT_DENY. */
  readonly flags: number;
  /** Up to KVM_MSR_FILTER_MAX_RANGES ranges, checked in order. */
  readonly ranges: readonly KvmMsrFilterRange[];
}

/**
 * An installed MSR filter (`struct kvm_x86_msr_filter`): the non-empty ranges in order, each with
 * its own copy of the bitmap. {@link allowed} is kvm_msr_allowed.
 */
export class KvmMsrFilter {
  /** Whether accesses no range covers are allowed. */
  readonly defaultAllow: boolean;
  readonly #flags: number[] = [];
  readonly #base: number[] = [];
  readonly #end: number[] = [];
  readonly #bitmap: Uint8Array[] = [];

  /**
   * kvm_vm_ioctl_set_msr_filter's checks and copies.
   * @throws SEAMKIT_ERR_KVM_ARG (EINVAL) for unknown flags, more than 16 ranges, a default-deny
   *   filter without ranges, a range without or with unknown flags, or a bitmap over 0x600 bytes;
   *   (EFAULT) for a bitmap shorter than the 64-bit words `nmsrs` needs
   */
  constructor(spec: KvmMsrFilterSpec) {
    const name = 'KVM_X86_SET_MSR_FILTER';
    const bad = (why: string, errno = EINVAL): Error => kvmError('SEAMKIT_ERR_KVM_ARG', [name, why], errno);
    if (!Number.isInteger(spec.flags) || (spec.flags & ~KVM_MSR_FILTER_VALID_MASK) !== 0) throw bad(`flags 0x${spec.flags.toString(16)}`);
    if (spec.ranges.length > KVM_MSR_FILTER_MAX_RANGES) throw bad(`${spec.ranges.length} ranges (at most ${KVM_MSR_FILTER_MAX_RANGES})`);
    this.defaultAllow = (spec.flags & KVM_MSR_FILTER_DEFAULT_DENY) === 0;
    const u32 = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
    let empty = true;
    for (const r of spec.ranges) {
      if (!u32(r.nmsrs) || !u32(r.base) || !u32(r.flags)) throw bad('range fields must be u32');
      if (r.nmsrs !== 0) empty = false;
    }
    if (empty && !this.defaultAllow) throw bad('a default-deny filter needs at least one range');
    for (const r of spec.ranges) {
      if (r.nmsrs === 0) continue;
      if ((r.flags & ~KVM_MSR_FILTER_RANGE_VALID_MASK) !== 0) throw bad(`range flags 0x${r.flags.toString(16)}`);
      if (r.flags === 0) throw bad('a range needs KVM_MSR_FILTER_READ and/or KVM_MSR_FILTER_WRITE');
      const bytes = Math.ceil(r.nmsrs / 64) * 8;
      if (bytes > KVM_MSR_FILTER_MAX_BITMAP_SIZE) throw bad(`bitmap of ${bytes} bytes (at most ${KVM_MSR_FILTER_MAX_BITMAP_SIZE})`);
      if (r.bitmap.length < bytes) throw bad(`bitmap of ${r.bitmap.length} bytes for ${r.nmsrs} MSRs (KVM reads ${bytes})`, EFAULT);
      this.#flags.push(r.flags);
      this.#base.push(r.base);
      this.#end.push((r.base + r.nmsrs) >>> 0);
      this.#bitmap.push(r.bitmap.slice(0, bytes));
    }
  }

  /**
   * kvm_msr_allowed: x2APIC MSRs (0x800..0x8ff) are never filtered; otherwise the first range
   * covering `index` with `type` (KVM_MSR_FILTER_READ or WRITE) in its flags decides by its
   * bitmap bit, and with none the default applies. Allocates nothing.
   */
  allowed(index: number, type: number): boolean {
    if (index >= APIC_BASE_MSR && index <= APIC_BASE_MSR + 0xff) return true;
    const n = this.#flags.length;
    for (let i = 0; i < n; i++) {
      const start = this.#base[i]!;
      if (index >= start && index < this.#end[i]! && (this.#flags[i]! & type) !== 0) {
        const bit = index - start;
        return ((this.#bitmap[i]![bit >>> 3]! >>> (bit & 7)) & 1) === 1;
      }
    }
    return this.defaultAllow;
  }
}
