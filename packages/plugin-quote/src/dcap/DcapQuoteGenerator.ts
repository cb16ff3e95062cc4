import { createHash, webcrypto } from 'node:crypto';
import * as D from '../abi/dcapQuote.js';
import * as R from '../abi/tdReport.js';
import { quoteError } from '../errors.js';
import { TestPki, type TestPkiOptions } from './TestPki.js';

const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** TD report body fields and where they come from: [body offset, TDREPORT offset, size]. */
export const TD_REPORT_BODY_MAP: readonly (readonly [number, number, number])[] = [
  [D.BODY_TEE_TCB_SVN, R.TDREPORT_TEE_TCB_SVN, 16],
  [D.BODY_MRSEAM, R.TDREPORT_MRSEAM, 48],
  [D.BODY_MRSIGNERSEAM, R.TDREPORT_MRSIGNERSEAM, 48],
  [D.BODY_SEAM_ATTRIBUTES, R.TDREPORT_SEAM_ATTRIBUTES, 8],
  [D.BODY_TD_ATTRIBUTES, R.TDREPORT_TD_ATTRIBUTES, 8],
  [D.BODY_XFAM, R.TDREPORT_XFAM, 8],
  [D.BODY_MRTD, R.TDREPORT_MRTD, 48],
  [D.BODY_MRCONFIGID, R.TDREPORT_MRCONFIGID, 48],
  [D.BODY_MROWNER, R.TDREPORT_MROWNER, 48],
  [D.BODY_MROWNERCONFIG, R.TDREPORT_MROWNERCONFIG, 48],
  [D.BODY_RTMR, R.TDREPORT_RTMR, 192],
  [D.BODY_REPORTDATA, R.TDREPORT_REPORTDATA, 64],
];

/**
 * Checks that `report` is a consistent TDREPORT_STRUCT, as a TD quoting enclave does after the
 * MAC check: 1024 bytes, REPORTTYPE.TYPE 0x81, TEE_TCB_INFO_HASH = SHA-384 of the 239-byte
 * TEE_TCB_INFO and TEE_INFO_HASH = SHA-384 of TDINFO (the MAC covers only REPORTMACSTRUCT; the
 * hashes bind the rest to it). The MAC itself needs the CPU's report key and is not checked.
 * @throws SEAMKIT_ERR_QGS_REPORT otherwise
 */
export function checkTdReport(report: Uint8Array): void {
  const bad = (why: string): never => {
    throw quoteError('SEAMKIT_ERR_QGS_REPORT', [why]);
  };
  if (report.length !== R.TDREPORT_SIZE) bad(`${report.length} bytes, a TDREPORT has ${R.TDREPORT_SIZE}`);
  const type = report[R.TDREPORT_TYPE]!;
  if (type !== R.TDREPORT_TYPE_TDX) bad(`REPORTTYPE.TYPE is 0x${type.toString(16)}, not 0x81`);
  const hash = (o: number, n: number): Buffer => createHash('sha384').update(report.subarray(o, o + n)).digest();
  if (!hash(R.TDREPORT_TEE_TCB_INFO, R.TDREPORT_TEE_TCB_INFO_SIZE).equals(report.subarray(R.TDREPORT_TEE_TCB_INFO_HASH, R.TDREPORT_TEE_TCB_INFO_HASH + 48))) {
    bad('TEE_TCB_INFO_HASH does not match TEE_TCB_INFO');
  }
  if (!hash(R.TDREPORT_TDINFO, R.TDREPORT_TDINFO_SIZE).equals(report.subarray(R.TDREPORT_TEE_INFO_HASH, R.TDREPORT_TEE_INFO_HASH + 48))) {
    bad('TEE_INFO_HASH does not match TDINFO');
  }
}

/** The 584-byte TD report body of a quote, re-packed from a TDREPORT at the offsets of {@link TD_REPORT_BODY_MAP}. */
export function tdReportBody(report: Uint8Array): Uint8Array {
  checkTdReport(report);
  const body = new Uint8Array(D.TD_REPORT_BODY_SIZE);
  for (const [to, from, n] of TD_REPORT_BODY_MAP) body.set(report.subarray(from, from + n), to);
  return body;
}

