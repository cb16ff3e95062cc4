import type { GuestProgram } from '@seamkit/seam-cpu';
import type { ExitBuffer } from './ExitBuffer.js';
import type { LeafDispatcher } from './LeafDispatcher.js';
import type { LeafRegistry } from './LeafRegistry.js';
import type { SharedMemory } from './UserExitContext.js';
import type { EventSink } from './VmmEvent.js';

/** What a TD is built from. */
export interface TdConfig {
  /** The guest program (either guest form); stands in for the TD image. */
  readonly guest: GuestProgram;
  /** Number of vCPUs (default 1). */
  readonly vcpus?: number;
  /** Guest memory in bytes, private + shared (default 64 MiB; only touched pages cost memory). */
  readonly memoryBytes?: number;
  /** TD attributes (default SEPT_VE_DISABLE, as KVM uses). */
  readonly attributes?: bigint;
  /** 52 for 5-level EPT (shared bit 51), else 48 (shared bit 47; default). */
  readonly gpaw?: 48 | 52;
  /** Initial private image: bytes copied to GPA 0 with TDH.MEM.PAGE.ADD and measured with MR.EXTEND. */
  readonly image?: Uint8Array;
  /** MRCONFIGID (48 bytes), MROWNER and MROWNERCONFIG for TD_PARAMS. */
  readonly mrConfigId?: Uint8Array;
  /**
   * Guest-physical ranges `[gpa, size]` (GPA without the shared bit, 4 KiB aligned) that the VMM
   * converts to shared memory before any vCPU runs. All guest RAM starts private (QEMU makes
   * guest_memfd memory PRIVATE), so a guest reaches a buffer through its shared mapping only after
   * a MapGPA to shared, after a memory-fault conversion, or when it is listed here.
   */
  readonly sharedMemory?: readonly (readonly [gpa: number, size: number])[];
}

/** One vCPU as the VMM drives it. */
export interface HypervisorVcpu {
  /** 0-based vCPU index. */
  readonly index: number;
  /** The vCPU's kvm_run, reused for every exit. */
  readonly kvmRun: ExitBuffer;
  /** The vCPU's leaf path (hooks can be attached here). */
  readonly dispatcher: LeafDispatcher;
  /** KVM_RUN: runs until the next exit to userspace; returns the KVM_EXIT_* reason. */
  run(): number;
}

/** A built, finalized TD. */
export interface HypervisorTd {
  /** Its vCPUs. */
  readonly vcpus: readonly HypervisorVcpu[];
  /** Guest memory as userspace maps it. */
  readonly memory: SharedMemory;
  /** Value of the shared GPA bit. */
  readonly sharedBit: number;
  /** MRTD (48 bytes), as TDH.MR.FINALIZE computed it. */
  readonly mrtd: Uint8Array;
}

/**
 * The kernel a VMM drives. core defines it; @seamkit/kvm binds its implementation to
 * {@link HYPERVISOR}, so core never imports kvm.
 */
export interface Hypervisor {
  /** Builds and finalizes a TD whose TDVMCALLs go through `registry`. */
  createTd(config: TdConfig, registry: LeafRegistry, emit: EventSink): HypervisorTd;
}
