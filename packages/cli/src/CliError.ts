/** A usage error of the command line: printed without a stack, exit code 2. */
export class CliError extends Error {
  /** Process exit code. */
  readonly exitCode: number;

  /**
   * @param message - what is wrong
   * @param exitCode - process exit code (2 = usage)
   */
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
