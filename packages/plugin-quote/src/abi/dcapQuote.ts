/**
 * DCAP version 4 TD quote layout (ECDSA P-256 attestation key, certification data type 6), and
 * the SGX REPORT body used for the QE report.
 *
 * Sources: Intel SGXDataCenterAttestationPrimitives
 * QuoteGeneration/quote_wrapper/common/inc/sgx_quote_4.h (`sgx_quote4_header_t`,
 * `sgx_report2_body_t`, `sgx_quote4_t`, `sgx_ecdsa_sig_data_v4_t`,
 * `sgx_qe_report_certification_data_t`), sgx_report.h (`sgx_report_body_t`); Intel TDX DCAP
 * Quoting Library API, appendix 3; the open-source dcap-qvl parser (quote.rs, constants.rs).
 * @module
 */

/** Quote header size. */
export const QUOTE_HEADER_SIZE = 48;
/** Header: version (u16 at 0). */
export const QUOTE_HDR_VERSION = 0;
/** Header: attestation key type (u16 at 2). */
export const QUOTE_HDR_ATT_KEY_TYPE = 2;
/** Header: TEE type (u32 at 4). */
export const QUOTE_HDR_TEE_TYPE = 4;
/** Header: QE SVN (u16 at 8). */
export const QUOTE_HDR_QE_SVN = 8;
/** Header: PCE SVN (u16 at 10). */
export const QUOTE_HDR_PCE_SVN = 10;
/** Header: QE vendor ID (16 bytes at 12). */
export const QUOTE_HDR_QE_VENDOR_ID = 12;
/** Header: user data (20 bytes at 28). */
export const QUOTE_HDR_USER_DATA = 28;

/** Quote version 4. */
export const QUOTE_VERSION_4 = 4;
/** Attestation key type ECDSA-256 with P-256. */
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
/** TEE type of a TD. */
export const TEE_TYPE_TDX = 0x81;
/** Intel's QE vendor ID, 939A7233-F79C-4CA9-940A-0DB3957F0607. */
export const INTEL_QE_VENDOR_ID: Uint8Array = Uint8Array.from(Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex'));

/** TD report body (sgx_report2_body_t) size. */
export const TD_REPORT_BODY_SIZE = 584;
/** Offset of the body in the quote. */
export const QUOTE_BODY = QUOTE_HEADER_SIZE;
/** Bytes covered by the quote signature: header + body. */
export const QUOTE_SIGNED_SIZE = QUOTE_HEADER_SIZE + TD_REPORT_BODY_SIZE;

/** Body: TEE_TCB_SVN (16). */
export const BODY_TEE_TCB_SVN = 0;
/** Body: MRSEAM (48). */
export const BODY_MRSEAM = 16;
/** Body: MRSIGNERSEAM (48). */
export const BODY_MRSIGNERSEAM = 64;
/** Body: SEAMATTRIBUTES (8). */
export const BODY_SEAM_ATTRIBUTES = 112;
/** Body: TDATTRIBUTES (8). */
export const BODY_TD_ATTRIBUTES = 120;
/** Body: XFAM (8). */
export const BODY_XFAM = 128;
/** Body: MRTD (48). */
export const BODY_MRTD = 136;
/** Body: MRCONFIGID (48). */
export const BODY_MRCONFIGID = 184;
/** Body: MROWNER (48). */
export const BODY_MROWNER = 232;
/** Body: MROWNERCONFIG (48). */
export const BODY_MROWNERCONFIG = 280;
/** Body: RTMR0..3 (4 x 48). */
export const BODY_RTMR = 328;
/** Body: REPORTDATA (64). */
export const BODY_REPORTDATA = 520;

/** Quote: signature data length (u32 at 632). */
export const QUOTE_SIG_DATA_LEN = QUOTE_SIGNED_SIZE;
/** Quote: ECDSA signature r||s (64 bytes at 636). */
export const QUOTE_SIGNATURE = QUOTE_SIG_DATA_LEN + 4;
/** Quote: attestation public key x||y (64 bytes at 700). */
export const QUOTE_ATT_KEY = QUOTE_SIGNATURE + 64;
/** Quote: certification data type (u16 at 764). */
export const QUOTE_CERT_DATA_TYPE = QUOTE_ATT_KEY + 64;
/** Quote: certification data size (u32 at 766). */
export const QUOTE_CERT_DATA_SIZE = QUOTE_CERT_DATA_TYPE + 2;
/** Quote: certification data (at 770). */
export const QUOTE_CERT_DATA = QUOTE_CERT_DATA_SIZE + 4;

/** Certification data type: PCK certificate chain, PEM, leaf first. */
export const CERT_TYPE_PCK_CERT_CHAIN = 5;
/** Certification data type: QE report certification data. */
export const CERT_TYPE_QE_REPORT = 6;

/** SGX REPORT body (sgx_report_body_t) size: the QE report. */
export const ENCLAVE_REPORT_SIZE = 384;
/** Enclave report: CPUSVN (16). */
export const ER_CPUSVN = 0;
/** Enclave report: MISCSELECT (u32). */
export const ER_MISCSELECT = 16;
/** Enclave report: ATTRIBUTES (16: flags u64, xfrm u64). */
export const ER_ATTRIBUTES = 48;
/** Enclave report: MRENCLAVE (32). */
export const ER_MRENCLAVE = 64;
/** Enclave report: MRSIGNER (32). */
export const ER_MRSIGNER = 128;
/** Enclave report: ISVPRODID (u16). */
export const ER_ISVPRODID = 256;
/** Enclave report: ISVSVN (u16). */
export const ER_ISVSVN = 258;
/** Enclave report: REPORTDATA (64). */
export const ER_REPORTDATA = 320;

/** OID of the Intel SGX extensions in a PCK certificate. */
export const SGX_EXTENSIONS_OID = '1.2.840.113741.1.13.1';
