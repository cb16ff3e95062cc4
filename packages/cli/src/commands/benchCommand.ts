import { parseArgs } from 'node:util';
import { MAX_SLOWDOWN_VS_FLOOR, runBenchmarks, TARGETS } from '../bench/benchmarks.js';
import { CliError } from '../CliError.js';
import { paint, type Output } from '../Output.js';

/** Help text of `seamkit bench`. */
export const BENCH_HELP = `Usage: seamkit bench [--json] [--ops N] [--reps N]

Measures TDVMCALL round trips through the whole stack (guest -> TDX module -> KVM -> registry ->
plugin [-> VMM] -> guest) beside hand-written floor loops with the same register traffic, in
the same process. Each TDVMCALL benchmark and floor is timed --reps times and reports its median
run; minor GCs are counted over all runs, with heap growth per op. Then
the system benchmarks: MapGPA conversion (GiB/s), building a TD with 1 GiB declared memory
(time, resident growth), and vCPU scaling over worker threads (speed-up of 2 over 1).

Options:
  --json     one JSON object per benchmark, one per line
  --ops N    operations per timed run (default 1000000)
  --reps N   timed runs per benchmark, median reported (default 5)
  -h, --help show this help`;

/** `seamkit bench`: exit code 0, or 1 when a benchmark with a target misses it. */
export async function benchCommand(argv: readonly string[], o: Output): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { json: { type: 'boolean', default: false }, ops: { type: 'string' }, reps: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    o.out(BENCH_HELP);
    return 0;
  }
  const ops = values.ops === undefined ? 1_000_000 : Number(values.ops);
  if (!Number.isInteger(ops) || ops < 1) throw new CliError(`--ops must be a positive integer, got "${values.ops}"`);
  const reps = values.reps === undefined ? 5 : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new CliError(`--reps must be a positive integer, got "${values.reps}"`);
  let missed = 0;
  await runBenchmarks({
    ops,
    reps,
    onStart: (name) => {
      if (!values.json && o.color) process.stderr.write(paint(o, 'dim', `running ${name}...\r`));
    },
    onResult: (r) => {
      if (r.meetsTarget === false) missed++;
      if (values.json) {
        o.out(JSON.stringify(r));
        return;
      }
      const target = TARGETS[r.name];
      const verdict = r.meetsTarget === undefined ? '' : r.meetsTarget ? paint(o, 'green', ' ok') : paint(o, 'red', ' BELOW TARGET');
      let detail: string;
      if (r.gibPerSec !== undefined) detail = `${String(r.gibPerSec).padStart(12)} GiB/s  (${r.ops} chunks of 2 MiB in ${r.seconds} s)`;
      else if (r.rssGrowthMiB !== undefined) detail = `${String(r.seconds).padStart(12)} s      resident +${r.rssGrowthMiB} MiB for ${(r.declaredBytes ?? 0) / 2 ** 30} GiB declared`;
      else if (r.speedup !== undefined) detail = `${r.opsPerSec.toLocaleString('en-US').padStart(12)} ops/s  ${r.speedup}x one worker (${(r.opsPerSecOneWorker ?? 0).toLocaleString('en-US')} ops/s; target ${r.targetSpeedup}x)`;
      else detail = `${r.opsPerSec.toLocaleString('en-US').padStart(12)} ops/s  minorGCs ${String(r.minorGcs).padStart(3)}${r.slowdownVsFloor !== undefined ? `  ${r.slowdownVsFloor}x floor` : ''}${target !== undefined ? `  (target ${target.toLocaleString('en-US')}, <= ${MAX_SLOWDOWN_VS_FLOOR}x floor)` : ''}${r.slowdownVsStep !== undefined ? `  ${r.slowdownVsStep}x step form (max ${r.maxSlowdownVsStep}x)` : ''}`;
      o.out(`${r.name.padEnd(28)} ${detail}${verdict}`);
    },
  });
  return missed > 0 ? 1 : 0;
}
