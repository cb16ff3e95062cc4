import { CPU_MODE_NAMES, CpuMode } from './CpuMode.js';
import { CpuFault } from './CpuFault.js';
import type { GuestMemory } from './GuestMemory.js';
import type { LogicalProcessor } from './LogicalProcessor.js';
import { RegisterFile } from './RegisterFile.js';
import { EXIT_REASON_TDCALL, VECTOR_UD } from './abi/vmx.js';

/**
 * The guest's virtual local APIC (the virtual-APIC page of APIC virtualization), reduced to what
 * interrupt delivery into a simulated TD needs: the x2APIC ID and the interrupt request register
 * (IRR) of pending vectors.
 *
 * - The CPU side: {@link VirtualApic.postInterrupts} is the processor's posted-interrupt
 *   processing (Intel SDM Vol. 3, 30.6): at TD entry, with the descriptor's outstanding
 *   notification set, the posted-interrupt requests (PIR) move into the IRR and the PIR is cleared.
 *   The hypervisor posts interrupts; only the CPU writes the IRR.
 * - The guest side: there is no IDT in the model. Where a real guest would take the interrupt at
 *   an instruction boundary with RFLAGS.IF = 1, guest code calls {@link VirtualApic.takeInterrupt},
 *   which returns the highest pending vector and clears it (the INTA cycle plus the EOI of a
 *   handler that runs to completion). {@link VirtualApic.pending} is RVI != 0: what a halted vCPU
 *   is woken by.
 */
export class VirtualApic {
  /** The x2APIC ID (the vCPU index). */
  readonly apicId: number;
  /** Interrupt request register: 256 bits, vector v at bit (v % 32) of word (v / 32). */
  readonly irr = new Uint32Array(8);

  /** @param apicId - the x2APIC ID */
  constructor(apicId: number) {
    this.apicId = apicId;
  }

  /** True when a vector is pending in the IRR (RVI != 0). */
  get pending(): boolean {
    const irr = this.irr;
    return (irr[0]! | irr[1]! | irr[2]! | irr[3]! | irr[4]! | irr[5]! | irr[6]! | irr[7]!) !== 0;
  }

  /** The highest pending vector (RVI), or -1 when none is pending. Allocates nothing. */
  highestPending(): number {
    const irr = this.irr;
    for (let w = 7; w >= 0; w--) {
      const bits = irr[w]!;
      if (bits !== 0) return w * 32 + 31 - Math.clz32(bits);
    }
    return -1;
  }

  /**
   * Posted-interrupt processing: ORs the 256-bit posted-interrupt requests `pir` into the IRR
   * and clears `pir`. Called by the CPU model at TD entry, never by guest code.
   */
  postInterrupts(pir: Uint32Array): void {
    const irr = this.irr;
    for (let w = 0; w < 8; w++) {
      irr[w] = (irr[w]! | pir[w]!) >>> 0;
      pir[w] = 0;
    }
  }

  /**
   * The guest takes its highest pending interrupt: returns the vector and clears it from the
   * IRR, or returns -1 when nothing is pending.
   */
  takeInterrupt(): number {
    const v = this.highestPending();
    if (v >= 0) this.irr[v >>> 5] = (this.irr[v >>> 5]! & ~(1 << (v & 31))) >>> 0;
    return v;
  }
}

/**
 * What guest code sees of its vCPU: its own registers (the GPR state the TDX module keeps in
 * the TDVPS), its guest physical memory, and the TDCALL instruction.
 */
export class GuestCpu {
  /** The guest's GPRs, RIP and RFLAGS. */
  readonly regs: RegisterFile;
  /** Guest physical memory (private and shared). */
  readonly mem: GuestMemory;
  /** 0-based vCPU index within the TD. */
  readonly vcpuIndex: number;
  /**
   * Logical processor the vCPU runs on while it is inside the TD (set on entry, cleared on exit).
   * Guest code must not use it: it is the CPU's, and while the guest runs its `regs` are the host's.
   */
  lp: LogicalProcessor | undefined;
  /** Free slot for guest code to keep per-vCPU state (never read by seamkit). */
  user: unknown;
  /** The vCPU's virtual local APIC: interrupts the hypervisor posted are pending here. */
  readonly apic: VirtualApic;

  /**
   * @param mem - the TD's guest memory
   * @param vcpuIndex - 0-based vCPU index
   * @param regs - the guest register file (created if omitted)
   */
  constructor(mem: GuestMemory, vcpuIndex: number, regs: RegisterFile = new RegisterFile()) {
    this.regs = regs;
    this.mem = mem;
    this.vcpuIndex = vcpuIndex;
    this.apic = new VirtualApic(vcpuIndex);
  }

  /**
   * TDCALL (66 0F 01 CC): exits to the TDX module with the leaf in RAX. Guest code returns the
   * value from its step (`return cpu.tdcall()`); the generator form just `yield`s.
   * @throws CpuFault #UD when the vCPU is not executing inside a TD
   */
  tdcall(): number {
    const lp = this.lp;
    if (lp === undefined || lp.mode !== CpuMode.SEAM_NONROOT) {
      throw new CpuFault(VECTOR_UD, `TDCALL is not allowed in CPU mode ${CPU_MODE_NAMES[lp?.mode ?? CpuMode.VMX_ROOT]}`);
    }
    return EXIT_REASON_TDCALL;
  }
}
