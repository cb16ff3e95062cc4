/**
 * KVM's local APIC of a TDX vCPU (arch/x86/kvm/lapic.c in x2APIC mode) and interrupt delivery
 * (kvm_irq_delivery_to_apic, kvm_apic_match_dest, tdx_deliver_interrupt).
 *
 * A TD's APIC is virtualized by the CPU (APICv); KVM delivers interrupts only by posting them
 * (the posted-interrupt descriptor's PIR and ON bit, {@link KvmLapic.pir}), and the CPU moves them
 * into the guest's virtual APIC at the next TD entry. The x2APIC registers the CPU does not
 * virtualize (everything but TPR, PPR, EOI and the first ISR/TMR/IRR words, see
 * tdx_has_emulated_msr) are emulated here, including ICR writes, which send IPIs.
 * @module
 */

/** APIC_DEFAULT_PHYS_BASE */
export const APIC_DEFAULT_PHYS_BASE = 0xfee0_0000;
/** MSR_IA32_APICBASE_BSP (bit 8). */
export const MSR_IA32_APICBASE_BSP = 1 << 8;
/** X2APIC_ENABLE: IA32_APIC_BASE.EXTD (bit 10). */
export const X2APIC_ENABLE = 1 << 10;
/** MSR_IA32_APICBASE_ENABLE: IA32_APIC_BASE.EN (bit 11). */
export const MSR_IA32_APICBASE_ENABLE = 1 << 11;

/** APIC_ID register offset. */
export const APIC_ID = 0x20;
/** APIC_LVR (version). */
export const APIC_LVR = 0x30;
/** APIC_TASKPRI (TPR). */
export const APIC_TASKPRI = 0x80;
/** APIC_PROCPRI (PPR). */
export const APIC_PROCPRI = 0xa0;
/** APIC_EOI */
export const APIC_EOI = 0xb0;
/** APIC_LDR */
export const APIC_LDR = 0xd0;
/** APIC_SPIV */
export const APIC_SPIV = 0xf0;
/** APIC_ISR (8 words). */
export const APIC_ISR = 0x100;
/** APIC_TMR (8 words). */
export const APIC_TMR = 0x180;
/** APIC_IRR (8 words). */
export const APIC_IRR = 0x200;
/** APIC_ESR */
export const APIC_ESR = 0x280;
/** APIC_LVTCMCI */
export const APIC_LVTCMCI = 0x2f0;
/** APIC_ICR (64 bits in x2APIC mode). */
export const APIC_ICR = 0x300;
/** APIC_LVTT (timer). */
export const APIC_LVTT = 0x320;
/** APIC_LVTTHMR */
export const APIC_LVTTHMR = 0x330;
/** APIC_LVTPC */
export const APIC_LVTPC = 0x340;
/** APIC_LVT0 */
export const APIC_LVT0 = 0x350;
/** APIC_LVT1 */
export const APIC_LVT1 = 0x360;
/** APIC_LVTERR */
export const APIC_LVTERR = 0x370;
/** APIC_TMICT (initial count). */
export const APIC_TMICT = 0x380;
/** APIC_TMCCT (current count). */
export const APIC_TMCCT = 0x390;
/** APIC_TDCR (divide configuration). */
export const APIC_TDCR = 0x3e0;
/** APIC_SELF_IPI (x2APIC only). */
export const APIC_SELF_IPI = 0x3f0;

/** APIC_DM_FIXED (delivery mode, bits 10:8). */
export const APIC_DM_FIXED = 0x000;
/** APIC_DM_LOWEST */
export const APIC_DM_LOWEST = 0x100;
/** APIC_DEST_LOGICAL (ICR bit 11). */
export const APIC_DEST_LOGICAL = 0x800;
/** APIC_DEST_SELF shorthand (ICR bits 19:18 = 1). */
export const APIC_DEST_SELF = 0x40000;
/** APIC_DEST_ALLINC shorthand. */
export const APIC_DEST_ALLINC = 0x80000;
/** APIC_DEST_ALLBUT shorthand. */
export const APIC_DEST_ALLBUT = 0xc0000;
/** X2APIC_BROADCAST: the x2APIC broadcast destination. */
export const X2APIC_BROADCAST = 0xffff_ffff;

