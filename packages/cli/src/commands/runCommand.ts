import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SeamkitError } from '@seamkit/seam-cpu';
import { CliError } from '../CliError.js';
import { htmlReport } from '../htmlReport.js';
import { loadGuestModule } from '../loadGuestModule.js';
import { paint, type Output } from '../Output.js';
import { PLUGIN_MODULES, runScenarioAsync, type RunScenarioResult } from '../runScenario.js';
import { SCENARIOS } from '../scenarios/index.js';
import type { Scenario } from '../scenarios/Scenario.js';
import { formatRecord, type TraceRecord } from '../Tracer.js';

/** Help text of `seamkit run`. */
export const RUN_HELP = `Usage: seamkit run [SCENARIO | ./guest.js] [options]

Boots a TD on the reference VMM (simulated TDX module + KVM, default plugins: GetQuote,
ReportFatalError, and KVM's own leaves; KVM_EXIT_MEMORY_FAULT converts memory as QEMU does)
and runs a built-in guest scenario or your guest module. It prints one line per TDVMCALL
answered in the kernel model, one per exit to userspace (exit reason, leaf, the exit struct
decoded), one per completion (what the guest got back in R10 and R11), the notes of the
scenario's VMM side, and a summary.

Scenarios:
${Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n')}

A guest module is a .js/.mjs/.cjs file exporting "guest" (a generator function or a step-form
program) and optionally "modules" (DI modules with the plugins it needs), "vcpus", "image",
"handlers" (exit handlers by KVM_EXIT_* reason), "vmm" (host => its VMM side: handlers, setup,
notes to the trace), "sharedMemory", "attributes", "kvm", "name" and "description".
See docs/reference-vmm.md.

Options:
  --vcpus N          number of vCPUs (default: the scenario's, else 1)
  --memory SIZE      guest memory, e.g. 64M, 1G (default 64M; only touched pages cost memory)
  --plugins LIST     plugin packages to load: comma list of ${Object.keys(PLUGIN_MODULES).join(', ')}, or "none" (default: all)
  --trace            also print every TD exit (TDH.VP.ENTER status, VMX exit reason) with timings
  --json             one JSON object per line instead of text (records, then a summary object)
  --report FILE      write a self-contained HTML report (timeline, per-leaf counts, latency histogram)
  -h, --help         show this help

Exit status: 0 when the run ends normally, 1 when guest code threw, a plugin failed or a check
of the scenario failed, 2 for bad usage.`;

/** JSON.stringify that writes BigInts (register values, GPAs) as hex strings and byte arrays as hex. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

/** Parses a size such as 4096, 64K, 64M, 1G into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(text.trim());
  if (m === null) throw new CliError(`--memory: not a size: "${text}" (use e.g. 64M or 1G)`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase()] ?? 1;
  const bytes = Number(m[1]) * mult;
  if (bytes < 4096 || bytes > 2 ** 46) throw new CliError(`--memory: ${text} is out of range (4K .. 64T)`);
  return bytes;
}

/** A trace line with the colours of its kind: events and failed checks red, TD exits dim, VMM notes cyan. */
function colorRecord(o: Output, r: TraceRecord): string {
  const line = formatRecord(r);
  if (r.kind === 'event' || r.ok === false) return paint(o, 'red', line);
  if (r.kind === 'td-exit') return paint(o, 'dim', line);
  if (r.kind === 'vmm') return paint(o, 'cyan', line);
  return line;
}

/** `seamkit run`: returns the process exit code. */
export async function runCommand(argv: readonly string[], o: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      vcpus: { type: 'string' },
      memory: { type: 'string' },
      plugins: { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    o.out(RUN_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new CliError(`seamkit run takes one scenario or guest module, got ${positionals.length}`);
  const name = positionals[0] ?? 'basic';
  let scenario: Scenario | undefined = SCENARIOS[name];
  if (scenario === undefined) {
    if (!/[./\\]/.test(name)) throw new CliError(`unknown scenario "${name}"; built-in scenarios: ${Object.keys(SCENARIOS).join(', ')} (or give a path to a guest module)`);
    scenario = await loadGuestModule(name);
  }
  let vcpus: number | undefined;
  if (values.vcpus !== undefined) {
    vcpus = Number(values.vcpus);
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 64) throw new CliError(`--vcpus must be an integer from 1 to 64, got "${values.vcpus}"`);
  }
  const memoryBytes = values.memory === undefined ? undefined : parseSize(values.memory);
  let plugins: string[] | undefined;
  if (values.plugins !== undefined) {
    plugins = values.plugins === 'none' ? [] : values.plugins.split(',').map((p) => p.trim()).filter(Boolean);
    const unknown = plugins.filter((p) => PLUGIN_MODULES[p] === undefined);
    if (unknown.length) throw new CliError(`--plugins: unknown plugin ${unknown.join(', ')}; available: ${Object.keys(PLUGIN_MODULES).join(', ')}, or none`);
  }
  const json = values.json;
  if (!json) o.out(paint(o, 'bold', `seamkit run ${scenario.name}: ${scenario.description}`));
  let result: RunScenarioResult;
  try {
    result = await runScenarioAsync(scenario, {
      onRecord: (r) => o.out(json ? toJson(r) : colorRecord(o, r)),
      timing: values.trace || values.report !== undefined,
      tdExits: values.trace,
      ...(vcpus !== undefined ? { vcpus } : {}),
      ...(memoryBytes !== undefined ? { memoryBytes } : {}),
      ...(plugins !== undefined ? { plugins } : {}),
    });
  } catch (err) {
    // A guest module's own VMM code (its handlers, its `vmm` side) that throws: say so, exit 1.
    if (SCENARIOS[name] === undefined && err instanceof Error && !(err instanceof CliError) && !SeamkitError.is(err)) {
      throw new CliError(`guest module ${name} failed: ${err.message}`, 1);
    }
    throw err;
  }
  if (values.report !== undefined) writeFileSync(values.report, htmlReport(result));
  const failed = result.guestCrashes.length > 0 || result.pluginErrors > 0 || result.failures.length > 0;
  if (json) {
    const { records: _records, ...summary } = result;
    o.out(toJson({ kind: 'summary', ...summary }));
    return failed ? 1 : 0;
  }
  const exits = Object.entries(result.exits).map(([k, v]) => `${k} x${v}`).join(', ') || 'none';
  o.out(paint(o, 'bold', 'summary:'));
  o.out(`  TD MRTD        ${result.mrtd}`);
  o.out(`  TDVMCALLs      ${result.tdvmcalls} (${result.kernelAnswered} answered in the kernel model, ${result.tdvmcalls - result.kernelAnswered} exited to userspace)`);
  o.out(`  userspace exits ${exits}`);
  o.out(`  guest panics   ${result.panics.length}${result.panics.length ? ` (${result.panics.map((p) => JSON.stringify(p.message)).join(', ')})` : ''}`);
  if (result.guestCrashes.length) o.out(paint(o, 'red', `  guest code threw: ${result.guestCrashes.join('; ')}`));
  if (result.pluginErrors) o.out(paint(o, 'red', `  plugin errors  ${result.pluginErrors}`));
  if (result.failures.length) o.out(paint(o, 'red', `  failed checks  ${result.failures.length} (${result.failures.join('; ')})`));
  result.vcpuStates.forEach((s, i) => o.out(`  vcpu${i}          ${s} after ${result.lastExits[i]}${result.halted.includes(i) ? ' (halted, nothing to wake it)' : ''}`));
  if (values.report !== undefined) o.out(`  report         ${values.report}`);
  return failed ? 1 : 0;
}
