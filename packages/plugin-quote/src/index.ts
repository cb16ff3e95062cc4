/**
 * @seamkit/plugin-quote: the GetQuote TDVMCALL leaf (0x10002) for seamkit VMMs: KVM's kernel
 * half and QEMU's userspace half, with a pluggable quote generation service.
 * @packageDocumentation
 */
export * from './abi/getQuote.js';
export { GetQuoteLeaf } from './GetQuoteLeaf.js';
export { quoteModule } from './quoteModule.js';
export { QUOTE_SERVICE } from './QuoteService.js';
export type { QuoteService } from './QuoteService.js';