const APIC_VERSION = 0x14;
const APIC_LVR_DIRECTED_EOI = 1 << 24;
const APIC_SPIV_APIC_ENABLED = 1 << 8;
const APIC_SPIV_DIRECTED_EOI = 1 << 12;
const APIC_LVT_MASKED = 1 << 16;
const APIC_ICR_BUSY = 1 << 12;
const APIC_INT_ASSERT = 1 << 14;
const APIC_INT_LEVELTRIG = 1 << 15;
const APIC_MODE_EXTINT = 0x700;
/** X2APIC_ICR_RESERVED_BITS (low dword): bits 31:20, 17:16 and 13. */
const X2APIC_ICR_RESERVED_LO = 0xfff3_2000;
/** LVT_MASK: masked, send pending, vector. */
const LVT_MASK = APIC_LVT_MASKED | (1 << 12) | 0xff;
/** LINT_MASK: LVT_MASK plus delivery mode, polarity, remote IRR, trigger mode. */
const LINT_MASK = LVT_MASK | 0x700 | (1 << 13) | (1 << 14) | (1 << 15);
/** apic_lvt_mask[] of LVTT, THMR, PC, LINT0, LINT1, ERROR (the timer's mode bits are added per write). */
const LVT_WRITE_MASK = [LVT_MASK, LVT_MASK | 0x700, LVT_MASK | 0x700, LINT_MASK, LINT_MASK, LVT_MASK];
/** LVT registers in KVM's order (LVTT .. LVTERR); CMCI needs MCG_CMCI_P, which KVM's default MCG_CAP lacks. */
const LVT_REGS = [APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR];
/** TSC-deadline mode of LVTT bits 18:17. */
const LVTT_TSCDEADLINE = 2 << 17;

/** Registers readable through x2APIC MSRs (kvm_lapic_readable_reg_mask in x2APIC mode), by offset >> 4. */
const READABLE = new Uint8Array(64);
for (const r of [APIC_ID, APIC_LVR, APIC_TASKPRI, APIC_PROCPRI, APIC_LDR, APIC_SPIV, APIC_ESR, APIC_ICR,
  APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_TMICT, APIC_TMCCT, APIC_TDCR]) READABLE[r >>> 4] = 1;
for (let i = 0; i < 8; i++) {
  READABLE[(APIC_ISR >>> 4) + i] = 1;
  READABLE[(APIC_TMR >>> 4) + i] = 1;
  READABLE[(APIC_IRR >>> 4) + i] = 1;
}

/**
 * The VM's set of local APICs and its interrupt-routing options: what kvm_irq_delivery_to_apic
 * walks. One per VM; every vCPU's {@link KvmLapic} joins it when the vCPU is created.
 */
export class KvmApicMap {
  /** The APICs, in vCPU creation order. */
  readonly apics: KvmLapic[] = [];
  /** KVM_X2APIC_API_USE_32BIT_IDS enabled (`kvm->arch.x2apic_format`). */
  x2apicFormat = false;
  /** KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK enabled. */
  broadcastQuirkDisabled = false;

