import { CPU_MODE_NAMES, CpuMode } from './CpuMode.js';
import { CpuFault } from './CpuFault.js';
import type { GuestMemory } from './GuestMemory.js';
import type { LogicalProcessor } from './LogicalProcessor.js';
import { RegisterFile } from './RegisterFile.js';
import { EXIT_REASON_TDCALL, VECTOR_UD } from './abi/vmx.js';

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

  /**
   * @param mem - the TD's guest memory
   * @param vcpuIndex - 0-based vCPU index
   * @param regs - the guest register file (created if omitted)
   */
  constructor(mem: GuestMemory, vcpuIndex: number, regs: RegisterFile = new RegisterFile()) {
    this.regs = regs;
    this.mem = mem;
    this.vcpuIndex = vcpuIndex;
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
