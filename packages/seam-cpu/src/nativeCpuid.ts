/** The four CPUID output registers EAX, EBX, ECX, EDX (u32 each). */
export type CpuidRegs = readonly [eax: number, ebx: number, ecx: number, edx: number];

/** One leaf (or leaf and subleaf) of the simulated CPU's native CPUID. */
export interface NativeCpuidLeaf {
  /** CPUID leaf (EAX in). */
  readonly leaf: number;
  /** Subleaf (ECX in), or undefined for a leaf whose output does not depend on ECX. */
  readonly subleaf: number | undefined;
  /** EAX, EBX, ECX, EDX out. */
  readonly regs: CpuidRegs;
}

/**
 * The native CPUID of the simulated CPU, a Sapphire Rapids-like part: what the CPUID instruction
 * returns outside a TD (the TDX module starts a TD's virtual CPUID from these values, and KVM's
 * KVM_GET_SUPPORTED_CPUID reports them). Leaves not listed read as zero.
 */
export const NATIVE_CPUID: readonly NativeCpuidLeaf[] = Object.freeze([
  // Max basic leaf 0x20; "GenuineIntel".
  { leaf: 0x0, subleaf: undefined, regs: [0x20, 0x756e_6547, 0x6c65_746e, 0x4965_6e69] },
  // Family 6, model 0x8F, stepping 8; CLFLUSH 64 bytes, 128 logical processor IDs; SSE3 .. RDRAND; FPU .. PBE.
  { leaf: 0x1, subleaf: undefined, regs: [0x0008_06f8, 0x0080_0800, 0x7ffe_fbff, 0xbfeb_fbff] },
  // Max subleaf 2; FSGSBASE .. AVX512VL (no HLE / RTM), AVX512_VBMI .. PKS, FSRM .. SSBD.
  { leaf: 0x7, subleaf: 0, regs: [0x2, 0xf3bf_07af, 0xfb41_7f6e, 0xffd5_4530] },
  // AVX-VNNI, AVX512_BF16, fast zero-length MOVSB, fast short STOSB and CMPSB.
  { leaf: 0x7, subleaf: 1, regs: [0x1c30, 0, 0, 0] },
  // XCR0 components x87 .. PKRU, AMX; XSAVE area sizes.
  { leaf: 0xd, subleaf: 0, regs: [0x0006_02e7, 0xa88, 0x2b00, 0] },
  // XSAVEOPT, XSAVEC, XGETBV(1), XSAVES, XFD; XSS components PT, CET.
  { leaf: 0xd, subleaf: 1, regs: [0x1f, 0, 0x1900, 0] },
  // Max extended leaf 0x80000008.
  { leaf: 0x8000_0000, subleaf: undefined, regs: [0x8000_0008, 0, 0, 0] },
  // LAHF/SAHF, LZCNT, PREFETCHW; SYSCALL, NX, 1 GiB pages, RDTSCP, long mode.
  { leaf: 0x8000_0001, subleaf: undefined, regs: [0, 0, 0x121, 0x2c10_0800] },
  // Physical address width 46, linear 57; WBNOINVD.
  { leaf: 0x8000_0008, subleaf: undefined, regs: [0x392e, 0x200, 0, 0] },
]);

const ZERO: CpuidRegs = Object.freeze([0, 0, 0, 0]) as CpuidRegs;

/**
 * CPUID (0F A2) on the simulated CPU outside a TD: EAX = `leaf`, ECX = `subleaf`.
 * @returns EAX, EBX, ECX, EDX (zero for a leaf the CPU does not have)
 */
export function nativeCpuid(leaf: number, subleaf = 0): CpuidRegs {
  for (const e of NATIVE_CPUID) {
    if (e.leaf === leaf >>> 0 && (e.subleaf === undefined || e.subleaf === subleaf >>> 0)) return e.regs;
  }
  return ZERO;
}