  /**
   * kvm_irq_delivery_to_apic (slow path): delivers one interrupt to every APIC that matches.
   * Fixed delivery posts the vector to each match; lowest priority picks one software-enabled
   * match by vector hashing (KVM's default `vector_hashing`), and a physical destination 0xff
   * with lowest priority is turned into fixed. Other delivery modes (SMI, NMI, INIT, SIPI,
   * ExtINT) are counted as accepted but not modelled.
   * @param src - the sending APIC for an IPI, undefined for an MSI
   * @param icrLo - ICR low dword layout: vector 7:0, delivery mode 10:8, logical 11, assert 14,
   *   level trigger 15, shorthand 19:18
   * @param dest - destination ID (x2APIC: 32 bits)
   * @returns the number of APICs that accepted it, or -1 when none matched (what
   *   kvm_irq_delivery_to_apic returns)
   */
  deliver(src: KvmLapic | undefined, icrLo: number, dest: number): number {
    const vector = icrLo & 0xff;
    let mode = icrLo & 0x700;
    const logical = (icrLo & APIC_DEST_LOGICAL) !== 0;
    const shorthand = icrLo & 0xc0000;
    const level = (icrLo & APIC_INT_ASSERT) !== 0;
    const trig = (icrLo & APIC_INT_LEVELTRIG) !== 0;
    if (!logical && dest === 0xff && mode === APIC_DM_LOWEST) mode = APIC_DM_FIXED;
    const apics = this.apics;
    let r = -1;
    let candidates = 0;
    for (let i = 0; i < apics.length; i++) {
      const a = apics[i]!;
      if (!this.#match(a, src, shorthand, dest, logical)) continue;
      if (mode !== APIC_DM_LOWEST) {
        if (r < 0) r = 0;
        r += a.accept(mode, vector, level, trig);
      } else if (a.swEnabled) {
        candidates++;
      }
    }
    if (candidates > 0) {
      let k = vector % candidates;
      for (let i = 0; i < apics.length; i++) {
        const a = apics[i]!;
        if (!a.swEnabled || !this.#match(a, src, shorthand, dest, logical)) continue;
        if (k-- === 0) return a.accept(APIC_DM_FIXED, vector, level, trig);
      }
    }
    return r;
  }

  /** kvm_apic_match_dest with kvm_apic_mda's x2APIC broadcast quirk. */
  #match(target: KvmLapic, src: KvmLapic | undefined, shorthand: number, dest: number, logical: boolean): boolean {
    switch (shorthand) {
      case APIC_DEST_SELF: return target === src;
      case APIC_DEST_ALLINC: return true;
      case APIC_DEST_ALLBUT: return target !== src;
      default: break;
    }
    let mda = dest >>> 0;
    if (!this.broadcastQuirkDisabled && src === undefined && mda === 0xff) mda = X2APIC_BROADCAST;
    if (mda === X2APIC_BROADCAST) return true;
    if (!logical) return mda === target.apicId;
    const ldr = target.ldr;
    return (ldr >>> 16) === (mda >>> 16) && (ldr & mda & 0xffff) !== 0;
  }
}

/**
 * KVM's local APIC of one TDX vCPU, in x2APIC mode (KVM_TDX_INIT_VCPU sets IA32_APIC_BASE to
 * 0xFEE00000 | EN | EXTD, plus BSP for vCPU 0). Registers sit at their xAPIC offsets >> 4.
 * The APIC timer is not modelled (no time passes in the simulator): LVTT, TMICT, TDCR and
 * TSC_DEADLINE hold what is written, and TMCCT reads 0.
 */
export class KvmLapic {
  /** x2APIC ID (the vCPU id, as KVM uses `vcpu_id`). */
  readonly apicId: number;
  /** IA32_APIC_BASE (fits 32 bits: base 0xFEE00000 and the flag bits). */
  apicBase: number;
  /** Register file: the 32-bit register at xAPIC offset `off` is `regs[off >> 4]`; ICR's low dword at ICR. */
  readonly regs = new Uint32Array(64);
  /** ICR bits 63:32 (x2APIC destination). */
  icrHi = 0;
  /** Posted-interrupt requests (PIR) of the posted-interrupt descriptor: 256 bits. */
  readonly pir = new Uint32Array(8);
  /** The descriptor's outstanding-notification (ON) bit: the PIR holds something. */
  pirOn = false;
  /** IA32_TSC_DEADLINE, low half (kept only in TSC-deadline mode). */
  tscDeadlineLo = 0;
  /** IA32_TSC_DEADLINE, high half. */
  tscDeadlineHi = 0;
  /** CPUID.1:ECX.X2APIC in the guest CPUID: APIC_LVR advertises directed EOI (no in-kernel I/O APIC). */
  directedEoi = false;
  /** CPUID.1:ECX.TSC_DEADLINE in the guest CPUID: LVTT may select TSC-deadline mode. */
  tscDeadlineTimer = false;
  /** Called after an interrupt was posted (the kick that wakes a halted vCPU). */
  onPosted: (() => void) | undefined;
  readonly #map: KvmApicMap;

