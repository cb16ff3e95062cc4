import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/** One benchmark result, printed as one JSON line. */
export interface BenchResult {
  /** Benchmark name, e.g. `tdvmcall.kernel`. */
  readonly name: string;
  /** What it measures. */
  readonly description: string;
  /** Operations (TDVMCALL round trips) per second. */
  readonly opsPerSec: number;
  /** Operations measured. */
  readonly ops: number;
  /** Wall time of the measured loop, seconds. */
  readonly seconds: number;
  /** Young-generation (minor / scavenge) GCs during the measured loop. */
  readonly minorGcs: number;
  /** Major GCs during the measured loop. */
  readonly majorGcs: number;
  /** Heap growth per operation over the loop, bytes (meaningful when no GC ran). */
  readonly heapBytesPerOp: number;
  /** With repetitions: ops/s of every timed run, in order (`opsPerSec` is their median). */
  readonly runs?: readonly number[];
}

const gcEntries: PerformanceEntry[] = [];
let observer: PerformanceObserver | undefined;

function ensureObserver(): void {
  if (observer !== undefined) return;
  observer = new PerformanceObserver((list) => void gcEntries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
}

/** Stops GC observation (call once all benchmarks are done, so the process can exit). */
export function stopGcObserver(): void {
  observer?.disconnect();
  observer = undefined;
}

/** Untimed runs of the same loop before the timed ones (JIT tiering settles in these). */
export const WARMUP_RUNS = 2;

/**
 * Runs `loop` (which performs `ops` operations) {@link WARMUP_RUNS} times untimed, then `reps`
 * times timed, and measures: wall time of each timed run (the reported ops/s and seconds are the
 * median run's, so one run disturbed by the machine does not decide the result), GCs observed
 * while any run was timed (PerformanceObserver 'gc' entries whose start falls in a timed window)
 * and heap growth per operation over the timed runs.
 */
export async function measure(name: string, description: string, ops: number, loop: () => void, reps = 1): Promise<BenchResult> {
  ensureObserver();
  for (let i = 0; i < WARMUP_RUNS; i++) loop();
  await new Promise((r) => setTimeout(r, 50));
  gcEntries.length = 0;
  const windows: [number, number][] = [];
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    loop();
    windows.push([t0, performance.now()]);
  }
  const heap1 = process.memoryUsage().heapUsed;
  // GC entries are queued from the GC and delivered on a later turn of the event loop.
  await new Promise((r) => setTimeout(r, 50));
  if (observer !== undefined) gcEntries.push(...observer.takeRecords());
  const inWindow = gcEntries.filter((e) => windows.some(([t0, t1]) => e.startTime >= t0 && e.startTime <= t1));
  const kind = (e: PerformanceEntry): number => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
  const minorGcs = inWindow.filter((e) => kind(e) === constants.NODE_PERFORMANCE_GC_MINOR).length;
  const majorGcs = inWindow.filter((e) => kind(e) !== constants.NODE_PERFORMANCE_GC_MINOR).length;
  const times = windows.map(([t0, t1]) => (t1 - t0) / 1000);
  const seconds = [...times].sort((a, b) => a - b)[times.length >> 1]!;
  return {
    name, description, ops, seconds: round(seconds, 4), opsPerSec: Math.round(ops / seconds), minorGcs, majorGcs,
    heapBytesPerOp: round(Math.max(0, heap1 - heap0) / (ops * reps), 3),
    ...(reps > 1 ? { runs: times.map((t) => Math.round(ops / t)) } : {}),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
