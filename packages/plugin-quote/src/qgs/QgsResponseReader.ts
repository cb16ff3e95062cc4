import { QGS_GET_QUOTE_RESP_SIZE, QGS_HDR_ERROR_CODE, QGS_HDR_MAJOR, QGS_HDR_MINOR, QGS_HDR_SIZE, QGS_HDR_TYPE, QGS_LENGTH_PREFIX_SIZE, QGS_MSG_HEADER_SIZE, QGS_MSG_LIB_MAJOR_VER, QGS_MSG_LIB_MINOR_VER, QGS_MSG_TYPE, QGS_RESP_QUOTE_SIZE, QGS_RESP_SELECTED_ID_SIZE } from '../abi/qgs.js';

/** The response is not complete yet. */
export interface QgsReadMore {
  /** Outcome kind. */
  readonly state: 'more';
}

/** A valid GET_QUOTE_RESP was read. */
export interface QgsReadDone {
  /** Outcome kind. */
  readonly state: 'done';
  /** The quote it carried. */
  readonly quote: Uint8Array;
}

/** A check failed: the request ends with status ERROR. */
export interface QgsReadError {
  /** Outcome kind. */
  readonly state: 'error';
  /** Which check failed (QEMU's error_report text). */
  readonly reason: string;
}

/** Result of feeding bytes to a {@link QgsResponseReader}. */
export type QgsReadResult = QgsReadMore | QgsReadDone | QgsReadError;

/**
 * Reads one GET_QUOTE_RESP from a byte stream with the checks of QEMU's `tdx_get_quote_read`,
 * applied in QEMU's order as the bytes arrive:
 *
 * 1. with 4 bytes: the big-endian length must be non-zero and at most `capacity - 4` (QEMU's
 *    receive buffer is the guest buffer minus its 24-byte header); the message then ends at
 *    `4 + length`;
 * 2. with 4 + 16 bytes: header version 1.1, type GET_QUOTE_RESP, `size` at most the received
 *    message capacity, error_code 0;
 * 3. with 4 + 24 bytes: selected_id_size 0 and quote_size equal to the rest of the message;
 * 4. at the end of the message: the quote is what follows the 24-byte response header.
 *
 * Any violation is final (`error`). Unlike QEMU, a length below 24 is an error rather than an
 * out-of-bounds copy, and bytes past the announced end are ignored rather than read into a
 * buffer that was shrunk; both are QEMU bugs a faithful model must not reproduce as crashes.
 * Never reads or writes outside its own buffer, for any input.
 */
export class QgsResponseReader {
  readonly #capacity: number;
  #buf: Uint8Array;
  #received = 0;
  #payloadLen: number;
  #result: QgsReadResult = { state: 'more' };

  /** @param capacity - QEMU's `payload_len`: the guest buffer size minus the 24-byte GetQuote header */
  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
    this.#payloadLen = this.#capacity;
    this.#buf = new Uint8Array(Math.min(this.#capacity, QGS_LENGTH_PREFIX_SIZE + QGS_GET_QUOTE_RESP_SIZE));
  }

  /** The outcome so far. */
  get result(): QgsReadResult {
    return this.#result;
  }

  /** Bytes consumed so far. */
  get received(): number {
    return this.#received;
  }

  /** The message end once the length prefix is known (else the capacity). */
  get expected(): number {
    return this.#payloadLen;
  }

  /**
   * Feeds the next bytes from the socket. Bytes after the end of the message, or after an
   * error, are ignored.
   * @returns the outcome so far
   */
  push(chunk: Uint8Array): QgsReadResult {
    let off = 0;
    while (this.#result.state === 'more' && off < chunk.length) {
      // Read the length prefix first, so that the end of the message is known before any byte
      // past it is taken.
      const target = this.#received < QGS_LENGTH_PREFIX_SIZE ? Math.min(QGS_LENGTH_PREFIX_SIZE, this.#payloadLen) : this.#payloadLen;
      const room = target - this.#received;
      if (room <= 0) return this.#fail(`the receive buffer (${this.#capacity} bytes) cannot hold a reply`);
      const n = Math.min(room, chunk.length - off);
      this.#ensure(this.#received + n);
      this.#buf.set(chunk.subarray(off, off + n), this.#received);
      this.#received += n;
      off += n;
      this.#check();
    }
    return this.#result;
  }

  /** The peer closed the connection: an error unless the message is complete. */
  end(): QgsReadResult {
    if (this.#result.state === 'more') this.#fail('end of file before the reply was received');
    return this.#result;
  }

  #ensure(n: number): void {
    if (n <= this.#buf.length) return;
    const next = new Uint8Array(Math.min(this.#payloadLen, Math.max(n, this.#buf.length * 2)));
    next.set(this.#buf.subarray(0, this.#received));
    this.#buf = next;
  }

  #check(): void {
    const v = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
    const p = QGS_LENGTH_PREFIX_SIZE;
    if (this.#received >= p) {
      const len = v.getUint32(0, false);
      if (len === 0 || len > this.#payloadLen - p) {
        this.#fail(`message length ${len} must be non-zero and at most ${this.#payloadLen - p}`);
        return;
      }
      this.#payloadLen = p + len;
    }
    if (this.#received >= p + QGS_MSG_HEADER_SIZE) {
      const major = v.getUint16(p + QGS_HDR_MAJOR, true);
      const minor = v.getUint16(p + QGS_HDR_MINOR, true);
      if (major !== QGS_MSG_LIB_MAJOR_VER || minor !== QGS_MSG_LIB_MINOR_VER) {
        this.#fail(`invalid QGS message header version ${major}.${minor}`);
        return;
      }
      const type = v.getUint32(p + QGS_HDR_TYPE, true);
      if (type !== QGS_MSG_TYPE.GET_QUOTE_RESP) {
        this.#fail(`invalid QGS message type ${type}`);
        return;
      }
      const size = v.getUint32(p + QGS_HDR_SIZE, true);
      if (size > this.#payloadLen - p) {
        this.#fail(`QGS message size ${size} exceeds the payload capacity ${this.#payloadLen - p}`);
        return;
      }
      const error = v.getUint32(p + QGS_HDR_ERROR_CODE, true);
      if (error !== 0) {
        this.#fail(`QGS message error code 0x${error.toString(16)}`);
        return;
      }
    }
    if (this.#received >= p + QGS_GET_QUOTE_RESP_SIZE) {
      const selected = v.getUint32(p + QGS_RESP_SELECTED_ID_SIZE, true);
      if (selected !== 0) {
        this.#fail(`QGS selected id size ${selected}, not 0`);
        return;
      }
      const quoteSize = v.getUint32(p + QGS_RESP_QUOTE_SIZE, true);
      const expected = this.#payloadLen - p - QGS_GET_QUOTE_RESP_SIZE;
      if (quoteSize !== expected) {
        this.#fail(`QGS quote size ${quoteSize}, should be ${expected}`);
        return;
      }
    }
    if (this.#received === this.#payloadLen) {
      const strip = p + QGS_GET_QUOTE_RESP_SIZE;
      if (this.#received < strip) {
        this.#fail(`message of ${this.#received - p} bytes is shorter than a GET_QUOTE_RESP (${QGS_GET_QUOTE_RESP_SIZE})`);
        return;
      }
      this.#result = { state: 'done', quote: this.#buf.slice(strip, this.#received) };
    }
  }

  #fail(reason: string): QgsReadResult {
    this.#result = { state: 'error', reason };
    return this.#result;
  }
}
