import type { ContainerModule } from 'inversify';
import { createVmm, VcpuRunState, type GuestPanicEvent } from '@seamkit/core';
import { kvmModule, type KvmOptions } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { SeamkitError } from '@seamkit/seam-cpu';
import { exitName } from './names.js';
import type { Scenario } from './scenarios/Scenario.js';
import { Tracer, type TraceRecord } from './Tracer.js';

/** EINTR: KVM_RUN would block (a halted vCPU). */
const EINTR = 4;

/** The optional plugin packages the reference VMM loads by default, by short name. */
export const PLUGIN_MODULES: Readonly<Record<string, ContainerModule>> = { quote: quoteModule, fatal: fatalModule };

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** Receives each trace record as it happens. */
  readonly onRecord?: (r: TraceRecord) => void;
  /** Options of the simulated kernel. */
  readonly kvm?: KvmOptions;
  /** Plugin packages to load, by short name (default: every one in {@link PLUGIN_MODULES}). */
  readonly plugins?: readonly string[];
  /** Modules added after the defaults and the scenario's own. */
  readonly modules?: readonly ContainerModule[];
  /** vCPUs, overriding the scenario's. */
  readonly vcpus?: number;
  /** Guest memory in bytes, overriding the default (64 MiB). */
  readonly memoryBytes?: number;
  /** Timestamps and latencies on the records. */
  readonly timing?: boolean;
  /** A record for every TD exit too (implies timing). */
  readonly tdExits?: boolean;
  /** Stop after this many userspace exits per vCPU (default 100 000). */
  readonly maxExits?: number;
}

/** What a scenario run did. */
export interface RunScenarioResult {
  /** Scenario name. */
  readonly scenario: string;
  /** MRTD of the TD, hex. */
  readonly mrtd: string;
  /** Number of vCPUs. */
  readonly vcpus: number;
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
  /** Guest code errors (the guest program threw). */
  readonly guestCrashes: readonly string[];
  /** Plugin errors reported. */
  readonly pluginErrors: number;
  /** Final state of each vCPU's run loop. */
  readonly vcpuStates: readonly VcpuRunState[];
  /** Last exit reason of each vCPU. */
  readonly lastExits: readonly string[];
  /** vCPUs left halted with nothing to wake them when the run ended. */
  readonly halted: readonly number[];
}

/**
 * Runs a scenario on the reference VMM: a VMM with kvm's defaults, the chosen plugin packages
 * (plus the scenario's modules), one TD, a run loop per vCPU driven round-robin until every vCPU
 * finishes.
 * @throws a coded error for an unknown plugin name or an invalid TD shape
 */
export function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): RunScenarioResult {
  const plugins = (options.plugins ?? Object.keys(PLUGIN_MODULES)).map((name) => {
    const m = PLUGIN_MODULES[name];
    if (m === undefined) throw new RangeError(`unknown plugin "${name}"; available: ${Object.keys(PLUGIN_MODULES).join(', ')}`);
    return m;
  });
  const vmm = createVmm({ modules: [kvmModule(options.kvm), ...plugins, ...(scenario.modules ?? []), ...(options.modules ?? [])] });
  const tracer = new Tracer(options.onRecord, { timing: options.timing === true, tdExits: options.tdExits === true });
  const panics: GuestPanicEvent[] = [];
  const guestCrashes: string[] = [];
  let pluginErrors = 0;
  vmm.on((e) => {
    if (e.type === 'guest-panic') panics.push(e);
    else if (e.type === 'guest-crash') guestCrashes.push(e.error instanceof Error ? e.error.message : String(e.error));
    else pluginErrors++;
    tracer.onEvent(e);
  });
  const vcpus = options.vcpus ?? scenario.vcpus ?? 1;
  const td = vmm.createTd({
    guest: scenario.guest,
    vcpus,
    hooks: tracer,
    ...(options.memoryBytes !== undefined ? { memoryBytes: options.memoryBytes } : {}),
    ...(scenario.image !== undefined ? { image: scenario.image } : {}),
    ...(scenario.handlers !== undefined ? { handlers: scenario.handlers } : {}),
    ...(scenario.sharedMemory !== undefined ? { sharedMemory: scenario.sharedMemory } : {}),
  });
  const exits: Record<string, number> = {};
  for (const r of td.runners) {
    r.onUserExit = (_i, reason) => {
      const n = exitName(reason);
      exits[n] = (exits[n] ?? 0) + 1;
    };
  }
  const max = options.maxExits ?? 100_000;
  // Round-robin over the vCPUs. KVM_RUN on a halted vCPU with nothing to wake it fails with
  // EINTR (it would block): that vCPU waits; when every live vCPU waits, nothing can wake them.
  const halted = new Set<number>();
  let active = true;
  while (active) {
    active = false;
    let progressed = false;
    for (const [i, r] of td.runners.entries()) {
      if (r.state !== VcpuRunState.PAUSED || r.exits >= max) continue;
      active = true;
      const before = r.exits;
      try {
        r.run(Math.min(64, max - r.exits));
        halted.delete(i);
        progressed = true;
      } catch (err) {
        if (!(SeamkitError.is(err) && err.errno === EINTR)) throw err;
        if (r.exits !== before) progressed = true;
        halted.add(i);
      }
    }
    if (active && !progressed) break;
  }
  const records = tracer.records;
  const kernelAnswered = records.filter((r) => r.kind === 'kernel').length;
  const userExits = records.filter((r) => r.kind === 'exit').length;
  return {
    scenario: scenario.name,
    mrtd: Buffer.from(td.mrtd).toString('hex'),
    vcpus,
    records,
    tdvmcalls: kernelAnswered + userExits,
    kernelAnswered,
    exits,
    panics,
    guestCrashes,
    pluginErrors,
    vcpuStates: td.runners.map((r) => r.state),
    lastExits: td.runners.map((r) => exitName(r.lastReason)),
    halted: [...halted].sort((a, b) => a - b),
  };
}
