/**
 * The QGS wire protocol QEMU speaks to a quote generation service (the "quote-generation-socket").
 *
 * Every message on the socket is a 4-byte big-endian length (of what follows), then a message
 * that starts with the 16-byte `qgs_msg_header_t` in host (little-endian) order:
 * `{u16 major_version, u16 minor_version, u32 type, u32 size, u32 error_code}`, where `size`
 * is the whole message including the header. A GET_QUOTE_REQ adds `{u32 report_size,
 * u32 id_list_size}` and the TDREPORT; a GET_QUOTE_RESP adds `{u32 selected_id_size,
 * u32 quote_size}` and the quote.
 *
 * Sources: QEMU target/i386/kvm/tdx-quote-generator.c (QGS_MSG_LIB_MAJOR_VER 1,
 * QGS_MSG_LIB_MINOR_VER 1, `qgs_msg_type_t`, `qgs_msg_header_t`, `qgs_msg_get_quote_req_t`,
 * `qgs_msg_get_quote_resp_t`, HEADER_SIZE 4, TRANSACTION_TIMEOUT 30000); Intel DCAP
 * QuoteGeneration/quote_wrapper/qgs_msg_lib (error codes `qgs_msg_error_t`, QGS_MSG_ERROR_MIN
 * 0x12000).
 * @module
 */

/** Size of the big-endian length prefix of every message (QEMU's HEADER_SIZE). */
export const QGS_LENGTH_PREFIX_SIZE = 4;
/** Size of `qgs_msg_header_t`. */
export const QGS_MSG_HEADER_SIZE = 16;
/** Size of `qgs_msg_get_quote_req_t` (header + report_size + id_list_size), before the report. */
export const QGS_GET_QUOTE_REQ_SIZE = 24;
/** Size of `qgs_msg_get_quote_resp_t` (header + selected_id_size + quote_size), before the quote. */
export const QGS_GET_QUOTE_RESP_SIZE = 24;

/** `major_version` QEMU sends and requires (QGS_MSG_LIB_MAJOR_VER). */
export const QGS_MSG_LIB_MAJOR_VER = 1;
/** `minor_version` QEMU sends and requires (QGS_MSG_LIB_MINOR_VER). */
export const QGS_MSG_LIB_MINOR_VER = 1;

/** Header: major_version (u16 at 0). */
export const QGS_HDR_MAJOR = 0;
/** Header: minor_version (u16 at 2). */
export const QGS_HDR_MINOR = 2;
/** Header: type (u32 at 4), one of {@link QGS_MSG_TYPE}. */
export const QGS_HDR_TYPE = 4;
/** Header: size (u32 at 8), the whole message including the header. */
export const QGS_HDR_SIZE = 8;
/** Header: error_code (u32 at 12), used in responses only. */
export const QGS_HDR_ERROR_CODE = 12;
/** GET_QUOTE_REQ: report_size (u32 at 16). */
export const QGS_REQ_REPORT_SIZE = 16;
/** GET_QUOTE_REQ: id_list_size (u32 at 20); QEMU sends 0. */
export const QGS_REQ_ID_LIST_SIZE = 20;
/** GET_QUOTE_RESP: selected_id_size (u32 at 16); QEMU requires 0. */
export const QGS_RESP_SELECTED_ID_SIZE = 16;
/** GET_QUOTE_RESP: quote_size (u32 at 20). */
export const QGS_RESP_QUOTE_SIZE = 20;

/** `qgs_msg_type_t`. */
export const QGS_MSG_TYPE = {
  /** A TDREPORT in, asking for a quote. */
  GET_QUOTE_REQ: 0,
  /** The quote (or an error code). */
  GET_QUOTE_RESP: 1,
  /** Collateral request (not used by QEMU). */
  GET_COLLATERAL_REQ: 2,
  /** Collateral response (not used by QEMU). */
  GET_COLLATERAL_RESP: 3,
  /** Platform information request (not used by QEMU). */
  GET_PLATFORM_INFO_REQ: 4,
  /** Platform information response (not used by QEMU). */
  GET_PLATFORM_INFO_RESP: 5,
} as const;

