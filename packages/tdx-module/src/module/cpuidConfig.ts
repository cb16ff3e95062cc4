/**
 * CPUID virtualization of the simulated TDX module: the CPUID leaves a TD sees, which of their
 * bits the host VMM may configure (the CPUID_CONFIG table that TDH.SYS.INFO and the global
 * metadata CPUID_CONFIG_LEAVES / CPUID_CONFIG_VALUES report), and how TDH.MNG.INIT turns
 * TD_PARAMS.CPUID_CONFIG into the TD's virtual CPUID values.
 *
 * The model follows the TDX module's own tables and algorithm (include/auto_gen/
 * cpuid_configurations.c `cpuid_lookup` / `cpuid_configurable`, tdh_mng_init.c
 * `read_and_set_cpuid_configurations`), restricted to a small set of leaves:
 *
 * - every virtualized leaf has FIXED1 bits (forced to 1), FIXED0-or-DYNAMIC bits (forced to 0, or
 *   computed by the module), and otherwise the native value of the simulated CPU;
 * - a configurable leaf adds CONFIG_DIRECT bits (take the VMM's value) and ALLOW_DIRECT bits (the
 *   native value, cleared when the VMM passes 0); a 1 in any other bit of TD_PARAMS.CPUID_CONFIG
 *   is `TDX_OPERAND_INVALID | CPUID_CONFIG` with RCX = the leaf / subleaf;
 * - XFAM clears the bits of the state components the TD does not have (the module's
 *   `xfam_mask_*` tables), and a few bits are computed (leaf 0xD sizes, 0x80000008 linear
 *   address width, CPUID(1).EAX = 0 meaning the native family/model/stepping).
 *
 * The configurable table is the part of TDX module 1.5's table that KVM and QEMU configure for a
 * plain TD: leaves 0x1, 0x7/0, 0x7/1 and 0x80000008, with the module's masks. Leaf 0xD is not
 * configurable in the real module (it follows XFAM), and is not here either. The native values
 * are the simulated CPU's (`NATIVE_CPUID` in seam-cpu: a Sapphire Rapids-like part, family 6,
 * model 0x8F, stepping 8).
 * @module
 */
import { nativeCpuid, type CpuidRegs } from '@seamkit/seam-cpu';
import * as S from '../abi/status.js';
import { TD_ATTR_MIGRATABLE, TD_ATTR_PKS, TD_PARAMS_CPUID_CONFIG, TD_PARAMS_CPUID_CONFIG_ENTRY_SIZE, TD_PARAMS_SIZE } from '../abi/structures.js';

/** Subleaf value meaning "the leaf has no subleaves" (module `CPUID_SUBLEAF_NA`, KVM `KVM_TDX_CPUID_NO_SUBLEAF`). */
export const CPUID_SUBLEAF_NA = 0xffff_ffff;

export type { CpuidRegs };

/** The simulated CPU's native value of a leaf (`nativeCpuid` of seam-cpu; NA = subleaf 0). */
function native(leaf: number, subleaf: number): CpuidRegs {
  return nativeCpuid(leaf, subleaf === CPUID_SUBLEAF_NA ? 0 : subleaf);
}

/** One leaf the module virtualizes (module `cpuid_lookup_t`, the parts the simulator uses). */
export interface CpuidLookupEntry {
  /** CPUID leaf. */
  readonly leaf: number;
  /** Subleaf, or {@link CPUID_SUBLEAF_NA}. */
  readonly subleaf: number;
  /** The simulated CPU's native value. */
  readonly native: CpuidRegs;
  /** Bits forced to 1. */
  readonly fixed1: CpuidRegs;
  /** Bits forced to 0 or computed by the module. */
  readonly fixed0OrDynamic: CpuidRegs;
  /** Index in {@link SIM_CPUID_CONFIGURABLE}, or -1 if the VMM cannot configure the leaf. */
  readonly configIndex: number;
}

/** One configurable leaf (module `cpuid_configurable_t`). */
export interface CpuidConfigurable {
  /** CPUID leaf. */
  readonly leaf: number;
  /** Subleaf, or {@link CPUID_SUBLEAF_NA}. */
  readonly subleaf: number;
  /** Bits whose virtual value is the VMM's value. */
  readonly configDirect: CpuidRegs;
  /** Bits whose virtual value is native, or 0 if the VMM passes 0. */
  readonly allowDirect: CpuidRegs;
}

