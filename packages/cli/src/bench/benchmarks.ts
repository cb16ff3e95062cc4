import { createVmm, type LeafHooks, type Vmm } from '@seamkit/core';
import { kvmModule, KVM_EXIT_IO, KVM_EXIT_TDX, KVM_RUN_LAYOUT } from '@seamkit/kvm';
import { quoteModule } from '@seamkit/plugin-quote';
import { fromGenerator, type GuestCpu, type GuestProgram } from '@seamkit/seam-cpu';
import { R12, R13, TDVMCALL_GET_QUOTE, TDVMCALL_GET_TD_VM_CALL_INFO } from '@seamkit/seam-cpu/abi';
import { ghci, prepareTdvmcall } from '@seamkit/tdx-module';
import { kernelFloor, userspaceFloor } from './floors.js';
import { kernelGuest, WARM_DONE_PORT } from './kernelGuest.js';
import { measure, stopGcObserver, WARMUP_RUNS, type BenchResult } from './measure.js';
import { mapGpaBench, scalingBench, tdBuildBench } from './systemBenchmarks.js';

/** A benchmark result with its floor comparison and target. */
export interface BenchLine extends BenchResult {
  /** Name of the floor measured beside it, if any. */
  readonly floor?: string;
  /** floor ops/s divided by this benchmark's ops/s (1 = as fast as the hand-written loop). */
  readonly slowdownVsFloor?: number;
  /** Target ops/s for this benchmark, if it has one. */
  readonly targetOpsPerSec?: number;
  /**
   * Whether every target of this line is met: ops/s, zero minor GCs and within
   * {@link MAX_SLOWDOWN_VS_FLOOR} of the floor (step-form paths); the slow-down against the step
   * form (ergonomic guest); resident growth against declared memory (TD build); the speed-up
   * (vCPU scaling).
   */
  readonly meetsTarget?: boolean;
  /** tdvmcall.kernel.ergonomic: the step form's ops/s divided by this line's. */
  readonly slowdownVsStep?: number;
  /** tdvmcall.kernel.ergonomic: the largest slow-down allowed ({@link MAX_ERGONOMIC_SLOWDOWN}). */
  readonly maxSlowdownVsStep?: number;
  /** mapgpa.convert: GiB converted per second. */
  readonly gibPerSec?: number;
  /** td.build: declared guest memory in bytes. */
  readonly declaredBytes?: number;
  /** td.build: growth of the resident set while building, MiB. */
  readonly rssGrowthMiB?: number;
  /** vcpu.scaling: aggregate ops/s with one worker. */
  readonly opsPerSecOneWorker?: number;
  /** vcpu.scaling: two workers' throughput over one worker's. */
  readonly speedup?: number;
  /** vcpu.scaling: the speed-up target. */
  readonly targetSpeedup?: number;
}

/** Options of {@link runBenchmarks}. */
export interface BenchOptions {
  /** Measured operations per benchmark (default 1 000 000). */
  readonly ops?: number;
  /** Called with each result as soon as it is measured. */
  readonly onResult?: (r: BenchLine) => void;
  /** Called before each benchmark starts (progress display). */
  readonly onStart?: (name: string) => void;
  /** Also run the system benchmarks (MapGPA conversion, TD build, vCPU scaling). Default true. */
  readonly system?: boolean;
  /**
   * Timed runs per TDVMCALL benchmark and floor (default 5): each line reports the median run,
   * and its GC counts cover every run (so `ops * reps` exits are checked for GCs).
   */
  readonly reps?: number;
}

/** Final speed targets (the conformance/robustness/speed issue), ops/s, step-form guest. */
export const TARGETS: Readonly<Record<string, number>> = {
  'tdvmcall.kernel': 12_000_000,
  'tdvmcall.userspace': 8_000_000,
};

/** A targeted path must also stay within this factor of its own floor loop. */
export const MAX_SLOWDOWN_VS_FLOOR = 3;
/** The ergonomic (generator) guest may be at most this many times slower than the step form. */
export const MAX_ERGONOMIC_SLOWDOWN = 5;

const QUOTE_RET = KVM_RUN_LAYOUT['tdx.get_quote.ret'].offset;

/** The same guest in the ergonomic (generator) form, with the same segments. */
function kernelGuestErgonomic(warm: number, count: number, segments = 1): GuestProgram {
  return fromGenerator(function* (cpu) {
    for (let i = 0; i < warm; i++) yield* ghci.tdvmcall(cpu, TDVMCALL_GET_TD_VM_CALL_INFO);
    yield* ghci.ioWrite(cpu, WARM_DONE_PORT, 1, 0);
    for (let s = 0; s < segments; s++) {
      for (let i = 0; i < count; i++) yield* ghci.tdvmcall(cpu, TDVMCALL_GET_TD_VM_CALL_INFO);
      yield* ghci.ioWrite(cpu, WARM_DONE_PORT, 1, 0);
    }
  });
}

/** A step-form guest that calls GetQuote on a shared buffer forever. */
function quoteGuest(): GuestProgram {
  return (cpu) => {
    const sharedHi = cpu.mem.sharedBit / 0x1_0000_0000;
    return {
      step(c: GuestCpu): number {
        c.regs.setHalves(R12, 0x1000, sharedHi);
        c.regs.setHalves(R13, 4096, 0);
        return prepareTdvmcall(c.regs, TDVMCALL_GET_QUOTE);
      },
    };
  };
}

