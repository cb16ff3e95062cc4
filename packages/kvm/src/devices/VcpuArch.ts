import { type RegisterFile, type VirtualApic } from '@seamkit/seam-cpu';
import { R12 } from '@seamkit/seam-cpu/abi';
import { KVM_MP_STATE_AP_RESET_HOLD, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED } from '../uapi/x86.js';
import { KvmCpuid } from './Cpuid.js';
import { type KvmApicMap, KvmLapic } from './LocalApic.js';
import { VcpuMsrs } from './Msrs.js';

/**
 * The x86 state KVM keeps per TDX vCPU (`vcpu->arch` and friends): the guest CPUID table, the
 * local APIC with its posted-interrupt descriptor, the emulated MSRs, mp_state, and what the
 * in-kernel leaves remember between an exit and its completion. Everything is created once;
 * nothing here allocates on the TDVMCALL path.
 */
export class VcpuArch {
  /** The KVM_SET_CPUID2 table. */
  readonly cpuid = new KvmCpuid();
  /** KVM's local APIC of the vCPU (x2APIC ID = vCPU id). */
  readonly lapic: KvmLapic;
  /** Emulated MSRs. */
  readonly msrs: VcpuMsrs;
  /** `vcpu->arch.mp_state` (KVM_MP_STATE_*). */
  mpState: number;
  /**
   * The last TD exit was TDVMCALL<Instruction.HLT> (`vmx_get_exit_reason() == EXIT_REASON_HLT`):
   * the HLT's R12 (interrupt-blocked flag) and the guest's RVI then decide pending events.
   * Cleared at every TD entry.
   */
  hltExit = false;
  /** `vcpu->arch.pio.in` of the outstanding KVM_EXIT_IO. */
  pioIn = false;
  /** `vcpu->arch.pio.size` of the outstanding KVM_EXIT_IO. */
  pioSize = 0;
  /** Length of the outstanding KVM_EXIT_MMIO read (`mmio_fragments[0].len`); 0 for a write. */
  mmioReadLen = 0;
  /** KVM entered the guest at least once (`kvm_vcpu_has_run`). */
  ran = false;
  /**
   * The guest's virtual APIC (the TD's virtual-APIC page), known after TDH.VP.INIT. KVM reads
   * it only the way TDX lets it: posted interrupts go in at entry ({@link syncPir}), and RVI is
   * read as TDH.VP.RD(TD_VCPU_STATE_DETAILS_NON_ARCH) would report it ({@link hasEvents}).
   */
  guestApic: VirtualApic | undefined;
  readonly #args: RegisterFile;

  /**
   * @param args - the vCPU's TDH.VP.ENTER argument block (the HLT's R12 is read from it)
   * @param apicMap - the VM's APIC map
   * @param vcpuId - the vCPU id (x2APIC ID; vCPU 0 is the BSP)
   */
  constructor(args: RegisterFile, apicMap: KvmApicMap, vcpuId: number) {
    this.#args = args;
    this.lapic = new KvmLapic(apicMap, vcpuId);
    this.msrs = new VcpuMsrs(this.lapic, this.cpuid);
    // kvm_arch_vcpu_create: the BSP is RUNNABLE, APs wait for INIT (KVM_TDX_INIT_VCPU makes them RUNNABLE).
    this.mpState = vcpuId === 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
    this.lapic.onPosted = () => this.#kick();
  }

  /**
   * kvm_vcpu_has_events for a TD (only interrupts are modelled): false while the vCPU halted with
   * interrupts blocked (tdx_interrupt_allowed: HLT with R12 != 0); else true when the
   * posted-interrupt descriptor has a request (pi_has_pending_interrupt), or, after a HLT with
   * interrupts enabled, when the guest's virtual APIC has a pending vector (RVI,
   * tdx_protected_apic_has_interrupt). Allocates nothing.
   */
  hasEvents(): boolean {
    const hlt = this.hltExit;
    if (hlt && !this.#args.isZero(R12)) return false;
    if (this.lapic.pirOn) return true;
    return hlt && this.guestApic !== undefined && this.guestApic.pending;
  }

  /**
   * The wake-up of a blocked vCPU (vcpu_block): HALTED or AP_RESET_HOLD with an event pending
   * becomes RUNNABLE.
   * @returns whether the vCPU is runnable now
   */
  unblock(): boolean {
    const s = this.mpState;
    if (s === KVM_MP_STATE_RUNNABLE) return true;
    if ((s === KVM_MP_STATE_HALTED || s === KVM_MP_STATE_AP_RESET_HOLD) && this.hasEvents()) {
      this.mpState = KVM_MP_STATE_RUNNABLE;
      return true;
    }
    return false;
  }

  /**
   * At TD entry with the descriptor's ON bit set (tdx_vcpu_run's self-IPI): the CPU's
   * posted-interrupt processing moves the PIR into the guest's virtual APIC.
   */
  syncPir(): void {
    const g = this.guestApic;
    if (g === undefined) return;
    g.postInterrupts(this.lapic.pir);
    this.lapic.pirOn = false;
  }

  /** kvm_vcpu_kick after a posted interrupt: a halted vCPU waiting in KVM_RUN wakes up. */
  #kick(): void {
    this.unblock();
  }
}