const Z: CpuidRegs = [0, 0, 0, 0];

/**
 * The CPUID_CONFIG table (TDH.SYS.INFO order = CPUID_CONFIG_LEAVES order = TD_PARAMS.CPUID_CONFIG
 * order), with TDX module 1.5's masks for these leaves.
 */
export const SIM_CPUID_CONFIGURABLE: readonly CpuidConfigurable[] = [
  // Leaf 1: EAX family/model/stepping, EBX[23:16] logical processors per package are the VMM's;
  // MONITOR, EST, TM2, CNXT-ID, SDBG, xTPR, DCA, TSC_DEADLINE, AVX, F16C (ECX) and PSN, ACPI, SS,
  // HTT, TM, PBE (EDX) may be turned off.
  { leaf: 0x1, subleaf: CPUID_SUBLEAF_NA, configDirect: [0x0fff_3fff, 0x00ff_0000, 0, 0], allowDirect: [0, 0, 0x3104_4d88, 0xb844_0000] },
  // Leaf 7 subleaf 0: the structured extended features the VMM may turn off.
  { leaf: 0x7, subleaf: 0, configDirect: Z, allowDirect: [0, 0xdc2b_9b18, 0x0241_7f65, 0x0005_411c] },
  // Leaf 7 subleaf 1.
  { leaf: 0x7, subleaf: 1, configDirect: Z, allowDirect: [0x0488_1db0, 0, 0, 0x0002_0430] },
  // Leaf 0x80000008: EAX[7:0] physical address width is the VMM's; WBNOINVD (EBX[9]) may be turned off.
  { leaf: 0x8000_0008, subleaf: CPUID_SUBLEAF_NA, configDirect: [0xff, 0, 0, 0], allowDirect: [0, 0x200, 0, 0] },
];

/**
 * The leaves the simulated module virtualizes, configurable ones first (in CPUID_CONFIG order,
 * as in the module's table), with the module's FIXED0/FIXED1 masks and the simulated CPU's
 * native values.
 */
export const SIM_CPUID_LOOKUP: readonly CpuidLookupEntry[] = [
  {
    // Family 6, model 0x8F, stepping 8; CLFLUSH 64 bytes; SSE3 .. RDRAND; FPU .. PBE.
    leaf: 0x1, subleaf: CPUID_SUBLEAF_NA, native: native(0x1, CPUID_SUBLEAF_NA),
    fixed1: [0, 0, 0x8000_0000, 0x200], fixed0OrDynamic: [0xf000_c000, 0xff00_00ff, 0x0801_0060, 0x4012_0400], configIndex: 0,
  },
  {
    // Max subleaf 2; FSGSBASE .. AVX512VL (no HLE / RTM), AVX512_VBMI .. PKS, FSRM .. SSBD.
    leaf: 0x7, subleaf: 0, native: native(0x7, 0),
    fixed1: Z, fixed0OrDynamic: [0, 0x0040_4006, 0x643e_8010, 0x0022_98c3], configIndex: 1,
  },
  {
    // AVX-VNNI, AVX512_BF16, fast zero-length MOVSB, fast short STOSB and CMPSB.
    leaf: 0x7, subleaf: 1, native: native(0x7, 1),
    fixed1: Z, fixed0OrDynamic: [0xfb77_e20f, 0xffff_ffff, 0xffff_ffff, 0xfffd_fbcf], configIndex: 2,
  },
  {
    // Physical address width 46, linear 57; WBNOINVD.
    leaf: 0x8000_0008, subleaf: CPUID_SUBLEAF_NA, native: native(0x8000_0008, CPUID_SUBLEAF_NA),
    fixed1: Z, fixed0OrDynamic: [0xffff_0000, 0xffff_fdff, 0xffff_ffff, 0xffff_ffff], configIndex: 3,
  },
  {
    // Max basic leaf (virtualized as 0x23) and "GenuineIntel".
    leaf: 0x0, subleaf: CPUID_SUBLEAF_NA, native: native(0x0, CPUID_SUBLEAF_NA),
    fixed1: [0x23, 0, 0, 0], fixed0OrDynamic: [0xffff_ffdc, 0, 0, 0], configIndex: -1,
  },
  {
    // XCR0 components x87 .. PKRU, AMX; sizes (EBX dynamic, ECX computed from XFAM).
    leaf: 0xd, subleaf: 0, native: native(0xd, 0),
    fixed1: Z, fixed0OrDynamic: [0xfff9_fd18, 0xffff_ffff, 0, 0xffff_ffff], configIndex: -1,
  },
  {
    // XSAVEOPT, XSAVEC, XGETBV(1), XSAVES, XFD; XSS components PT, CET.
    leaf: 0xd, subleaf: 1, native: native(0xd, 1),
    fixed1: Z, fixed0OrDynamic: [0xffff_ffe0, 0xffff_ffff, 0xffff_26ff, 0xffff_ffff], configIndex: -1,
  },
  {
    // Max extended leaf 0x80000008.
    leaf: 0x8000_0000, subleaf: CPUID_SUBLEAF_NA, native: native(0x8000_0000, CPUID_SUBLEAF_NA),
    fixed1: [0x8000_0008, 0, 0, 0], fixed0OrDynamic: [0x7fff_fff7, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff], configIndex: -1,
  },
  {
    // LAHF/SAHF, LZCNT, PREFETCHW; SYSCALL, NX, 1 GiB pages, RDTSCP, long mode.
    leaf: 0x8000_0001, subleaf: CPUID_SUBLEAF_NA, native: native(0x8000_0001, CPUID_SUBLEAF_NA),
    fixed1: Z, fixed0OrDynamic: [0xffff_ffff, 0xffff_ffff, 0xffff_fede, 0xd3ef_ffff], configIndex: -1,
  },
];

