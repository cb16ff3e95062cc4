import { parseArgs } from 'node:util';
import { KVM_RUN_LAYOUT, KVM_RUN_SIZE } from '@seamkit/kvm/uapi';
import type { Output } from '../Output.js';

/** Help text of `seamkit abi`. */
export const ABI_HELP = `Usage: seamkit abi [--json]

Prints the byte layout of struct kvm_run as seamkit implements it (Linux 6.16 x86-64):
member path, offset and size.

Options:
  --json      one JSON object: {"kvm_run": {"<member path>": {"offset": N, "size": N}, ...},
              "sizeof": {"kvm_run": N}}
  -h, --help  show this help`;

/** `seamkit abi`. */
export function abiCommand(argv: readonly string[], o: Output): number {
  const { values } = parseArgs({
    args: [...argv],
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    o.out(ABI_HELP);
    return 0;
  }
  if (values.json) {
    o.out(JSON.stringify({ kvm_run: KVM_RUN_LAYOUT, sizeof: { kvm_run: KVM_RUN_SIZE } }));
    return 0;
  }
  o.out(`struct kvm_run (${KVM_RUN_SIZE} bytes)`);
  o.out(`${'member'.padEnd(44)}${'offset'.padStart(7)}${'size'.padStart(7)}`);
  for (const [k, v] of Object.entries(KVM_RUN_LAYOUT)) o.out(`${k.padEnd(44)}${String(v.offset).padStart(7)}${String(v.size).padStart(7)}`);
  return 0;
}
