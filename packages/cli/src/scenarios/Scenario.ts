import type { ContainerModule } from 'inversify';
import type { ExitHandlers } from '@seamkit/core';
import type { GuestProgram } from '@seamkit/seam-cpu';

/** A built-in (or user-supplied) TD scenario the reference VMM can run. */
export interface Scenario {
  /** Name used on the command line. */
  readonly name: string;
  /** One-line description for `--help`. */
  readonly description: string;
  /** The guest program (either guest form). */
  readonly guest: GuestProgram;
  /** Initial private memory image, measured into MRTD (KVM_TDX_INIT_MEM_REGION at GPA 0). */
  readonly image?: Uint8Array;
  /** Number of vCPUs (default 1). */
  readonly vcpus?: number;
  /** Extra DI modules (plugins) the scenario needs besides the defaults. */
  readonly modules?: readonly ContainerModule[];
  /** VMM handlers for exits no plugin owns. */
  readonly handlers?: ExitHandlers;
  /** Ranges `[gpa, size]` the VMM converts to shared before the guest runs (see `TdConfig.sharedMemory`). */
  readonly sharedMemory?: readonly (readonly [number, number])[];
}