/** XFAM bit -> CPUID bits cleared when the TD lacks that state component (module `xfam_mask_*`). */
type XfamMasks = readonly (readonly [xfamBit: number, mask: CpuidRegs])[];

const AVX512: CpuidRegs = [0, 0xdc23_0000, 0x5842, 0x0080_010c];
const XFAM_MASKS = new Map<string, XfamMasks>([
  ['1/na', [[2, [0, 0, 0x3000_1000, 0]]]],
  ['7/0', [
    [2, [0, 0x20, 0x600, 0]], [5, AVX512], [6, AVX512], [7, AVX512], [8, [0, 0x0200_0000, 0, 0]], [9, [0, 0, 0x8, 0]],
    [11, [0, 0, 0x80, 0x0010_0000]], [12, [0, 0, 0x80, 0x0010_0000]], [14, [0, 0, 0, 0x20]], [15, [0, 0, 0, 0x0008_0000]],
    [17, [0, 0, 0, 0x0340_0000]], [18, [0, 0, 0, 0x0340_0000]],
  ]],
  ['7/1', [[2, [0x0080_0010, 0, 0, 0x430]], [5, [0x20, 0, 0, 0]], [6, [0x20, 0, 0, 0]], [7, [0x20, 0, 0, 0]]]],
  ['d/0', [[2, [0x4, 0, 0, 0]], [5, [0xe0, 0, 0, 0]], [6, [0xe0, 0, 0, 0]], [7, [0xe0, 0, 0, 0]], [9, [0x200, 0, 0, 0]], [17, [0x6_0000, 0, 0, 0]], [18, [0x6_0000, 0, 0, 0]]]],
  ['d/1', [[8, [0, 0, 0x100, 0]], [11, [0, 0, 0x1800, 0]], [12, [0, 0, 0x1800, 0]], [14, [0, 0, 0x4000, 0]], [15, [0, 0, 0x8000, 0]]]],
]);

/** XSAVE user state components (standard format): XCR0 bit -> [offset, size]. */
const XSAVE_COMPONENTS: readonly (readonly [bit: number, offset: number, size: number])[] = [
  [2, 576, 256], [5, 1088, 64], [6, 1152, 512], [7, 1664, 1024], [9, 2688, 8], [17, 2752, 64], [18, 2816, 8192],
];

