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
