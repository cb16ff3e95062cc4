import type { Duplex } from 'node:stream';
import { encodeGetQuoteRequest } from './qgsMessages.js';
import { QgsResponseReader } from './QgsResponseReader.js';
import { GET_QUOTE_HDR_SIZE, GET_QUOTE_MAX_BUF_LEN } from '../abi/getQuote.js';
import { quoteError } from '../errors.js';
import type { QuoteRequestOptions, QuoteService } from '../QuoteService.js';
import type { QgsTransport } from './transport.js';

/**
 * A {@link QuoteService} that speaks the QGS wire protocol exactly as QEMU's
 * tdx-quote-generator.c: one connection per request; the GET_QUOTE_REQ (length prefix, header
 * 1.1, report_size, id_list_size 0, the TDREPORT) is written, then the GET_QUOTE_RESP is read and
 * checked field by field as it arrives ({@link QgsResponseReader}), into a receive buffer of
 * the guest buffer's size minus 24 bytes.
 *
 * Outcomes: the quote; SEAMKIT_ERR_QGS_UNAVAILABLE when the connection cannot be made (GetQuote
 * status SERVICE_UNAVAILABLE); SEAMKIT_ERR_QGS_PROTOCOL for a malformed or truncated response, a
 * QGS error code, or a connection error after connecting (status ERROR); the abort reason when
 * GetQuote gives up. The connection is closed in every case.
 */
export class QgsClient implements QuoteService {
  /** How the service is reached. */
  readonly transport: QgsTransport;

  /** @param transport - a Unix socket or an in-process service */
  constructor(transport: QgsTransport) {
    this.transport = transport;
  }

  /** {@inheritDoc QuoteService.getQuote} */
  async getQuote(report: Uint8Array, signal: AbortSignal, options?: QuoteRequestOptions): Promise<Uint8Array> {
    const capacity = options?.capacity ?? GET_QUOTE_MAX_BUF_LEN - GET_QUOTE_HDR_SIZE;
    const request = encodeGetQuoteRequest(report);
    const sock = await this.transport.connect(signal);
    return exchange(sock, request, capacity, signal);
  }
}

function exchange(sock: Duplex, request: Uint8Array, capacity: number, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const reader = new QgsResponseReader(capacity);
    let settled = false;
    const finish = (err: Error | undefined, quote?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      sock.removeAllListeners('data');
      sock.destroy();
      if (err !== undefined) reject(err);
      else resolve(quote!);
    };
    const onResult = (): void => {
      const r = reader.result;
      if (r.state === 'done') finish(undefined, r.quote);
      else if (r.state === 'error') finish(quoteError('SEAMKIT_ERR_QGS_PROTOCOL', [r.reason]));
    };
    const onAbort = (): void => finish(signal.reason as Error);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      onResult();
    });
    sock.on('end', () => {
      reader.end();
      onResult();
    });
    sock.on('close', () => {
      reader.end();
      onResult();
    });
    sock.on('error', (err: Error) => finish(quoteError('SEAMKIT_ERR_QGS_PROTOCOL', [err.message], undefined, err)));
    sock.write(request);
  });
}