/** Size of the legacy XSAVE area plus the XSAVE header. */
const XSAVE_LEGACY_AND_HEADER = 576;

/**
 * The size of an XSAVE area holding every user state component enabled in `xfam`
 * (CPUID(0xD, 0).ECX of a TD; module `calculate_xsave_area_max_size`).
 */
export function xsaveAreaMaxSize(xfam: bigint): number {
  let size = XSAVE_LEGACY_AND_HEADER;
  for (const [bit, offset, len] of XSAVE_COMPONENTS) {
    if ((xfam >> BigInt(bit)) & 1n) size = Math.max(size, offset + len);
  }
  return size;
}

/** Leaf / subleaf in the module's 64-bit form: leaf in bits 31:0, subleaf in bits 63:32. */
export function cpuidLeafSubleaf(leaf: number, subleaf: number): bigint {
  return BigInt(leaf >>> 0) | (BigInt(subleaf >>> 0) << 32n);
}

/**
 * Value `i` of the CPUID_CONFIG table as the module reports it (TDH.SYS.INFO, CPUID_CONFIG_VALUES):
 * the CONFIG_DIRECT bits, plus the ALLOW_DIRECT bits whose native value is 1.
 */
export function cpuidConfigValue(i: number): CpuidRegs {
  const c = SIM_CPUID_CONFIGURABLE[i]!;
  const native = SIM_CPUID_LOOKUP.find((e) => e.configIndex === i)!.native;
  return [0, 1, 2, 3].map((r) => (c.configDirect[r]! | (c.allowDirect[r]! & native[r]!)) >>> 0) as unknown as CpuidRegs;
}

/** Position of `leaf` / `subleaf` in {@link SIM_CPUID_LOOKUP}, or -1. */
export function cpuidLookupIndex(leaf: number, subleaf: number): number {
  return SIM_CPUID_LOOKUP.findIndex((e) => e.leaf === leaf >>> 0 && e.subleaf === subleaf >>> 0);
}

/** Result of {@link virtualizeCpuid}. */
export type CpuidVirtualization =
  | {
    /** The configuration is valid. */
    readonly ok: true;
    /** The TD's CPUID values: EAX, EBX, ECX, EDX of each {@link SIM_CPUID_LOOKUP} entry, in order. */
    readonly values: Uint32Array;
  }
  | {
    /** The configuration is refused. */
    readonly ok: false;
    /** The completion status (with its operand id). */
    readonly status: bigint;
    /** RCX extended error information: the leaf / subleaf for a CPUID_CONFIG error, else 0. */
    readonly rcx: bigint;
  };

/** Bit 16 of CPUID(7, 0).ECX: LA57. */
const CPUID_7_0_ECX_LA57 = 1 << 16;
/** Bit 23 of CPUID(7, 0).ECX: Key Locker. */
const CPUID_7_0_ECX_KL = 1 << 23;
/** Bit 31 of CPUID(7, 0).ECX: PKS. */
const CPUID_7_0_ECX_PKS = 1 << 31;
/** Bit 4 of CPUID(0xD, 1).EAX: XFD. */
const CPUID_D_1_EAX_XFD = 1 << 4;
/** XFAM components whose state supports XFD on the simulated CPU (AMX XTILEDATA). */
const XFD_FAULTING_MASK = 1n << 18n;

/**
 * TDH.MNG.INIT's CPUID handling (module `read_and_set_cpuid_configurations`): reads the
 * TD_PARAMS.CPUID_CONFIG entries (16 bytes each: EAX, EBX, ECX, EDX, in CPUID_CONFIG order),
 * refuses a 1 outside CONFIG_DIRECT | ALLOW_DIRECT, a CPUID(1).EAX other than 0 or the native
 * family/model/stepping in a non-migratable TD (`TDX_OPERAND_INVALID | CPUID_CONFIG`, RCX = the
 * leaf / subleaf), and non-zero bytes after the table (`TDX_OPERAND_INVALID | RDX`, TD_PARAMS
 * reserved_3); otherwise computes the TD's virtual CPUID values.
 * @param tdParams - the 1024 TD_PARAMS bytes
 * @param attributes - TD_PARAMS.ATTRIBUTES
 * @param xfam - TD_PARAMS.XFAM
 */
