import { errorFactory } from '@seamkit/seam-cpu';

/**
 * Error codes of @seamkit/plugin-quote, documented in docs/errors.md. Guest mistakes are never
 * thrown (they become GetQuote statuses); these are for callers of the quote service APIs.
 */
export const QUOTE_ERRORS = {
  /**
   * The quote generation service cannot be reached (connect failed, no such socket). GetQuote
   * turns it into the status SERVICE_UNAVAILABLE, as QEMU does.
   */
  SEAMKIT_ERR_QGS_UNAVAILABLE: 'quote generation service unavailable at %s (%s)',
  /** The QGS answered with something that is not a valid GET_QUOTE_RESP (GetQuote: status ERROR). */
  SEAMKIT_ERR_QGS_PROTOCOL: 'quote generation service protocol error: %s',
  /** A quote was requested for bytes that are not a genuine TDREPORT (size, REPORTTYPE, hashes, or a MAC the platform refuses). */
  SEAMKIT_ERR_QGS_REPORT: 'not a TDREPORT: %s',
  /** `QgsServer.listen` could not listen on the socket path (in use, no permission, ...). */
  SEAMKIT_ERR_QGS_LISTEN: 'cannot listen on %s (%s)',
  /** `parseDcapQuote`: the bytes are not a well-formed DCAP version 4 TD quote. */
  SEAMKIT_ERR_QUOTE_PARSE: 'malformed DCAP quote: %s',
  /** `verifyDcapQuote`: a verification step failed (the message says which). */
  SEAMKIT_ERR_QUOTE_VERIFY: 'quote verification failed: %s',
  /** A test PKI option is out of range (for example an FMSPC that is not 6 bytes). */
  SEAMKIT_ERR_QUOTE_PKI: 'invalid test PKI option: %s',
} as const;

/** A code of {@link QUOTE_ERRORS}. */
export type QuoteErrorCode = keyof typeof QUOTE_ERRORS;

/** Creates a coded error of this package: `quoteError(code, args)`. */
export const quoteError = errorFactory(QUOTE_ERRORS);
