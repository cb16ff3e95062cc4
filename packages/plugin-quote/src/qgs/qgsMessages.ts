import { QGS_GET_QUOTE_REQ_SIZE, QGS_GET_QUOTE_RESP_SIZE, QGS_HDR_ERROR_CODE, QGS_HDR_MAJOR, QGS_HDR_MINOR, QGS_HDR_SIZE, QGS_HDR_TYPE, QGS_LENGTH_PREFIX_SIZE, QGS_MSG_ERROR, QGS_MSG_LIB_MAJOR_VER, QGS_MSG_LIB_MINOR_VER, QGS_MSG_TYPE, QGS_REQ_ID_LIST_SIZE, QGS_REQ_REPORT_SIZE, QGS_RESP_QUOTE_SIZE, QGS_RESP_SELECTED_ID_SIZE } from '../abi/qgs.js';

/**
 * A QGS message of `size` bytes (header included) behind its 4-byte big-endian length prefix,
 * with the 16-byte header (version 1.1, `type`, `size`, `errorCode`) written. Returns the
 * buffer, a view on it and the offset of the header.
 */
function message(type: number, size: number, errorCode: number): { out: Uint8Array; v: DataView; m: number } {
  const out = new Uint8Array(QGS_LENGTH_PREFIX_SIZE + size);
  const v = new DataView(out.buffer);
  v.setUint32(0, size, false);
  const m = QGS_LENGTH_PREFIX_SIZE;
  v.setUint16(m + QGS_HDR_MAJOR, QGS_MSG_LIB_MAJOR_VER, true);
  v.setUint16(m + QGS_HDR_MINOR, QGS_MSG_LIB_MINOR_VER, true);
  v.setUint32(m + QGS_HDR_TYPE, type, true);
  v.setUint32(m + QGS_HDR_SIZE, size, true);
  v.setUint32(m + QGS_HDR_ERROR_CODE, errorCode >>> 0, true);
  return { out, v, m };
}

/**
 * Encodes a GET_QUOTE_REQ exactly as QEMU's `tdx_generate_quote` does: the 4-byte big-endian
 * length of what follows, the header (version 1.1, type 0, size = 24 + report length,
 * error_code 0), report_size, id_list_size 0, then the report.
 * @param report - the request payload (normally a 1024-byte TDREPORT)
 */
export function encodeGetQuoteRequest(report: Uint8Array): Uint8Array {
  const { out, v, m } = message(QGS_MSG_TYPE.GET_QUOTE_REQ, QGS_GET_QUOTE_REQ_SIZE + report.length, 0);
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
  const { out, v, m } = message(QGS_MSG_TYPE.GET_QUOTE_RESP, QGS_GET_QUOTE_RESP_SIZE + quote.length, errorCode);
  v.setUint32(m + QGS_RESP_SELECTED_ID_SIZE, 0, true);
  v.setUint32(m + QGS_RESP_QUOTE_SIZE, quote.length, true);
  out.set(quote, m + QGS_GET_QUOTE_RESP_SIZE);
  return out;
}