/** Options of {@link DcapQuoteGenerator.create}. */
export interface DcapQuoteGeneratorOptions extends TestPkiOptions {
  /** The PKI to certify quotes with (generated from the other options if omitted). */
  readonly pki?: TestPki;
  /**
   * EVERIFYREPORT2 of the platform this QE runs on: true when the TDREPORT's MAC verifies with
   * the CPU's report key. On the simulator that is `(r) => module.verifyReportMac(r) === 0n`
   * (`TdxModule.verifyReportMac`). Without it the QE cannot check the MAC (a QGS in another
   * process than the simulated platform, for example) and quotes any well-formed TDREPORT.
   */
  readonly verifyReport?: (tdReport: Uint8Array) => boolean;
}

/**
 * A simulated TD quoting enclave: turns a TDREPORT into a DCAP version 4 TD quote.
 *
 * - Header (48 bytes): version 4, attestation key type 2 (ECDSA P-256), TEE type 0x81, QE SVN,
 *   PCE SVN, Intel's QE vendor ID, 20 bytes of user data (zero).
 * - Body (584 bytes): the TDREPORT's TEE_TCB_INFO and TDINFO fields and REPORTDATA, re-packed.
 * - Signature data: the ECDSA P-256 / SHA-256 signature r||s over bytes [0, 632) by this QE's
 *   attestation key, the attestation public key x||y, then certification data type 6: the QE
 *   report (a 384-byte SGX REPORT body whose REPORTDATA[0..32] = SHA-256(attestation key || QE
 *   auth data)), its signature by the PCK key, the QE auth data (32 bytes), and certification data
 *   type 5: the PEM PCK chain (PCK leaf, PCK Platform CA, root CA).
 *
 * The TDREPORT is checked with {@link checkTdReport}, and its MAC with the platform's
 * EVERIFYREPORT2 when the generator was given one ({@link DcapQuoteGeneratorOptions.verifyReport}),
 * as a real QE does. Its attestation key is a fresh P-256 key per generator, not one certified
 * through a PCE.
 */
