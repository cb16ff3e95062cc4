const BRAND = Symbol.for('@seamkit/SeamkitError');

/**
 * Base class of every error seamkit throws for host-side misuse. Each package defines its own
 * table of codes (`SEAMKIT_ERR_<AREA>_<WHAT>`); match on {@link SeamkitError.code}, never on the
 * message. Guest mistakes are never thrown: they become status codes the guest sees.
 */
export class SeamkitError extends Error {
  /** The stable error code, e.g. `SEAMKIT_ERR_CPU_BAD_LP`. */
  readonly code: string;
  /** The errno a real ioctl would fail with (KVM layer only), e.g. 22 for EINVAL. */
  readonly errno: number | undefined;

  /**
   * @param code - stable code from a package's error table
   * @param message - human-readable text (already formatted)
   * @param errno - errno of the equivalent failing ioctl, if any
   * @param options - standard `cause` for wrapped errors
   */
  constructor(code: string, message: string, errno?: number, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'SeamkitError';
    this.code = code;
    this.errno = errno;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any seamkit error, also across module copies and realms (brand check). */
  static is(value: unknown): value is SeamkitError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/**
 * Builds a typed factory over one package's error table. Templates use `%s` placeholders,
 * filled in order from the arguments.
 * @param table - code to message template
 * @returns a function creating a {@link SeamkitError} for a code of the table
 */
export function errorFactory<T extends Record<string, string>>(
  table: T,
): (code: keyof T & string, args?: readonly unknown[], errno?: number, cause?: unknown) => SeamkitError {
  return (code, args = [], errno, cause) => {
    let i = 0;
    const message = (table[code] ?? code).replace(/%s/g, () => String(args[i++]));
    return new SeamkitError(code, message, errno, cause === undefined ? undefined : { cause });
  };
}