export function virtualizeCpuid(tdParams: Uint8Array, attributes: bigint, xfam: bigint): CpuidVirtualization {
  const v = new DataView(tdParams.buffer, tdParams.byteOffset, tdParams.byteLength);
  const values = new Uint32Array(SIM_CPUID_LOOKUP.length * 4);
  const refuse = (e: CpuidLookupEntry): CpuidVirtualization => ({
    ok: false, status: S.TDX_OPERAND_INVALID + S.TDX_OPERAND_ID_CPUID_CONFIG, rcx: cpuidLeafSubleaf(e.leaf, e.subleaf),
  });
  let la57 = false;
  for (let li = 0; li < SIM_CPUID_LOOKUP.length; li++) {
    const e = SIM_CPUID_LOOKUP[li]!;
    const out = [...e.native];
    for (let r = 0; r < 4; r++) out[r] = (out[r]! & ~e.fixed0OrDynamic[r]! | e.fixed1[r]!) >>> 0;
    if (e.configIndex >= 0) {
      const c = SIM_CPUID_CONFIGURABLE[e.configIndex]!;
      const base = TD_PARAMS_CPUID_CONFIG + e.configIndex * TD_PARAMS_CPUID_CONFIG_ENTRY_SIZE;
      for (let r = 0; r < 4; r++) {
        const cfg = v.getUint32(base + r * 4, true);
        if ((cfg & ~(c.configDirect[r]! | c.allowDirect[r]!)) !== 0) return refuse(e);
        out[r] = ((out[r]! & ~c.configDirect[r]!) | (cfg & c.configDirect[r]!)) >>> 0;
        out[r] = (out[r]! & (cfg | ~c.allowDirect[r]!)) >>> 0;
      }
    }
    const key = `${e.leaf.toString(16)}/${e.subleaf === CPUID_SUBLEAF_NA ? 'na' : e.subleaf}`;
    for (const [bit, mask] of XFAM_MASKS.get(key) ?? []) {
      if (((xfam >> BigInt(bit)) & 1n) === 0n) for (let r = 0; r < 4; r++) out[r] = (out[r]! & ~mask[r]!) >>> 0;
    }
    switch (key) {
      case '1/na': {
        // CPUID(1).EAX: 0 means the native family/model/stepping; a non-migratable TD gets only that.
        if (out[0] === 0) out[0] = e.native[0];
        else if ((attributes & TD_ATTR_MIGRATABLE) === 0n && out[0] !== e.native[0]) return refuse(e);
        break;
      }
      case '7/0':
        // PKS reflects ATTRIBUTES.PKS; Key Locker is never exposed.
        out[2] = ((out[2]! & ~(CPUID_7_0_ECX_PKS | CPUID_7_0_ECX_KL)) | ((attributes & TD_ATTR_PKS) !== 0n ? CPUID_7_0_ECX_PKS : 0)) >>> 0;
        la57 = (out[2]! & CPUID_7_0_ECX_LA57) !== 0;
        break;
      case 'd/0':
        out[2] = xsaveAreaMaxSize(xfam);
        break;
      case 'd/1':
        if ((xfam & XFD_FAULTING_MASK) === 0n) out[0] = (out[0]! & ~CPUID_D_1_EAX_XFD) >>> 0;
        break;
      case '80000008/na':
        // Linear address width follows LA57 (CPUID(7, 0).ECX[16]).
        out[0] = ((out[0]! & ~0xff00) | ((la57 ? 57 : 48) << 8)) >>> 0;
        break;
      default:
        break;
    }
    values.set(out, li * 4);
  }
  for (let o = TD_PARAMS_CPUID_CONFIG + SIM_CPUID_CONFIGURABLE.length * TD_PARAMS_CPUID_CONFIG_ENTRY_SIZE; o < TD_PARAMS_SIZE; o++) {
    if (tdParams[o] !== 0) return { ok: false, status: S.TDX_OPERAND_INVALID + S.TDX_OPERAND_ID_RDX, rcx: 0n };
  }
  return { ok: true, values };
}