export class DcapQuoteGenerator {
  /** The PKI certifying this QE. */
  readonly pki: TestPki;
  /** The attestation public key x||y (64 bytes), as quotes carry it. */
  readonly attestationPublicKey: Uint8Array;
  /** The QE auth data carried in quotes (32 bytes, 0x00..0x1f as Intel's QE). */
  readonly qeAuthData: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => i);
  /** The QE report (384 bytes): fixed for this generator, it binds the attestation key. */
  readonly qeReport: Uint8Array;
  /** Quotes generated so far. */
  generated = 0;
  readonly #attestationKey: webcrypto.CryptoKey;
  readonly #qeReportSignature: Uint8Array;
  readonly #certData: Uint8Array;
  readonly #verifyReport: ((tdReport: Uint8Array) => boolean) | undefined;

  private constructor(
    pki: TestPki, key: webcrypto.CryptoKeyPair, attestationPublicKey: Uint8Array, qeReport: Uint8Array, qeReportSignature: Uint8Array,
    verifyReport: ((tdReport: Uint8Array) => boolean) | undefined,
  ) {
    this.pki = pki;
    this.#verifyReport = verifyReport;
    this.#attestationKey = key.privateKey;
    this.attestationPublicKey = attestationPublicKey;
    this.qeReport = qeReport;
    this.#qeReportSignature = qeReportSignature;
    this.#certData = this.#certificationData();
  }

  /** Generates (or takes) the PKI and a fresh attestation key, and builds and signs the QE report. */
  static async create(options: DcapQuoteGeneratorOptions = {}): Promise<DcapQuoteGenerator> {
    const pki = options.pki ?? (await TestPki.create(options));
    const key = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', key.publicKey));
    const attestationPublicKey = raw.slice(1); // drop the 0x04 uncompressed-point prefix
    const qeAuthData = Uint8Array.from({ length: 32 }, (_, i) => i);
    const p = pki.platform;
    const qeReport = new Uint8Array(D.ENCLAVE_REPORT_SIZE);
    const v = new DataView(qeReport.buffer);
    qeReport.set(p.cpuSvn, D.ER_CPUSVN);
    v.setUint32(D.ER_MISCSELECT, 0, true);
    qeReport[D.ER_ATTRIBUTES] = 0x11; // INIT | MODE64BIT, not DEBUG
    qeReport[D.ER_ATTRIBUTES + 8] = 0xe7; // XFRM: x87, SSE, AVX, AVX-512 state
    qeReport.set(p.qeMrEnclave, D.ER_MRENCLAVE);
    qeReport.set(p.qeMrSigner, D.ER_MRSIGNER);
    v.setUint16(D.ER_ISVPRODID, p.qeProdId, true);
    v.setUint16(D.ER_ISVSVN, p.qeSvn, true);
    const binding = createHash('sha256').update(attestationPublicKey).update(qeAuthData).digest();
    qeReport.set(binding, D.ER_REPORTDATA);
    const qeReportSignature = await pki.signWithPck(qeReport);
    return new DcapQuoteGenerator(pki, key, attestationPublicKey, qeReport, qeReportSignature, options.verifyReport);
  }

  /**
   * Quotes `tdReport`.
   * @throws (rejects) SEAMKIT_ERR_QGS_REPORT when it is not a TDREPORT, or when its MAC does not
   *   verify with the platform's EVERIFYREPORT2 (if the generator has one)
   */
  async generate(tdReport: Uint8Array): Promise<Uint8Array> {
    const body = tdReportBody(tdReport);
    if (this.#verifyReport !== undefined && !this.#verifyReport(tdReport)) {
      throw quoteError('SEAMKIT_ERR_QGS_REPORT', ['its MAC does not verify with the platform\'s report key (EVERIFYREPORT2)']);
    }
    const cert = this.#certData;
    const sigDataLen = 64 + 64 + 2 + 4 + cert.length;
    const quote = new Uint8Array(D.QUOTE_SIGNED_SIZE + 4 + sigDataLen);
    const v = new DataView(quote.buffer);
    const p = this.pki.platform;
    v.setUint16(D.QUOTE_HDR_VERSION, D.QUOTE_VERSION_4, true);
    v.setUint16(D.QUOTE_HDR_ATT_KEY_TYPE, D.ATT_KEY_TYPE_ECDSA_P256, true);
    v.setUint32(D.QUOTE_HDR_TEE_TYPE, D.TEE_TYPE_TDX, true);
    v.setUint16(D.QUOTE_HDR_QE_SVN, p.qeSvn, true);
    v.setUint16(D.QUOTE_HDR_PCE_SVN, p.pceSvn, true);
    quote.set(D.INTEL_QE_VENDOR_ID, D.QUOTE_HDR_QE_VENDOR_ID);
    quote.set(body, D.QUOTE_BODY);
    const signature = new Uint8Array(await webcrypto.subtle.sign(SIGN, this.#attestationKey, quote.subarray(0, D.QUOTE_SIGNED_SIZE)));
    v.setUint32(D.QUOTE_SIG_DATA_LEN, sigDataLen, true);
    quote.set(signature, D.QUOTE_SIGNATURE);
    quote.set(this.attestationPublicKey, D.QUOTE_ATT_KEY);
    v.setUint16(D.QUOTE_CERT_DATA_TYPE, D.CERT_TYPE_QE_REPORT, true);
    v.setUint32(D.QUOTE_CERT_DATA_SIZE, cert.length, true);
    quote.set(cert, D.QUOTE_CERT_DATA);
    this.generated++;
    return quote;
  }

  /** Certification data type 6: QE report, its signature, QE auth data, type-5 PCK chain. */
  #certificationData(): Uint8Array {
    const chain = Buffer.from(this.pki.pckChainPem(), 'utf8');
    const out = new Uint8Array(D.ENCLAVE_REPORT_SIZE + 64 + 2 + this.qeAuthData.length + 2 + 4 + chain.length);
    const v = new DataView(out.buffer);
    let o = 0;
    out.set(this.qeReport, o);
    o += D.ENCLAVE_REPORT_SIZE;
    out.set(this.#qeReportSignature, o);
    o += 64;
    v.setUint16(o, this.qeAuthData.length, true);
    o += 2;
    out.set(this.qeAuthData, o);
    o += this.qeAuthData.length;
    v.setUint16(o, D.CERT_TYPE_PCK_CERT_CHAIN, true);
    o += 2;
    v.setUint32(o, chain.length, true);
    o += 4;
    out.set(chain, o);
    return out;
  }
}