  /**
   * @param map - the VM's APIC map (this APIC joins it)
   * @param apicId - the x2APIC ID (vCPU id)
   */
  constructor(map: KvmApicMap, apicId: number) {
    this.#map = map;
    this.apicId = apicId;
    this.apicBase = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE | (apicId === 0 ? MSR_IA32_APICBASE_BSP : 0);
    this.#reset();
    map.apics.push(this);
  }

  /** The x2APIC logical ID (LDR): cluster (ID bits 31:4) in 31:16, 1 << ID bits 3:0 below. */
  get ldr(): number {
    return (((this.apicId >>> 4) << 16) | (1 << (this.apicId & 0xf))) >>> 0;
  }

  /** SPIV bit 8: the APIC is software-enabled. */
  get swEnabled(): boolean {
    return (this.regs[APIC_SPIV >>> 4]! & APIC_SPIV_APIC_ENABLED) !== 0;
  }

  /** LVTT selects TSC-deadline mode. */
  get tscDeadlineMode(): boolean {
    return (this.regs[APIC_LVTT >>> 4]! & (3 << 17)) === LVTT_TSCDEADLINE;
  }

  /** Switches to x2APIC mode as KVM_TDX_INIT_VCPU does (kvm_apic_set_base with EXTD). */
  enableX2apic(): void {
    this.apicBase = (this.apicBase | X2APIC_ENABLE | MSR_IA32_APICBASE_ENABLE) >>> 0;
  }

  /**
   * __apic_accept_irq for a TD: fixed and lowest-priority interrupts are posted
   * (tdx_deliver_interrupt: PIR bit and ON set), a level-triggered deassert is dropped. Other
   * modes are accepted without effect.
   * @returns 1 when accepted, 0 for a dropped level-triggered deassert
   */
  accept(mode: number, vector: number, level: boolean, trig: boolean): number {
    if (mode !== APIC_DM_FIXED && mode !== APIC_DM_LOWEST) return 1;
    if (trig && !level) return 0;
    this.pir[vector >>> 5] = (this.pir[vector >>> 5]! | (1 << (vector & 31))) >>> 0;
    this.pirOn = true;
    this.onPosted?.();
    return 1;
  }

  /**
   * kvm_x2apic_msr_read for MSR 0x800 + `reg` >> 4: writes the value to `out[0]` (low) and
   * `out[1]` (high).
   * @returns 0, or 1 for a register that is reserved or write-only in x2APIC mode
   */
  readX2apic(reg: number, out: Uint32Array): number {
    const i = reg >>> 4;
    if (reg > 0x3f0 || READABLE[i] !== 1) return 1;
    if (reg === APIC_ICR) {
      out[0] = this.regs[i]!;
      out[1] = this.icrHi;
      return 0;
    }
    out[0] = reg === APIC_TMCCT || reg === APIC_PROCPRI ? this.#computed(reg) : this.regs[i]!;
    out[1] = 0;
    return 0;
  }