/** A tracing hook that counts what it sees (what a metrics hook would do). */
function countingHooks(): LeafHooks & { dispatched: number } {
  const h = {
    dispatched: 0,
    onDispatch(): void {
      h.dispatched++;
    },
  };
  return h;
}

/**
 * A kernel-answered path: the guest's warm-up TDVMCALLs run on the measured vCPU itself (so the
 * clock starts with that vCPU's code already optimized), its OUT to WARM_DONE_PORT returns from
 * KVM_RUN, and each timed KVM_RUN then runs `ops` TDVMCALLs without leaving the kernel model
 * (the guest ends each segment with another OUT).
 */
async function kernelPath(
  vmm: Vmm, name: string, description: string, ops: number, reps: number,
  guest: (warm: number, n: number, segments: number) => GuestProgram, hooks?: LeafHooks,
): Promise<BenchResult> {
  const td = vmm.createTd({ guest: guest(Math.min(ops, 200_000), ops, WARMUP_RUNS + reps), ...(hooks ? { hooks } : {}) });
  const v = td.vcpus[0]!;
  if (v.run() !== KVM_EXIT_IO) throw new Error(`${name}: the warm-up did not end with KVM_EXIT_IO`);
  return measure(name, description, ops, () => {
    if (v.run() !== KVM_EXIT_IO) throw new Error(`${name}: a segment did not end with KVM_EXIT_IO`);
  }, reps);
}

async function userspacePath(vmm: Vmm, ops: number, reps: number): Promise<BenchResult> {
  const td = vmm.createTd({ guest: quoteGuest() });
  const v = td.vcpus[0]!;
  const run = v.kvmRun;
  const loop = (n: number): void => {
    for (let i = 0; i < n; i++) {
      if (v.run() !== KVM_EXIT_TDX) throw new Error('expected KVM_EXIT_TDX');
      run.setU64Halves(QUOTE_RET, 0, 0); // the VMM answers: request queued
    }
  };
  loop(Math.min(ops, 200_000));
  return measure('tdvmcall.userspace', 'GetQuote: KVM_EXIT_TDX to the VMM, ret written, back into the guest (step-form guest)', ops, () => loop(ops), reps);
}

/**
 * Runs the benchmark suite: the floors and the framework paths, each measured in this run.
 * @returns every result, in order
 */
export async function runBenchmarks(options: BenchOptions = {}): Promise<BenchLine[]> {
  const ops = options.ops ?? 1_000_000;
  const reps = options.reps ?? 5;
  const out: BenchLine[] = [];
  const emit = (r: BenchLine): void => {
    out.push(r);
    options.onResult?.(r);
  };
  const vmm = createVmm({ modules: [kvmModule(), quoteModule] });
  const start = (n: string): void => options.onStart?.(n);

  start('floor');
  const floor = await measure('floor', 'hand-written model of the kernel round trip (guest step, TDH.VP.ENTER, KVM_RUN loop, leaf): same register traffic, no framework', ops, kernelFloor(ops), reps);
  emit(floor);
  start('floor.userspace');
  const floorUser = await measure('floor.userspace', 'hand-written model of the userspace round trip, returning from KVM_RUN per exit: register traffic, exit struct, reply, completion', ops, userspaceFloor(ops), reps);
  emit(floorUser);

  const withFloor = (r: BenchResult, f: BenchResult): BenchLine => {
    const target = TARGETS[r.name];
    const slowdownVsFloor = round2(f.opsPerSec / r.opsPerSec);
    return {
      ...r, floor: f.name, slowdownVsFloor,
      ...(target !== undefined
        ? { targetOpsPerSec: target, meetsTarget: r.opsPerSec >= target && r.minorGcs === 0 && slowdownVsFloor <= MAX_SLOWDOWN_VS_FLOOR }
        : {}),
    };
  };
  start('tdvmcall.kernel');
  const kernel = withFloor(await kernelPath(vmm, 'tdvmcall.kernel', 'GetTdVmCallInfo(0) answered in the kernel model, guest re-entered (step-form guest)', ops, reps, kernelGuest), floor);
  emit(kernel);
  start('tdvmcall.userspace');
  emit(withFloor(await userspacePath(vmm, ops, reps), floorUser));
  start('tdvmcall.kernel.hooked');
  emit(withFloor(await kernelPath(vmm, 'tdvmcall.kernel.hooked', 'tdvmcall.kernel with a counting onDispatch hook installed (cost of observability)', ops, reps, kernelGuest, countingHooks()), floor));
  const ergoOps = Math.max(1, Math.floor(ops / 4));
  start('tdvmcall.kernel.ergonomic');
  const ergonomic = withFloor(await kernelPath(vmm, 'tdvmcall.kernel.ergonomic', 'the same kernel leaf from a generator (ergonomic) guest', ergoOps, reps, kernelGuestErgonomic), floor);
  const slowdownVsStep = round2(kernel.opsPerSec / ergonomic.opsPerSec);
  emit({ ...ergonomic, slowdownVsStep, maxSlowdownVsStep: MAX_ERGONOMIC_SLOWDOWN, meetsTarget: slowdownVsStep <= MAX_ERGONOMIC_SLOWDOWN });
  if (options.system !== false) {
    start('mapgpa.convert');
    emit(mapGpaBench(1));
    start('td.build');
    emit(tdBuildBench(1));
    start('vcpu.scaling');
    // Segments twice as long as the other lines': two busy cores are the most exposed to the rest of the machine.
    emit(await scalingBench(2 * ops, reps));
  }
  stopGcObserver();
  return out;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
