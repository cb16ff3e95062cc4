import * as D from '../abi/dcapQuote.js';
import { quoteError } from '../errors.js';

/** The 48-byte header of a DCAP quote. */
export interface QuoteHeader {
  /** Quote version (4). */
  readonly version: number;
  /** Attestation key type (2 = ECDSA P-256). */
  readonly attestationKeyType: number;
  /** TEE type (0x81 = TDX). */
  readonly teeType: number;
  /** QE SVN. */
  readonly qeSvn: number;
  /** PCE SVN. */
  readonly pceSvn: number;
  /** QE vendor ID (16 bytes). */
  readonly qeVendorId: Uint8Array;
  /** User data (20 bytes). */
  readonly userData: Uint8Array;
}

/** The 584-byte TD report body of a version 4 TD quote. */
export interface TdQuoteBody {
  /** TEE_TCB_SVN (16). */
  readonly teeTcbSvn: Uint8Array;
  /** MRSEAM (48). */
  readonly mrSeam: Uint8Array;
  /** MRSIGNERSEAM (48). */
  readonly mrSignerSeam: Uint8Array;
  /** SEAMATTRIBUTES (8). */
  readonly seamAttributes: Uint8Array;
  /** TDATTRIBUTES (8). */
  readonly tdAttributes: Uint8Array;
  /** XFAM (8). */
  readonly xfam: Uint8Array;
  /** MRTD (48). */
  readonly mrTd: Uint8Array;
  /** MRCONFIGID (48). */
  readonly mrConfigId: Uint8Array;
  /** MROWNER (48). */
  readonly mrOwner: Uint8Array;
  /** MROWNERCONFIG (48). */
  readonly mrOwnerConfig: Uint8Array;
  /** RTMR0..3 (48 each). */
  readonly rtmr: readonly Uint8Array[];
  /** REPORTDATA (64). */
  readonly reportData: Uint8Array;
}

/** An SGX REPORT body (the QE report). */
export interface EnclaveReport {
  /** CPUSVN (16). */
  readonly cpuSvn: Uint8Array;
  /** MISCSELECT. */
  readonly miscSelect: number;
  /** ATTRIBUTES (16). */
  readonly attributes: Uint8Array;
  /** MRENCLAVE (32). */
  readonly mrEnclave: Uint8Array;
  /** MRSIGNER (32). */
  readonly mrSigner: Uint8Array;
  /** ISVPRODID. */
  readonly isvProdId: number;
  /** ISVSVN. */
  readonly isvSvn: number;
  /** REPORTDATA (64). */
  readonly reportData: Uint8Array;
}

/** A parsed DCAP version 4 TD quote with QE report certification data. */
export interface ParsedTdQuote {
  /** The header. */
  readonly header: QuoteHeader;
  /** The TD report body. */
  readonly body: TdQuoteBody;
  /** Bytes [0, 632): what the attestation key signed. */
  readonly signedData: Uint8Array;
  /** Signature data length (u32 at 632). */
  readonly signatureDataLength: number;
  /** ECDSA signature r||s (64). */
  readonly signature: Uint8Array;
  /** Attestation public key x||y (64). */
  readonly attestationKey: Uint8Array;
  /** Outer certification data type (6). */
  readonly certificationDataType: number;
  /** The QE report, raw (384 bytes, what the PCK key signed). */
  readonly qeReportRaw: Uint8Array;
  /** The QE report, decoded. */
  readonly qeReport: EnclaveReport;
  /** QE report signature r||s (64). */
  readonly qeReportSignature: Uint8Array;
  /** QE auth data. */
  readonly qeAuthData: Uint8Array;
  /** Inner certification data type (5 = PCK chain). */
  readonly pckCertChainType: number;
  /** The inner certification data: the PEM PCK chain for type 5. */
  readonly pckCertChain: Uint8Array;
}

/** Decodes a 384-byte SGX REPORT body. */
export function parseEnclaveReport(raw: Uint8Array): EnclaveReport {
  if (raw.length !== D.ENCLAVE_REPORT_SIZE) throw quoteError('SEAMKIT_ERR_QUOTE_PARSE', [`an enclave report is ${D.ENCLAVE_REPORT_SIZE} bytes, got ${raw.length}`]);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const at = (o: number, n: number): Uint8Array => raw.slice(o, o + n);
  return {
    cpuSvn: at(D.ER_CPUSVN, 16),
    miscSelect: v.getUint32(D.ER_MISCSELECT, true),
    attributes: at(D.ER_ATTRIBUTES, 16),
    mrEnclave: at(D.ER_MRENCLAVE, 32),
    mrSigner: at(D.ER_MRSIGNER, 32),
    isvProdId: v.getUint16(D.ER_ISVPRODID, true),
    isvSvn: v.getUint16(D.ER_ISVSVN, true),
    reportData: at(D.ER_REPORTDATA, 64),
  };
}

