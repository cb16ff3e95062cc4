import type { ContainerModule } from 'inversify';
import { createVmm, VcpuRunState, type GuestPanicEvent } from '@seamkit/core';
import { kvmModule, type KvmOptions } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { exitName } from './names.js';
import type { Scenario } from './scenarios/Scenario.js';
import { Tracer, type TraceRecord } from './Tracer.js';

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** Receives each trace record as it happens. */
  readonly onRecord?: (r: TraceRecord) => void;
  /** Options of the simulated kernel. */
  readonly kvm?: KvmOptions;
  /** Modules added after the defaults (kvm, plugin-quote, plugin-fatal). */
  readonly modules?: readonly ContainerModule[];
  /** Stop after this many userspace exits per vCPU (default 100 000). */
  readonly maxExits?: number;
}

/** What a scenario run did. */
export interface RunScenarioResult {
  /** Scenario name. */
  readonly scenario: string;
  /** MRTD of the TD, hex. */
  readonly mrtd: string;
  /** The trace. */
  readonly records: readonly TraceRecord[];
  /** TDVMCALLs seen (kernel-answered plus userspace exits). */
  readonly tdvmcalls: number;
  /** TDVMCALLs answered in the kernel model. */
  readonly kernelAnswered: number;
  /** Userspace exits by KVM_EXIT_* name (every exit, plugin-owned or not). */
  readonly exits: Readonly<Record<string, number>>;
  /** Guest panics reported. */
  readonly panics: readonly GuestPanicEvent[];
  /** Plugin errors reported. */
  readonly pluginErrors: number;
  /** Final state of each vCPU's run loop. */
  readonly vcpuStates: readonly VcpuRunState[];
  /** Last exit reason of each vCPU. */
  readonly lastExits: readonly string[];
}

/**
 * Runs a scenario on the reference VMM: a VMM with kvm's defaults, plugin-quote and
 * plugin-fatal (plus the scenario's modules), one TD, a run loop per vCPU driven round-robin
 * until every vCPU finishes.
 */
export function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): RunScenarioResult {
  const vmm = createVmm({
    modules: [kvmModule(options.kvm), quoteModule, fatalModule, ...(scenario.modules ?? []), ...(options.modules ?? [])],
  });
  const tracer = new Tracer(options.onRecord);
  const panics: GuestPanicEvent[] = [];
  let pluginErrors = 0;
  vmm.on((e) => {
    if (e.type === 'guest-panic') panics.push(e);
    else pluginErrors++;
    tracer.onEvent(e);
  });
  const td = vmm.createTd({
    guest: scenario.guest,
    vcpus: scenario.vcpus ?? 1,
    ...(scenario.image !== undefined ? { image: scenario.image } : {}),
    hooks: tracer,
    ...(scenario.handlers !== undefined ? { handlers: scenario.handlers } : {}),
  });
  const exits: Record<string, number> = {};
  for (const r of td.runners) {
    r.onUserExit = (_i, reason) => {
      const n = exitName(reason);
      exits[n] = (exits[n] ?? 0) + 1;
    };
  }
  const max = options.maxExits ?? 100_000;
  let active = true;
  while (active) {
    active = false;
    for (const r of td.runners) {
      if (r.state !== VcpuRunState.PAUSED || r.exits >= max) continue;
      r.run(Math.min(64, max - r.exits));
      active = true;
    }
  }
  const records = tracer.records;
  const kernelAnswered = records.filter((r) => r.kind === 'kernel').length;
  const userExits = records.filter((r) => r.kind === 'exit').length;
  return {
    scenario: scenario.name,
    mrtd: Buffer.from(td.mrtd).toString('hex'),
    records,
    tdvmcalls: kernelAnswered + userExits,
    kernelAnswered,
    exits,
    panics,
    pluginErrors,
    vcpuStates: td.runners.map((r) => r.state),
    lastExits: td.runners.map((r) => exitName(r.lastReason)),
  };
}
