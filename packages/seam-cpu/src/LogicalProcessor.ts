import { RFLAGS, RFLAGS_CF, RFLAGS_ZF } from './abi/registers.js';
import { EXIT_REASON_EPT_VIOLATION, EXIT_REASON_TRIPLE_FAULT, VECTOR_UD } from './abi/vmx.js';
import { CPU_MODE_NAMES, CpuMode } from './CpuMode.js';
import { CpuFault } from './CpuFault.js';
import { cpuError } from './errors.js';
import { EptViolation } from './EptViolation.js';
import type { GuestCode } from './GuestCode.js';
import type { GuestCpu } from './GuestCpu.js';
import { RegisterFile } from './RegisterFile.js';
import type { SeamModule } from './SeamModule.js';

/** EPT-violation exit qualification bits (SDM Vol. 3 Table 28-7): bit 0 read, bit 1 write. */
const EPT_QUAL_READ = 1;
const EPT_QUAL_WRITE = 2;

/**
 * One logical processor of a SEAM-capable CPU: its mode, its current GPRs, and the
 * instructions that move between VMX root (host), SEAM root (TDX module) and SEAM non-root (TD).
 *
 * The LP's GPRs are whatever register file the current code runs with. SEAMCALL makes the
 * caller's register file the LP's file for the duration of the call (the module reads inputs
 * from it and writes outputs into it): no copy is made, which is how a per-vCPU
 * `tdx_module_args` block reaches TDH.VP.ENTER directly.
 */
export class LogicalProcessor {
  /** Index of the LP on its CPU. */
  readonly index: number;
  /** Package (socket) number of the LP. */
  readonly packageId: number;
  /** Current operating mode. */
  mode: CpuMode = CpuMode.VMX_ROOT;
  /** The LP's current GPR file (the host's when in VMX root). */
  regs: RegisterFile;
  /** Exit qualification of the last VM exit from a TD. */
  exitQualification = 0;
  /** Guest physical address of the last EPT-violation exit. */
  exitGpa = 0;
  /** Error thrown by guest code that caused the last triple fault, if any (for diagnostics). */
  lastGuestError: unknown = undefined;
  readonly #module: () => SeamModule | undefined;

  /**
   * @param index - LP index
   * @param packageId - package the LP belongs to
   * @param module - how to find the loaded SEAM module (if any)
   */
  constructor(index: number, packageId: number, module: () => SeamModule | undefined) {
    this.index = index;
    this.packageId = packageId;
    this.#module = module;
    this.regs = new RegisterFile();
  }

  /**
   * SEAMCALL (66 0F 01 CF) with `regs` as the caller's GPRs (RAX = leaf | version << 16).
   *
   * With no SEAM module loaded this is VMfailInvalid: RFLAGS.CF = 1 and RAX unchanged.
   * Otherwise the LP enters SEAM VMX root, the module runs with `regs` as the LP's register file
   * and returns by SEAMRET; RFLAGS.CF and ZF are cleared.
   * @throws CpuFault #UD when executed in SEAM root or inside a TD
   * @throws SEAMKIT_ERR_CPU_NO_SEAMRET when the module returns without SEAMRET; an error the
   *   module itself throws passes through unchanged. Either way the LP is back in VMX root with
   *   its own register file.
   */
  seamcall(regs: RegisterFile): void {
    if (this.mode !== CpuMode.VMX_ROOT) {
      throw new CpuFault(VECTOR_UD, `SEAMCALL is not allowed in CPU mode ${CPU_MODE_NAMES[this.mode]}`);
    }
    const module = this.#module();
    const flags = RFLAGS * 2;
    if (module === undefined) {
      regs.u32[flags] = (regs.u32[flags]! | RFLAGS_CF) & ~RFLAGS_ZF;
      return;
    }
    const saved = this.regs;
    this.regs = regs;
    this.mode = CpuMode.SEAM_ROOT;
    try {
      module.seamcall(this);
    } catch (err) {
      // A module that throws is a module bug: give the LP back to the host, then let it surface.
      this.regs = saved;
      this.mode = CpuMode.VMX_ROOT;
      throw err;
    }
    this.regs = saved;
    if ((this.mode as CpuMode) !== CpuMode.VMX_ROOT) {
      this.mode = CpuMode.VMX_ROOT;
      // A module bug, not a guest or host mistake: surface it loudly.
      throw cpuError('SEAMKIT_ERR_CPU_NO_SEAMRET');
    }
    regs.u32[flags] = regs.u32[flags]! & ~(RFLAGS_CF | RFLAGS_ZF);
  }

  /**
   * SEAMRET (66 0F 01 CD): returns from the SEAM module to the host (VMX root).
   * @throws CpuFault #UD outside SEAM VMX root
   */
  seamret(): void {
    if (this.mode !== CpuMode.SEAM_ROOT) {
      throw new CpuFault(VECTOR_UD, `SEAMRET is not allowed in CPU mode ${CPU_MODE_NAMES[this.mode]}`);
    }
    this.mode = CpuMode.VMX_ROOT;
  }

  /**
   * VM entry into a TD (VMLAUNCH/VMRESUME from SEAM root): runs the guest until its next VM exit
   * and returns the VMX basic exit reason (77 TDCALL, 2 triple fault, 48 EPT violation ...).
   * On return the LP is back in SEAM VMX root. A guest that throws an error of its own triple
   * faults; the error is kept in {@link lastGuestError}.
   * @throws CpuFault #UD outside SEAM VMX root
   */
  tdEnter(vcpu: GuestCpu, code: GuestCode): number {
    if (this.mode !== CpuMode.SEAM_ROOT) {
      throw new CpuFault(VECTOR_UD, `VM entry into a TD is not allowed in CPU mode ${CPU_MODE_NAMES[this.mode]}`);
    }
    this.mode = CpuMode.SEAM_NONROOT;
    vcpu.lp = this;
    let reason: number;
    try {
      reason = code.step(vcpu);
    } catch (err) {
      if (err instanceof EptViolation) {
        this.exitGpa = err.gpa;
        this.exitQualification = err.write ? EPT_QUAL_WRITE : EPT_QUAL_READ;
        reason = EXIT_REASON_EPT_VIOLATION;
      } else {
        this.lastGuestError = err;
        reason = EXIT_REASON_TRIPLE_FAULT;
      }
    }
    this.mode = CpuMode.SEAM_ROOT;
    vcpu.lp = undefined;
    return reason;
  }
}