/**
 * Parses a DCAP version 4 TD quote field by field, checking every length against the bytes
 * present (no field is read past the end).
 * @throws SEAMKIT_ERR_QUOTE_PARSE for a quote that is not version 4 / TDX, is truncated, or
 *   whose certification data is not type 6
 */
export function parseDcapQuote(quote: Uint8Array): ParsedTdQuote {
  const fail = (why: string): never => {
    throw quoteError('SEAMKIT_ERR_QUOTE_PARSE', [why]);
  };
  if (quote.length < D.QUOTE_CERT_DATA) fail(`${quote.length} bytes is shorter than the fixed part (${D.QUOTE_CERT_DATA})`);
  const v = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const at = (o: number, n: number): Uint8Array => quote.slice(o, o + n);
  const header: QuoteHeader = {
    version: v.getUint16(D.QUOTE_HDR_VERSION, true),
    attestationKeyType: v.getUint16(D.QUOTE_HDR_ATT_KEY_TYPE, true),
    teeType: v.getUint32(D.QUOTE_HDR_TEE_TYPE, true),
    qeSvn: v.getUint16(D.QUOTE_HDR_QE_SVN, true),
    pceSvn: v.getUint16(D.QUOTE_HDR_PCE_SVN, true),
    qeVendorId: at(D.QUOTE_HDR_QE_VENDOR_ID, 16),
    userData: at(D.QUOTE_HDR_USER_DATA, 20),
  };
  if (header.version !== D.QUOTE_VERSION_4) fail(`version ${header.version}, expected 4`);
  if (header.teeType !== D.TEE_TYPE_TDX) fail(`TEE type 0x${header.teeType.toString(16)}, expected 0x81`);
  const b = D.QUOTE_BODY;
  const body: TdQuoteBody = {
    teeTcbSvn: at(b + D.BODY_TEE_TCB_SVN, 16),
    mrSeam: at(b + D.BODY_MRSEAM, 48),
    mrSignerSeam: at(b + D.BODY_MRSIGNERSEAM, 48),
    seamAttributes: at(b + D.BODY_SEAM_ATTRIBUTES, 8),
    tdAttributes: at(b + D.BODY_TD_ATTRIBUTES, 8),
    xfam: at(b + D.BODY_XFAM, 8),
    mrTd: at(b + D.BODY_MRTD, 48),
    mrConfigId: at(b + D.BODY_MRCONFIGID, 48),
    mrOwner: at(b + D.BODY_MROWNER, 48),
    mrOwnerConfig: at(b + D.BODY_MROWNERCONFIG, 48),
    rtmr: [0, 1, 2, 3].map((i) => at(b + D.BODY_RTMR + 48 * i, 48)),
    reportData: at(b + D.BODY_REPORTDATA, 64),
  };
  const signatureDataLength = v.getUint32(D.QUOTE_SIG_DATA_LEN, true);
  if (D.QUOTE_SIGNATURE + signatureDataLength > quote.length) fail(`signature data of ${signatureDataLength} bytes runs past the quote (${quote.length} bytes)`);
  const end = D.QUOTE_SIGNATURE + signatureDataLength;
  const certificationDataType = v.getUint16(D.QUOTE_CERT_DATA_TYPE, true);
  const certSize = v.getUint32(D.QUOTE_CERT_DATA_SIZE, true);
  if (certificationDataType !== D.CERT_TYPE_QE_REPORT) fail(`certification data type ${certificationDataType}, expected 6`);
  if (D.QUOTE_CERT_DATA + certSize > end) fail(`certification data of ${certSize} bytes runs past the signature data`);
  let o = D.QUOTE_CERT_DATA;
  const certEnd = o + certSize;
  const need = (n: number, what: string): void => {
    if (o + n > certEnd) fail(`${what} runs past the certification data`);
  };
  need(D.ENCLAVE_REPORT_SIZE + 64 + 2, 'the QE report');
  const qeReportRaw = at(o, D.ENCLAVE_REPORT_SIZE);
  o += D.ENCLAVE_REPORT_SIZE;
  const qeReportSignature = at(o, 64);
  o += 64;
  const authLen = v.getUint16(o, true);
  o += 2;
  need(authLen, 'the QE auth data');
  const qeAuthData = at(o, authLen);
  o += authLen;
  need(6, 'the PCK certification data header');
  const pckCertChainType = v.getUint16(o, true);
  const chainLen = v.getUint32(o + 2, true);
  o += 6;
  need(chainLen, 'the PCK certification data');
  const pckCertChain = at(o, chainLen);
  return {
    header,
    body,
    signedData: at(0, D.QUOTE_SIGNED_SIZE),
    signatureDataLength,
    signature: at(D.QUOTE_SIGNATURE, 64),
    attestationKey: at(D.QUOTE_ATT_KEY, 64),
    certificationDataType,
    qeReportRaw,
    qeReport: parseEnclaveReport(qeReportRaw),
    qeReportSignature,
    qeAuthData,
    pckCertChainType,
    pckCertChain,
  };
}
