import { parseArgs } from 'node:util';
import { CliError } from '../CliError.js';
import { paint, type Output } from '../Output.js';
import { runScenario } from '../runScenario.js';
import { SCENARIOS } from '../scenarios/index.js';
import { formatRecord } from '../Tracer.js';

/** Help text of `seamkit run`. */
export const RUN_HELP = `Usage: seamkit run [SCENARIO] [--json]

Boots a TD on the reference VMM (simulated TDX module + KVM, default plugins: GetQuote,
ReportFatalError, GetTdVmCallInfo) and runs a built-in guest scenario, printing one line per
TDVMCALL (answered in the kernel model, or exit to userspace with its decoded struct and what
the guest got back) and a summary.

Scenarios:
${Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(10)} ${s.description}`).join('\n')}

Options:
  --json     one JSON object per line instead of text (records, then a summary object)
  -h, --help show this help`;

/** `seamkit run`: returns the process exit code (0 when the scenario ran to its end). */
export function runCommand(argv: readonly string[], o: Output): number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    o.out(RUN_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new CliError(`seamkit run takes one scenario, got ${positionals.length}`);
  const name = positionals[0] ?? 'basic';
  const scenario = SCENARIOS[name];
  if (scenario === undefined) throw new CliError(`unknown scenario "${name}"; built-in scenarios: ${Object.keys(SCENARIOS).join(', ')}`);
  const json = values.json;
  if (!json) o.out(paint(o, 'bold', `seamkit run ${name}: ${scenario.description}`));
  const result = runScenario(scenario, {
    onRecord: (r) => o.out(json ? JSON.stringify(r) : r.kind === 'event' ? paint(o, 'red', formatRecord(r)) : formatRecord(r)),
  });
  if (json) {
    const { records: _records, ...summary } = result;
    o.out(JSON.stringify({ kind: 'summary', ...summary }));
    return 0;
  }
  const exits = Object.entries(result.exits).map(([k, v]) => `${k} x${v}`).join(', ') || 'none';
  o.out(paint(o, 'bold', 'summary:'));
  o.out(`  TD MRTD        ${result.mrtd}`);
  o.out(`  TDVMCALLs      ${result.tdvmcalls} (${result.kernelAnswered} answered in the kernel model, ${result.tdvmcalls - result.kernelAnswered} exited to userspace)`);
  o.out(`  userspace exits ${exits}`);
  o.out(`  guest panics   ${result.panics.length}${result.panics.length ? ` (${result.panics.map((p) => JSON.stringify(p.message)).join(', ')})` : ''}`);
  if (result.pluginErrors) o.out(paint(o, 'red', `  plugin errors  ${result.pluginErrors}`));
  result.vcpuStates.forEach((s, i) => o.out(`  vcpu${i}          ${s} after ${result.lastExits[i]}`));
  return 0;
}
