import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../uapi/x86.js';

/** One `struct kvm_cpuid_entry2` of KVM_SET_CPUID2 / KVM_GET_CPUID2 (all fields u32). */
export interface KvmCpuidEntry2 {
  /** `function`: the CPUID leaf (EAX input). */
  readonly function: number;
  /** `index`: the subleaf (ECX input); only compared with KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
  readonly index: number;
  /** `flags`: KVM_CPUID_FLAG_* bits. */
  readonly flags: number;
  /** EAX output. */
  readonly eax: number;
  /** EBX output. */
  readonly ebx: number;
  /** ECX output. */
  readonly ecx: number;
  /** EDX output. */
  readonly edx: number;
}

/** Fields per entry in the flat table: function, index, flags, eax, ebx, ecx, edx. */
const W = 7;
/** kvm_find_cpuid_entry()'s "index not significant" lookup (KVM_CPUID_INDEX_NOT_SIGNIFICANT). */
const ANY_INDEX = -1;

/**
 * A vCPU's guest CPUID table (`vcpu->arch.cpuid_entries`, set by KVM_SET_CPUID2) and KVM's
 * lookups over it, as Linux 6.16 arch/x86/kvm/cpuid.c does them:
 *
 * - {@link find} is `kvm_find_cpuid_entry_index()`: the first entry whose `function` matches and
 *   whose `index` matches too if the entry has KVM_CPUID_FLAG_SIGNIFCANT_INDEX (an entry without
 *   the flag matches every subleaf);
 * - {@link kvmCpuid} is `kvm_cpuid()` (guest CPUID emulation, used by TDVMCALL<Instruction.CPUID>).
 *
 * The table is one flat Uint32Array; lookups allocate nothing.
 */
export class KvmCpuid {
  /** kvm_cpuid() output: EAX, EBX, ECX, EDX of the last {@link kvmCpuid} call. */
  readonly out = new Uint32Array(4);
  #table = new Uint32Array(0);
  #count = 0;

  /** Number of entries. */
  get count(): number {
    return this.#count;
  }

