import { SeamkitError } from '@seamkit/seam-cpu';
import { CliError } from './CliError.js';
import { abiCommand } from './commands/abiCommand.js';
import { benchCommand } from './commands/benchCommand.js';
import { qgsCommand } from './commands/qgsCommand.js';
import { quoteCommand } from './commands/quoteCommand.js';
import { runCommand } from './commands/runCommand.js';
import { processOutput, type Output } from './Output.js';

/** Top-level help. */
export const MAIN_HELP = `Usage: seamkit <command> [options]

seamkit: build custom VMMs for Intel TDX confidential VMs on a faithful software model of
the TDX module and KVM. This command is the reference VMM.

Commands:
  run [SCENARIO]   boot a TD and run a built-in guest scenario or your guest module (default: basic)
  bench            benchmark the TDVMCALL paths against hand-written floors
  abi              print the struct kvm_run layout
  quote            run the attestation flow in a TD and write the DCAP quote it gets
  qgs              serve quotes on a Unix socket (the QGS protocol QEMU speaks)

Options:
  -h, --help       show this help

Run "seamkit <command> --help" for a command's options. Colour follows NO_COLOR, FORCE_COLOR
and whether stdout is a terminal.`;

/**
 * Runs the command line with `argv` (without node and script) and returns the exit code:
 * 0 success, 1 failure, 2 usage error.
 */
export async function main(argv: readonly string[], o: Output = processOutput()): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        o.out(MAIN_HELP);
        return cmd === undefined ? 2 : 0;
      case 'run':
        return await runCommand(rest, o);
      case 'bench':
        return await benchCommand(rest, o);
      case 'abi':
        return abiCommand(rest, o);
      case 'quote':
        return await quoteCommand(rest, o);
      case 'qgs':
        return await qgsCommand(rest, o);
      default:
        throw new CliError(`unknown command "${cmd}"\n\n${MAIN_HELP}`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      o.err(`seamkit: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS')) {
      o.err(`seamkit: ${err.message}`);
      return 2;
    }
    if (SeamkitError.is(err)) {
      o.err(`seamkit: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
