/**
 * GetQuote shared-buffer ABI: the 24-byte header and its status words, and QEMU's limits.
 *
 * Sources: QEMU target/i386/kvm/tdx.c and tdx-quote-generator.h (struct tdx_get_quote_header,
 * TDX_GET_QUOTE_MAX_BUF_LEN 128 KiB, TDX_MAX_GET_QUOTE_REQUEST 16, 30 000 ms timeout);
 * Linux include/uapi/linux/tdx-guest.h and drivers/virt/coco/tdx-guest (status values,
 * GET_QUOTE_CMD_VER 1).
 * @module
 */

/** Size of the header at the start of the shared buffer. */
export const GET_QUOTE_HDR_SIZE = 24;
/** Header: structure version (u64 at 0), must be 1. */
export const GET_QUOTE_HDR_VERSION = 0;
/** Header: status / error code (u64 at 8). */
export const GET_QUOTE_HDR_STATUS = 8;
/** Header: in_len (u32 at 16), bytes of request after the header. */
export const GET_QUOTE_HDR_IN_LEN = 16;
/** Header: out_len (u32 at 20), bytes of response after the header. */
export const GET_QUOTE_HDR_OUT_LEN = 20;
/** The only header version. */
export const GET_QUOTE_CMD_VER = 1n;

/** Status: the quote is in the buffer. */
export const GET_QUOTE_SUCCESS = 0n;
/** Status: the request is being served. */
export const GET_QUOTE_IN_FLIGHT = 0xffff_ffff_ffff_ffffn;
/** Status: the quote could not be generated. */
export const GET_QUOTE_ERROR = 0x8000_0000_0000_0000n;
/** Status: no quote generation service (QEMU: TDX_VP_GET_QUOTE_QGS_UNAVAILABLE). */
export const GET_QUOTE_SERVICE_UNAVAILABLE = 0x8000_0000_0000_0001n;

/** Largest buffer QEMU accepts (TDX_GET_QUOTE_MAX_BUF_LEN). */
export const GET_QUOTE_MAX_BUF_LEN = 128 * 1024;
/** Most requests QEMU keeps in flight (TDX_MAX_GET_QUOTE_REQUEST). */
export const GET_QUOTE_MAX_IN_FLIGHT = 16;
/** QEMU's timeout for one quote, in milliseconds. */
export const GET_QUOTE_TIMEOUT_MS = 30_000;