  /** Replaces the table (the caller validated it). */
  set(entries: readonly KvmCpuidEntry2[]): void {
    const t = new Uint32Array(entries.length * W);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      t[i * W] = e.function;
      t[i * W + 1] = e.index;
      t[i * W + 2] = e.flags;
      t[i * W + 3] = e.eax;
      t[i * W + 4] = e.ebx;
      t[i * W + 5] = e.ecx;
      t[i * W + 6] = e.edx;
    }
    this.#table = t;
    this.#count = entries.length;
  }

  /** The entries, as KVM_GET_CPUID2 returns them (a copy). */
  entries(): KvmCpuidEntry2[] {
    const t = this.#table;
    const out: KvmCpuidEntry2[] = [];
    for (let i = 0; i < this.#count; i++) {
      const o = i * W;
      out.push({ function: t[o]!, index: t[o + 1]!, flags: t[o + 2]!, eax: t[o + 3]!, ebx: t[o + 4]!, ecx: t[o + 5]!, edx: t[o + 6]! });
    }
    return out;
  }

  /**
   * kvm_find_cpuid_entry_index(): the position of the entry for `fn` / `index`, or -1. With
   * `index` = -1 (kvm_find_cpuid_entry()) the first entry of `fn` matches whatever its index.
   */
  find(fn: number, index: number): number {
    const t = this.#table;
    const f = fn >>> 0;
    for (let i = 0; i < this.#count; i++) {
      const o = i * W;
      if (t[o] !== f) continue;
      if ((t[o + 2]! & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) === 0 || t[o + 1] === index >>> 0 || index === ANY_INDEX) return i;
    }
    return -1;
  }

  /** Register `reg` (0 EAX, 1 EBX, 2 ECX, 3 EDX) of entry `i`. */
  reg(i: number, reg: number): number {
    return this.#table[i * W + 3 + reg]!;
  }

  /** True when the entry for `fn` / `index` exists and has bit `bit` of register `reg` (0 EAX .. 3 EDX) set. */
  has(fn: number, index: number, reg: number, bit: number): boolean {
    const i = this.find(fn, index);
    return i >= 0 && ((this.reg(i, reg) >>> bit) & 1) === 1;
  }

  /**
   * cpuid_query_maxphyaddr(): CPUID.0x80000008:EAX[7:0] when leaf 0x80000000 reports it,
   * else 36.
   */
  maxPhyAddr(): number {
    const ext = this.find(0x8000_0000, ANY_INDEX);
    if (ext < 0 || this.reg(ext, 0) < 0x8000_0008) return 36;
    const e = this.find(0x8000_0008, ANY_INDEX);
    return e < 0 ? 36 : this.reg(e, 0) & 0xff;
  }

  /**
   * kvm_cpuid(): what the guest's CPUID(`fn`, `index`) returns, written to {@link out}:
   *
   * 1. the entry {@link find} returns for `fn` / `index`;
   * 2. else, unless the max basic leaf's vendor (CPUID.0) is AMD or Hygon, Intel's out-of-range
   *    rule (get_out_of_range_cpuid_entry()): when `fn`'s class (basic 0x0, hypervisor
   *    `fn & 0xffffff00` for 0x4xxxxxxx, extended 0x80000000, Centaur 0xc0000000) has no entry or
   *    `fn` is above that class's maximum (its EAX), the entry of the max basic leaf
   *    (CPUID.0:EAX) with the same `index` is used;
   * 3. with no entry: all four registers are 0, except that for leaves 0xB and 0x1F, if their
   *    subleaf 1 exists, ECX = `index` & 0xff and EDX = that entry's EDX (the x2APIC ID).
   *
   * The TSX_CTRL adjustment of leaf 7 (reading MSR 0x122 through the filter) never applies to a
   * TD (the MSR is not emulated for TDX), and the Hyper-V / Xen adjustments are not modelled.
   * @returns whether an exact entry existed
   */
  kvmCpuid(fn: number, index: number): boolean {
    const out = this.out;
    let f = fn >>> 0;
    let i = this.find(f, index);
    const exact = i >= 0;
    if (!exact) {
      const basic = this.find(0, ANY_INDEX);
      if (basic >= 0 && !this.#amdOrHygon(basic)) {
        let cls: number;
        if (f >= 0x4000_0000 && f <= 0x4fff_ffff) cls = this.find((f & 0xffff_ff00) >>> 0, ANY_INDEX);
        else if (f >= 0xc000_0000) cls = this.find(0xc000_0000, ANY_INDEX);
        else cls = this.find((f & 0x8000_0000) >>> 0, ANY_INDEX);
        if (cls < 0 || f > this.reg(cls, 0)) {
          f = this.reg(basic, 0);
          i = this.find(f, index);
        }
      }
    }
    if (i >= 0) {
      out[0] = this.reg(i, 0);
      out[1] = this.reg(i, 1);
      out[2] = this.reg(i, 2);
      out[3] = this.reg(i, 3);
      return exact;
    }
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    if (f === 0xb || f === 0x1f) {
      const one = this.find(f, 1);
      if (one >= 0) {
        out[2] = index & 0xff;
        out[3] = this.reg(one, 3);
      }
    }
    return exact;
  }

  /** is_guest_vendor_amd() / is_guest_vendor_hygon() on CPUID.0 EBX/ECX/EDX. */
  #amdOrHygon(basic: number): boolean {
    const b = this.reg(basic, 1);
    const c = this.reg(basic, 2);
    const d = this.reg(basic, 3);
    // "AuthenticAMD", "AMDisbetter!", "HygonGenuine" (EBX, EDX, ECX order of the string).
    return (b === 0x6874_7541 && d === 0x6974_6e65 && c === 0x444d_4163)
      || (b === 0x6944_4d41 && d === 0x7465_6273 && c === 0x2172_6574)
      || (b === 0x6f67_7948 && d === 0x6e65_476e && c === 0x656e_6975);
  }
}
