/**
 * Something that turns a TDREPORT into a quote: a quote generation service reached over the QGS
 * protocol, or an in-process one. Bind one to {@link QUOTE_SERVICE} to make GetQuote produce
 * quotes; without one, GetQuote answers SERVICE_UNAVAILABLE as QEMU does with no
 * quote-generation-socket.
 */
export interface QuoteService {
  /**
   * Requests a quote for `report` (the bytes the guest put after the header, normally a
   * 1024-byte TDREPORT). Resolves with the quote; rejects if it cannot be produced.
   */
  getQuote(report: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
}

/** DI token of the {@link QuoteService}. */
export const QUOTE_SERVICE = Symbol.for('@seamkit/plugin-quote/QuoteService');
