/** What GetQuote tells a {@link QuoteService} about one request. */
export interface QuoteRequestOptions {
  /**
   * Bytes available for the answer: the guest buffer size minus the 24-byte GetQuote header
   * (QEMU's `payload_len`). A service speaking the QGS protocol uses it as QEMU does, as the size
   * of its receive buffer (length prefix and response header included). GetQuote itself rejects
   * any quote longer than this.
   */
  readonly capacity: number;
}

/**
 * Something that turns a TDREPORT into a quote: a quote generation service reached over the QGS
 * protocol ({@link QgsClient}), or an in-process one. Bind one to {@link QUOTE_SERVICE} to make
 * GetQuote produce quotes; without one, GetQuote answers SERVICE_UNAVAILABLE as QEMU does with no
 * quote-generation-socket.
 *
 * A rejection with a `SeamkitError` whose code is `SEAMKIT_ERR_QGS_UNAVAILABLE` becomes the
 * status SERVICE_UNAVAILABLE in the guest's buffer (QEMU: the connect failed); any other
 * rejection becomes ERROR.
 */
export interface QuoteService {
  /**
   * Requests a quote for `report` (the bytes the guest put after the header, normally a
   * 1024-byte TDREPORT). Resolves with the quote; rejects if it cannot be produced. `signal`
   * aborts when GetQuote gives up (30 s).
   */
  getQuote(report: Uint8Array, signal: AbortSignal, options?: QuoteRequestOptions): Promise<Uint8Array>;
}

/** DI token of the {@link QuoteService}. */
export const QUOTE_SERVICE = Symbol.for('@seamkit/plugin-quote/QuoteService');
