import type { ContainerModule } from 'inversify';
import type { ExitHandlers, Vmm, VmmTd } from '@seamkit/core';
import type { KvmOptions } from '@seamkit/kvm';
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
  /** VMM handlers for exits no plugin owns (they replace the reference VMM's for the same reason). */
  readonly handlers?: ExitHandlers;
  /** Ranges `[gpa, size]` the VMM converts to shared before the guest runs (see `TdConfig.sharedMemory`). */
  readonly sharedMemory?: readonly (readonly [number, number])[];
  /** TD attributes for KVM_TDX_INIT_VM (`TdConfig.attributes`; default SEPT_VE_DISABLE). */
  readonly attributes?: bigint;
  /** Options of the simulated kernel the scenario needs, over the run's (e.g. `simulatorAllowDebug`). */
  readonly kvm?: KvmOptions;
  /**
   * The scenario's own VMM side, created once per run before the TD is built: extra modules,
   * exit handlers, and hooks around the run. It reports what it sees through `host`.
   */
  readonly vmm?: (host: ScenarioHost) => ScenarioVmm;
  /**
   * True when the run has to wait for asynchronous work of the VMM side (a quote generation
   * service): only `runScenarioAsync` (what `seamkit run` uses) can run it.
   */
  readonly async?: boolean;
}

/** Values behind a VMM note, as strings (hex), numbers or booleans. */
export type ScenarioNoteData = Readonly<Record<string, string | number | boolean>>;

/** How a scenario's VMM side reports to the trace. */
export interface ScenarioHost {
  /** Adds a VMM note (`kind: 'vmm'`) to the trace; `vcpu` -1 when no vCPU is concerned. */
  note(vcpu: number, message: string, data?: ScenarioNoteData): void;
  /** Adds a failed check (`kind: 'vmm'`, `ok: false`): the run then fails (exit code 1). */
  fail(vcpu: number, message: string, data?: ScenarioNoteData): void;
}

/** What the reference VMM built for one run, handed to {@link ScenarioVmm.setup}. */
export interface ScenarioRun {
  /** The VMM (its DI container holds the plugins). */
  readonly vmm: Vmm;
  /** The TD, finalized, before any vCPU ran. */
  readonly td: VmmTd;
}

/** The VMM side of a scenario for one run. */
export interface ScenarioVmm {
  /** DI modules bound for this run (e.g. a quote service), after the scenario's `modules`. */
  readonly modules?: readonly ContainerModule[];
  /** Exit handlers, over the scenario's `handlers` and the reference VMM's. */
  readonly handlers?: ExitHandlers;
  /** Called once the TD is built, before any vCPU runs (register in-kernel devices here). */
  setup?(run: ScenarioRun): void;
  /**
   * Called by `runScenarioAsync` when every vCPU still running waits (halted, nothing pending
   * wakes it): resolve to true once something may wake one (asynchronous work finished), to
   * false when nothing will.
   */
  idle?(): Promise<boolean>;
  /** Called after the run (also after a failure); `runScenario` does not wait for a promise. */
  finish?(): void | Promise<void>;
}