  /**
   * kvm_x2apic_msr_write (kvm_lapic_msr_write, kvm_lapic_reg_write in x2APIC mode) for MSR
   * 0x800 + `reg` >> 4.
   * @returns 0, or 1 when the write faults (read-only or reserved register, reserved bits)
   */
  writeX2apic(reg: number, lo: number, hi: number): number {
    if (reg === APIC_ICR) return this.#writeIcr(lo, hi);
    if (hi !== 0) return 1;
    const regs = this.regs;
    const i = reg >>> 4;
    switch (reg) {
      case APIC_TASKPRI:
        regs[i] = lo & 0xff;
        return 0;
      case APIC_EOI:
        return 0;
      case APIC_SPIV: {
        const mask = 0x3ff | ((regs[APIC_LVR >>> 4]! & APIC_LVR_DIRECTED_EOI) !== 0 ? APIC_SPIV_DIRECTED_EOI : 0);
        regs[i] = lo & mask;
        if ((lo & APIC_SPIV_APIC_ENABLED) === 0) {
          for (let k = 0; k < LVT_REGS.length; k++) regs[LVT_REGS[k]! >>> 4] = (regs[LVT_REGS[k]! >>> 4]! | APIC_LVT_MASKED) >>> 0;
        }
        return 0;
      }
      case APIC_LVTTHMR:
      case APIC_LVTPC:
      case APIC_LVT0:
      case APIC_LVT1:
      case APIC_LVTERR: {
        const v = this.swEnabled ? lo : lo | APIC_LVT_MASKED;
        regs[i] = (v & LVT_WRITE_MASK[(reg - APIC_LVTT) >>> 4]!) >>> 0;
        return 0;
      }
      case APIC_LVTT: {
        const v = this.swEnabled ? lo : lo | APIC_LVT_MASKED;
        const modeMask = this.tscDeadlineTimer ? 3 << 17 : 1 << 17;
        const wasDeadline = this.tscDeadlineMode;
        regs[i] = (v & (LVT_MASK | modeMask)) >>> 0;
        if (wasDeadline !== this.tscDeadlineMode) {
          // apic_update_lvtt: changing the timer mode cancels the timer.
          this.tscDeadlineLo = 0;
          this.tscDeadlineHi = 0;
          regs[APIC_TMICT >>> 4] = 0;
        }
        return 0;
      }
      case APIC_TMICT:
        if (!this.tscDeadlineMode) regs[i] = lo;
        return 0;
      case APIC_TDCR:
        regs[i] = lo & 0xb;
        return 0;
      case APIC_ESR:
        return lo !== 0 ? 1 : 0;
      case APIC_SELF_IPI:
        if ((lo & ~0xff) !== 0) return 1;
        this.#map.deliver(this, APIC_DEST_SELF | lo, 0);
        return 0;
      default:
        // APIC_LVTCMCI (no MCG_CMCI_P), ID, LDR, LVR, PPR, ISR/TMR/IRR, TMCCT, DFR, ICR2, reserved.
        return 1;
    }
  }

  /** kvm_x2apic_icr_write: reserved bits fault; BUSY is cleared; the IPI is sent; ICR keeps the value. */
  #writeIcr(lo: number, hi: number): number {
    if ((lo & X2APIC_ICR_RESERVED_LO) !== 0) return 1;
    const v = (lo & ~APIC_ICR_BUSY) >>> 0;
    this.#map.deliver(this, v, hi >>> 0);
    this.regs[APIC_ICR >>> 4] = v;
    this.icrHi = hi >>> 0;
    return 0;
  }

  /** PPR = TPR (KVM's copy of ISR is always empty for a TD); TMCCT = 0 (no timer runs). */
  #computed(reg: number): number {
    return reg === APIC_PROCPRI ? this.regs[APIC_TASKPRI >>> 4]! & 0xf0 : 0;
  }

  /** kvm_lapic_reset (RESET) followed by the switch to x2APIC mode. */
  #reset(): void {
    const r = this.regs;
    r[APIC_ID >>> 4] = this.apicId;
    r[APIC_LVR >>> 4] = APIC_VERSION | ((LVT_REGS.length - 1) << 16);
    for (let k = 0; k < LVT_REGS.length; k++) r[LVT_REGS[k]! >>> 4] = APIC_LVT_MASKED;
    // KVM_X86_QUIRK_LINT0_REENABLED (on by default): the BSP's LINT0 is ExtINT, unmasked.
    if (this.apicId === 0) r[APIC_LVT0 >>> 4] = APIC_MODE_EXTINT;
    r[APIC_SPIV >>> 4] = 0xff;
    r[APIC_LDR >>> 4] = this.ldr;
  }

  /** kvm_apic_set_version: recomputes APIC_LVR after KVM_SET_CPUID2. */
  updateVersion(): void {
    this.regs[APIC_LVR >>> 4] = (APIC_VERSION | ((LVT_REGS.length - 1) << 16) | (this.directedEoi ? APIC_LVR_DIRECTED_EOI : 0)) >>> 0;
  }
}
