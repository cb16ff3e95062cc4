import { createConnection } from 'node:net';
import { Duplex } from 'node:stream';
import { quoteError } from '../errors.js';

/**
 * How a {@link QgsClient} reaches a quote generation service: one connection per request, as
 * QEMU opens one socket per GetQuote.
 */
export interface QgsTransport {
  /** Where it connects, for messages (a socket path, or `in-process`). */
  readonly address: string;
  /**
   * Opens a connection.
   * @throws (rejects) SEAMKIT_ERR_QGS_UNAVAILABLE when the service cannot be reached
   */
  connect(signal: AbortSignal): Promise<Duplex>;
}

/**
 * A QGS on a Unix domain socket (QEMU's `quote-generation-socket` of type unix, e.g.
 * /var/run/tdx-qgs/qgs.socket), through node:net.
 * @param path - the socket path
 */
export function unixSocketTransport(path: string): QgsTransport {
  return {
    address: path,
    connect(signal: AbortSignal): Promise<Duplex> {
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason as Error);
          return;
        }
        const sock = createConnection({ path });
        const onAbort = (): void => {
          sock.destroy();
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        sock.once('connect', () => {
          signal.removeEventListener('abort', onAbort);
          sock.removeAllListeners('error');
          resolve(sock);
        });
        sock.once('error', (err: NodeJS.ErrnoException) => {
          signal.removeEventListener('abort', onAbort);
          sock.destroy();
          reject(quoteError('SEAMKIT_ERR_QGS_UNAVAILABLE', [path, err.code ?? err.message], undefined, err));
        });
      });
    },
  };
}

/**
 * Two connected in-memory streams: what one writes, the other reads; ending or destroying one
 * ends the other. Used for in-process QGS connections (a socketpair without a socket).
 */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read(): void {
        // Data is pushed by the peer's write.
      },
      write(chunk: Buffer, _enc, cb): void {
        const p = peer();
        if (!p.destroyed && !p.readableEnded) p.push(Buffer.from(chunk));
        cb();
      },
      final(cb): void {
        const p = peer();
        if (!p.destroyed && !p.readableEnded) p.push(null);
        cb();
      },
      destroy(err, cb): void {
        const p = peer();
        if (!p.destroyed && !p.readableEnded) p.push(null);
        cb(err);
      },
    });
  let a: Duplex | undefined;
  let b: Duplex | undefined;
  a = make(() => b!);
  b = make(() => a!);
  return [a, b];
}

/** Something that accepts in-process connections (a {@link QgsServer}). */
export interface InProcessQgs {
  /**
   * Accepts a new connection and returns the client's end.
   * @throws SEAMKIT_ERR_QGS_UNAVAILABLE when the service is closed
   */
  connectInProcess(): Duplex;
}

/**
 * A QGS in the same process, reached through {@link duplexPair} streams with the same bytes on
 * the wire as the socket transport.
 * @param server - the service
 */
export function inProcessTransport(server: InProcessQgs): QgsTransport {
  return {
    address: 'in-process',
    connect(signal: AbortSignal): Promise<Duplex> {
      if (signal.aborted) return Promise.reject(signal.reason as Error);
      try {
        return Promise.resolve(server.connectInProcess());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}
