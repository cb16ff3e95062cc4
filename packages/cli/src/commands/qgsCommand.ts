import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DcapQuoteGenerator, QgsServer } from '@seamkit/plugin-quote';
import { CliError } from '../CliError.js';
import { paint, type Output } from '../Output.js';

/** Help text of `seamkit qgs`. */
export const QGS_HELP = `Usage: seamkit qgs --socket PATH [--pki DIR]

Runs a quote generation service on a Unix socket, speaking the QGS protocol QEMU uses for its
quote-generation-socket (4-byte big-endian length, qgs_msg_header 1.1, GET_QUOTE_REQ/RESP). It
turns each TDREPORT into a DCAP version 4 TD quote certified by a test PKI generated at start-up
(not Intel's: only a verifier given its root CA accepts the quotes). Serves until SIGINT or
SIGTERM, then removes the socket.

Options:
  --socket PATH   the Unix socket to listen on (a stale socket file is replaced)
  --pki DIR       write the test PKI's root CA, PCK chain and verification collateral to DIR
  -h, --help      show this help

Use it with: seamkit quote --qgs PATH --out quote.bin`;

/** Resolves on the first SIGINT or SIGTERM (or when `stop` is called), removing the handlers. */
function untilSignal(stop?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    stop?.addEventListener('abort', () => done('stopped'), { once: true });
  });
}

/**
 * `seamkit qgs`: serves until SIGINT / SIGTERM (or until `stop` aborts, for embedding and
 * tests); returns the process exit code.
 */
export async function qgsCommand(argv: readonly string[], o: Output, stop?: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      socket: { type: 'string' },
      pki: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    o.out(QGS_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`seamkit qgs takes no arguments, got "${positionals.join(' ')}"\n\n${QGS_HELP}`);
  if (values.socket === undefined || values.socket === '') throw new CliError(`seamkit qgs needs --socket PATH\n\n${QGS_HELP}`);
  const generator = await DcapQuoteGenerator.create();
  const server = new QgsServer((r) => generator.generate(r));
  const signal = untilSignal(stop);
  try {
    await server.listen(values.socket);
  } catch (err) {
    await server.close();
    throw new CliError(err instanceof Error ? err.message : String(err), 1);
  }
  o.out(paint(o, 'bold', `seamkit qgs: listening on ${values.socket} (QGS protocol 1.1, DCAP v4 TD quotes, test PKI)`));
  if (values.pki !== undefined) for (const f of await generator.pki.exportTo(values.pki)) o.out(`  test PKI  ${f}`);
  o.out(`  root CA   SHA-256 ${createHash('sha256').update(generator.pki.rootCaDer).digest('hex')}`);
  const why = await signal;
  await server.close();
  o.out(`seamkit qgs: ${why}, stopped after ${server.stats.connections} connections, ${server.stats.quotes} quotes, ${server.stats.errors} errors`);
  return 0;
}
