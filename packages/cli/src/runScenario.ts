import type { ContainerModule } from 'inversify';
import { createVmm, VcpuRunState, type ExitHandlers, type GuestPanicEvent, type Vmm, type VmmTd } from '@seamkit/core';
import { handleMemoryFault, kvmModule, KVM_EXIT_MEMORY_FAULT, type KvmOptions } from '@seamkit/kvm';
import { fatalModule } from '@seamkit/plugin-fatal';
import { quoteModule } from '@seamkit/plugin-quote';
import { SeamkitError } from '@seamkit/seam-cpu';
import { CliError } from './CliError.js';
import { exitName } from './names.js';
import type { Scenario, ScenarioHost, ScenarioVmm } from './scenarios/Scenario.js';
import { Tracer, type TraceRecord } from './Tracer.js';

/** EINTR: KVM_RUN would block (a halted vCPU). */
const EINTR = 4;

/** The optional plugin packages the reference VMM loads by default, by short name. */
export const PLUGIN_MODULES: Readonly<Record<string, ContainerModule>> = { quote: quoteModule, fatal: fatalModule };

/**
 * The exit handlers the reference VMM installs for every run, before the scenario's own:
 * KVM_EXIT_MEMORY_FAULT converts the faulting range as QEMU does (kvm's `handleMemoryFault`), so
 * a guest that touches memory through the other mapping (implicit conversion) goes on.
 */
export const REFERENCE_HANDLERS: ExitHandlers = { [KVM_EXIT_MEMORY_FAULT]: handleMemoryFault };

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** Receives each trace record as it happens. */
  readonly onRecord?: (r: TraceRecord) => void;
  /** Options of the simulated kernel (the scenario's own `kvm` options apply over them). */
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
  /** {@link runScenarioAsync} only: give up waiting for the VMM side's asynchronous work after this many ms (default 60 000). */
  readonly timeoutMs?: number;
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
  /** Checks the scenario's VMM side reported as failed (`ScenarioHost.fail`). */
  readonly failures: readonly string[];
  /** Final state of each vCPU's run loop. */
  readonly vcpuStates: readonly VcpuRunState[];
  /** Last exit reason of each vCPU. */
  readonly lastExits: readonly string[];
  /** vCPUs left halted with nothing to wake them when the run ended. */
  readonly halted: readonly number[];
}

/** One run of a scenario on the reference VMM: the TD, its run loops, the trace. */
class ScenarioRunner {
  readonly tracer: Tracer;
  readonly side: ScenarioVmm;
  readonly vmm: Vmm;
  readonly td: VmmTd;
  readonly #scenario: Scenario;
  readonly #vcpus: number;
  readonly #max: number;
  readonly #panics: GuestPanicEvent[] = [];
  readonly #guestCrashes: string[] = [];
  readonly #failures: string[] = [];
  readonly #exits: Record<string, number> = {};
  readonly #halted = new Set<number>();
  #pluginErrors = 0;

  constructor(scenario: Scenario, options: RunScenarioOptions) {
    const plugins = (options.plugins ?? Object.keys(PLUGIN_MODULES)).map((name) => {
      const m = PLUGIN_MODULES[name];
      if (m === undefined) throw new RangeError(`unknown plugin "${name}"; available: ${Object.keys(PLUGIN_MODULES).join(', ')}`);
      return m;
    });
    this.#scenario = scenario;
    const tracer = new Tracer(options.onRecord, { timing: options.timing === true, tdExits: options.tdExits === true });
    this.tracer = tracer;
    const host: ScenarioHost = {
      note: (vcpu, message, data) => tracer.note(vcpu, message, data),
      fail: (vcpu, message, data) => {
        this.#failures.push(message);
        tracer.note(vcpu, message, data, false);
      },
    };
    this.side = scenario.vmm?.(host) ?? {};
    try {
      const kvm: KvmOptions = { ...options.kvm, ...scenario.kvm };
      this.vmm = createVmm({
        modules: [kvmModule(kvm), ...plugins, ...(scenario.modules ?? []), ...(this.side.modules ?? []), ...(options.modules ?? [])],
      });
      this.vmm.on((e) => {
        if (e.type === 'guest-panic') this.#panics.push(e);
        else if (e.type === 'guest-crash') this.#guestCrashes.push(e.error instanceof Error ? e.error.message : String(e.error));
        else this.#pluginErrors++;
        tracer.onEvent(e);
      });
      this.#vcpus = options.vcpus ?? scenario.vcpus ?? 1;
      this.#max = options.maxExits ?? 100_000;
      this.td = this.vmm.createTd({
        guest: scenario.guest,
        vcpus: this.#vcpus,
        hooks: tracer,
        handlers: { ...REFERENCE_HANDLERS, ...scenario.handlers, ...this.side.handlers },
        ...(options.memoryBytes !== undefined ? { memoryBytes: options.memoryBytes } : {}),
        ...(scenario.image !== undefined ? { image: scenario.image } : {}),
        ...(scenario.sharedMemory !== undefined ? { sharedMemory: scenario.sharedMemory } : {}),
        ...(scenario.attributes !== undefined ? { attributes: scenario.attributes } : {}),
      });
      for (const r of this.td.runners) {
        r.onUserExit = (i, reason, ctx) => {
          const n = exitName(reason);
          this.#exits[n] = (this.#exits[n] ?? 0) + 1;
          tracer.userExit(i, reason, ctx.run);
        };
      }
      this.side.setup?.({ vmm: this.vmm, td: this.td });
    } catch (err) {
      // The VMM side may hold resources (a quote service): let it release them, keeping this error.
      try {
        void Promise.resolve(this.side.finish?.()).catch(() => undefined);
      } catch {
        // the first error is the one to report
      }
      throw err;
    }
  }