/** `qgs_msg_error_t`: the header's error_code values. */
export const QGS_MSG_ERROR = {
  /** Success. */
  SUCCESS: 0,
  /** Unexpected error. */
  UNEXPECTED: 0x12001,
  /** Not enough memory to complete the operation. */
  OUT_OF_MEMORY: 0x12002,
  /** A parameter is incorrect (for example a report that is not a TDREPORT). */
  INVALID_PARAMETER: 0x12003,
  /** Unrecognized version of serialized data. */
  INVALID_VERSION: 0x12004,
  /** Invalid message type. */
  INVALID_TYPE: 0x12005,
  /** Invalid message size. */
  INVALID_SIZE: 0x12006,
  /** Invalid error code. */
  INVALID_CODE: 0x12007,
} as const;

/** QEMU's GetQuote transaction timeout in milliseconds (TRANSACTION_TIMEOUT). */
export const QGS_TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * Encodes a GET_QUOTE_REQ exactly as QEMU's `tdx_generate_quote` does: the 4-byte big-endian
 * length of what follows, the header (version 1.1, type 0, size = 24 + report length,
 * error_code 0), report_size, id_list_size 0, then the report.
 * @param report - the request payload (normally a 1024-byte TDREPORT)
 */
export function encodeGetQuoteRequest(report: Uint8Array): Uint8Array {
  const size = QGS_GET_QUOTE_REQ_SIZE + report.length;
  const out = new Uint8Array(QGS_LENGTH_PREFIX_SIZE + size);
  const v = new DataView(out.buffer);
  v.setUint32(0, size, false);
  const m = QGS_LENGTH_PREFIX_SIZE;
  v.setUint16(m + QGS_HDR_MAJOR, QGS_MSG_LIB_MAJOR_VER, true);
  v.setUint16(m + QGS_HDR_MINOR, QGS_MSG_LIB_MINOR_VER, true);
  v.setUint32(m + QGS_HDR_TYPE, QGS_MSG_TYPE.GET_QUOTE_REQ, true);
  v.setUint32(m + QGS_HDR_SIZE, size, true);
  v.setUint32(m + QGS_HDR_ERROR_CODE, 0, true);
  v.setUint32(m + QGS_REQ_REPORT_SIZE, report.length, true);
  v.setUint32(m + QGS_REQ_ID_LIST_SIZE, 0, true);
  out.set(report, m + QGS_GET_QUOTE_REQ_SIZE);
  return out;
}

/**
 * Encodes a GET_QUOTE_RESP as a QGS sends it: length prefix, header (version 1.1, type 1,
 * size = 24 + quote length, `errorCode`), selected_id_size 0, quote_size, the quote.
 * @param quote - the quote (empty with an error code)
 * @param errorCode - a {@link QGS_MSG_ERROR} value
 */
export function encodeGetQuoteResponse(quote: Uint8Array, errorCode: number = QGS_MSG_ERROR.SUCCESS): Uint8Array {
  const size = QGS_GET_QUOTE_RESP_SIZE + quote.length;
  const out = new Uint8Array(QGS_LENGTH_PREFIX_SIZE + size);
  const v = new DataView(out.buffer);
  v.setUint32(0, size, false);
  const m = QGS_LENGTH_PREFIX_SIZE;
  v.setUint16(m + QGS_HDR_MAJOR, QGS_MSG_LIB_MAJOR_VER, true);
  v.setUint16(m + QGS_HDR_MINOR, QGS_MSG_LIB_MINOR_VER, true);
  v.setUint32(m + QGS_HDR_TYPE, QGS_MSG_TYPE.GET_QUOTE_RESP, true);
  v.setUint32(m + QGS_HDR_SIZE, size, true);
  v.setUint32(m + QGS_HDR_ERROR_CODE, errorCode >>> 0, true);
  v.setUint32(m + QGS_RESP_SELECTED_ID_SIZE, 0, true);
  v.setUint32(m + QGS_RESP_QUOTE_SIZE, quote.length, true);
  out.set(quote, m + QGS_GET_QUOTE_RESP_SIZE);
  return out;
}

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
