import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import * as M from '../abi/qgs.js';
import { encodeGetQuoteResponse } from './qgsMessages.js';
import { quoteError } from '../errors.js';
import { SeamkitError } from '@seamkit/seam-cpu';
import { duplexPair, type InProcessQgs } from './transport.js';

/** Turns a TDREPORT into a quote (a {@link DcapQuoteGenerator}'s `generate`, or a stand-in). */
export type GenerateQuote = (report: Uint8Array) => Promise<Uint8Array>;

/** Largest request the service reads (a TDREPORT is 1024 bytes; QEMU sends at most 128 KiB). */
export const QGS_MAX_REQUEST = 256 * 1024;

/** Counters of a {@link QgsServer}. */
export interface QgsServerStats {
  /** Connections accepted. */
  connections: number;
  /** GET_QUOTE_REQs answered with a quote. */
  quotes: number;
  /** Requests answered with a QGS error code. */
  errors: number;
}

/**
 * A quote generation service speaking the QGS protocol (the server side of QEMU's
 * tdx-quote-generator.c): on each connection it reads length-prefixed messages; a valid
 * GET_QUOTE_REQ (header version 1.x, type 0, `size` equal to the message, report_size +
 * id_list_size consistent, report_size non-zero) is answered with a GET_QUOTE_RESP carrying the
 * quote; an invalid one with a GET_QUOTE_RESP whose error_code says why (INVALID_VERSION,
 * INVALID_TYPE, INVALID_SIZE, INVALID_PARAMETER for a report that is not a TDREPORT, UNEXPECTED
 * for other failures) and no quote. A length prefix of 0, above {@link QGS_MAX_REQUEST}, or a
 * message too short for a header closes the connection. Requests on one connection are answered
 * in order.
 *
 * Reachable over a Unix socket ({@link listen}) or in-process ({@link connectInProcess}, for
 * {@link inProcessTransport}), with the same bytes on the wire.
 */
export class QgsServer implements InProcessQgs {
  /** Counters. */
  readonly stats: QgsServerStats = { connections: 0, quotes: 0, errors: 0 };
  readonly #generate: GenerateQuote;
  readonly #streams = new Set<Duplex>();
  #server: Server | undefined;
  #path: string | undefined;
  #closed = false;

  /** @param generate - the quoting function (for example `(r) => generator.generate(r)`) */
  constructor(generate: GenerateQuote) {
    this.#generate = generate;
  }

  /** The socket path while listening. */
  get path(): string | undefined {
    return this.#path;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Listens on a Unix domain socket. A stale socket file nobody listens on is replaced, as the
   * Intel QGS does at start-up.
   * @throws (rejects) SEAMKIT_ERR_QGS_LISTEN when the path is in use by a live service or cannot be bound
   */
  async listen(path: string): Promise<void> {
    if (this.#server !== undefined || this.#closed) throw quoteError('SEAMKIT_ERR_QGS_LISTEN', [path, this.#closed ? 'the server is closed' : `already listening on ${this.#path}`]);
    if (existsSync(path)) {
      if (await isLive(path)) throw quoteError('SEAMKIT_ERR_QGS_LISTEN', [path, 'another service is listening there']);
      try {
        unlinkSync(path);
      } catch (err) {
        throw quoteError('SEAMKIT_ERR_QGS_LISTEN', [path, (err as NodeJS.ErrnoException).code ?? String(err)], undefined, err);
      }
    }
    const server = createServer((sock: Socket) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(quoteError('SEAMKIT_ERR_QGS_LISTEN', [path, err.code ?? err.message], undefined, err)));
      server.listen(path, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    this.#server = server;
    this.#path = path;
  }

  /** {@inheritDoc InProcessQgs.connectInProcess} */
  connectInProcess(): Duplex {
    if (this.#closed) throw quoteError('SEAMKIT_ERR_QGS_UNAVAILABLE', ['in-process', 'the service is closed']);
    const [client, server] = duplexPair();
    this.serve(server);
    return client;
  }

  /** Serves one connection until it ends. */
  serve(stream: Duplex): void {
    this.stats.connections++;
    this.#streams.add(stream);
    let buf = new Uint8Array(0);
    let queue = Promise.resolve();
    const drop = (): void => {
      stream.destroy();
    };
    stream.on('close', () => this.#streams.delete(stream));
    stream.on('error', () => this.#streams.delete(stream));
    stream.on('data', (chunk: Buffer) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      while (buf.length >= M.QGS_LENGTH_PREFIX_SIZE) {
        const len = new DataView(buf.buffer, buf.byteOffset).getUint32(0, false);
        if (len === 0 || len > QGS_MAX_REQUEST || len < M.QGS_MSG_HEADER_SIZE) {
          drop();
          return;
        }
        if (buf.length < M.QGS_LENGTH_PREFIX_SIZE + len) break;
        const msg = buf.slice(M.QGS_LENGTH_PREFIX_SIZE, M.QGS_LENGTH_PREFIX_SIZE + len);
        buf = buf.slice(M.QGS_LENGTH_PREFIX_SIZE + len);
        queue = queue.then(async () => {
          const reply = await this.#answer(msg);
          if (!stream.destroyed && stream.writable) stream.write(reply);
        });
      }
    });
  }

  /** Answers one message (without its length prefix) with an encoded GET_QUOTE_RESP. */
  async #answer(msg: Uint8Array): Promise<Uint8Array> {
    const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const error = (code: number): Uint8Array => {
      this.stats.errors++;
      return encodeGetQuoteResponse(new Uint8Array(0), code);
    };
    if (v.getUint16(M.QGS_HDR_MAJOR, true) !== M.QGS_MSG_LIB_MAJOR_VER) return error(M.QGS_MSG_ERROR.INVALID_VERSION);
    if (v.getUint32(M.QGS_HDR_TYPE, true) !== M.QGS_MSG_TYPE.GET_QUOTE_REQ) return error(M.QGS_MSG_ERROR.INVALID_TYPE);
    if (msg.length < M.QGS_GET_QUOTE_REQ_SIZE || v.getUint32(M.QGS_HDR_SIZE, true) !== msg.length) return error(M.QGS_MSG_ERROR.INVALID_SIZE);
    const reportSize = v.getUint32(M.QGS_REQ_REPORT_SIZE, true);
    const idListSize = v.getUint32(M.QGS_REQ_ID_LIST_SIZE, true);
    if (M.QGS_GET_QUOTE_REQ_SIZE + reportSize + idListSize !== msg.length) return error(M.QGS_MSG_ERROR.INVALID_SIZE);
    if (reportSize === 0) return error(M.QGS_MSG_ERROR.INVALID_PARAMETER);
    const report = msg.slice(M.QGS_GET_QUOTE_REQ_SIZE, M.QGS_GET_QUOTE_REQ_SIZE + reportSize);
    try {
      const quote = await this.#generate(report);
      this.stats.quotes++;
      return encodeGetQuoteResponse(quote);
    } catch (err) {
      return error(SeamkitError.is(err) && err.code === 'SEAMKIT_ERR_QGS_REPORT' ? M.QGS_MSG_ERROR.INVALID_PARAMETER : M.QGS_MSG_ERROR.UNEXPECTED);
    }
  }

  /** Stops accepting connections, ends open ones, and removes the socket file. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#streams) s.destroy();
    this.#streams.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#path = undefined;
  }
}

/** True if something accepts connections on the Unix socket `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