  /**
   * One round-robin pass over the vCPUs. KVM_RUN on a halted vCPU with nothing to wake it fails
   * with EINTR (it would block): that vCPU waits.
   * @returns 'done' when no vCPU can run any more, 'waiting' when every live vCPU waits, else 'progress'
   */
  round(): 'done' | 'waiting' | 'progress' {
    let active = false;
    let progressed = false;
    for (const [i, r] of this.td.runners.entries()) {
      if (r.state !== VcpuRunState.PAUSED || r.exits >= this.#max) continue;
      active = true;
      const before = r.exits;
      try {
        r.run(Math.min(64, this.#max - r.exits));
        this.#halted.delete(i);
        progressed = true;
      } catch (err) {
        if (!(SeamkitError.is(err) && err.errno === EINTR)) throw err;
        if (r.exits !== before) progressed = true;
        if (!this.#halted.has(i) || r.exits !== before) this.tracer.halted(i);
        this.#halted.add(i);
      }
    }
    if (!active) return 'done';
    return progressed ? 'progress' : 'waiting';
  }

  result(): RunScenarioResult {
    const tracer = this.tracer;
    tracer.flush();
    const records = tracer.records;
    const kernelAnswered = records.filter((r) => r.kind === 'kernel').length;
    const userExits = records.filter((r) => r.kind === 'exit').length;
    const td = this.td;
    return {
      scenario: this.#scenario.name,
      mrtd: Buffer.from(td.mrtd).toString('hex'),
      vcpus: this.#vcpus,
      records,
      tdvmcalls: kernelAnswered + userExits,
      kernelAnswered,
      exits: this.#exits,
      panics: this.#panics,
      guestCrashes: this.#guestCrashes,
      pluginErrors: this.#pluginErrors,
      failures: this.#failures,
      vcpuStates: td.runners.map((r) => r.state),
      lastExits: td.runners.map((r) => exitName(r.lastReason)),
      halted: [...this.#halted].filter((i) => td.runners[i]!.state === VcpuRunState.PAUSED).sort((a, b) => a - b),
    };
  }
}

/**
 * Runs a scenario on the reference VMM, synchronously: a VMM with kvm's defaults, the chosen
 * plugin packages (plus the scenario's modules and its VMM side), the reference VMM's exit
 * handlers ({@link REFERENCE_HANDLERS}, then the scenario's), one TD, a run loop per vCPU driven
 * round-robin until every vCPU finishes or waits with nothing to wake it. It never waits for
 * asynchronous work: use {@link runScenarioAsync} for a scenario marked `async` (attest).
 * @throws RangeError for an unknown plugin name or an `async` scenario
 * @throws a coded error for an invalid TD shape
 */
export function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): RunScenarioResult {
  if (scenario.async === true) throw new RangeError(`scenario "${scenario.name}" waits for asynchronous work: run it with runScenarioAsync`);
  const run = new ScenarioRunner(scenario, options);
  try {
    while (run.round() === 'progress');
  } finally {
    run.tracer.flush();
    void Promise.resolve(run.side.finish?.()).catch(() => undefined);
  }
  return run.result();
}

/**
 * {@link runScenario} for any scenario: when every live vCPU waits, it lets the scenario's VMM
 * side finish asynchronous work (`ScenarioVmm.idle`, e.g. a quote request that ends with an MSI
 * waking the halted vCPU) and goes on; it awaits `ScenarioVmm.finish` at the end. This is what
 * `seamkit run` uses.
 * @throws RangeError for an unknown plugin name; a coded error for an invalid TD shape
 * @throws CliError (exit code 1) when the VMM side's work takes longer than `timeoutMs`
 */
export async function runScenarioAsync(scenario: Scenario, options: RunScenarioOptions = {}): Promise<RunScenarioResult> {
  const run = new ScenarioRunner(scenario, options);
  const timeoutMs = options.timeoutMs ?? 60_000;
  try {
    for (;;) {
      const state = run.round();
      if (state === 'done') break;
      if (state === 'progress') continue;
      const idle = run.side.idle;
      if (idle === undefined) break;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CliError(`scenario "${scenario.name}": the VMM side did not finish its work within ${timeoutMs} ms`, 1)), timeoutMs);
      });
      try {
        if (!(await Promise.race([idle.call(run.side), timeout]))) break;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    run.tracer.flush();
    await run.side.finish?.();
  }
  return run.result();
}
