/** Where a command writes, and whether it may use colour (NO_COLOR / FORCE_COLOR / TTY, as other Node CLIs). */
export interface Output {
  /** Writes one line to stdout. */
  out(line: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** True when colour escapes may be used on stdout. */
  readonly color: boolean;
}

/** The process's stdout/stderr with the usual colour conventions. */
export function processOutput(): Output {
  const env = process.env;
  const force = env['FORCE_COLOR'];
  const color = force !== undefined ? force !== '0' : env['NO_COLOR'] === undefined && process.stdout.isTTY === true && env['TERM'] !== 'dumb';
  return {
    out: (l) => void process.stdout.write(`${l}\n`),
    err: (l) => void process.stderr.write(`${l}\n`),
    color,
  };
}

/** An output that collects lines (tests, embedding). */
export function memoryOutput(): Output & { readonly lines: string[]; readonly errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { out: (l) => void lines.push(l), err: (l) => void errors.push(l), color: false, lines, errors };
}

/** Wraps `s` in an ANSI style when colour is on. */
export function paint(o: Output, code: 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan', s: string): string {
  if (!o.color) return s;
  const c = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, cyan: 36 }[code];
  return `\u001b[${c}m${s}\u001b[0m`;
}
