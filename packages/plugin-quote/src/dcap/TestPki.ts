import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { SGX_EXTENSIONS_OID } from '../abi/dcapQuote.js';
import { quoteError } from '../errors.js';
import { derBoolean, derEnumerated, derInteger, derOctetString, derOid, derSequence } from './der.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 86_400_000;

/**
 * The platform a {@link TestPki} certifies: what its PCK certificate, TCB info and QE identity
 * say. Defaults describe a TDX-capable (Sapphire Rapids-like) platform that is up to date.
 */
export interface PlatformTcb {
  /** FMSPC (6 bytes): family-model-stepping-platform-customSKU. */
  readonly fmspc: Uint8Array;
  /** PCE-ID (2 bytes). */
  readonly pceId: Uint8Array;
  /** CPUSVN (16 bytes), the 16 SGX TCB component SVNs. */
  readonly cpuSvn: Uint8Array;
  /** PCE SVN. */
  readonly pceSvn: number;
  /** PPID (16 bytes). */
  readonly ppid: Uint8Array;
  /** PlatformInstanceID (16 bytes). */
  readonly platformInstanceId: Uint8Array;
  /** ISVSVN of the TD quoting enclave. */
  readonly qeSvn: number;
  /** ISVPRODID of the TD quoting enclave (2 for Intel's TD QE). */
  readonly qeProdId: number;
  /** MRENCLAVE of the TD quoting enclave (32 bytes). */
  readonly qeMrEnclave: Uint8Array;
  /** MRSIGNER of the TD quoting enclave (32 bytes). */
  readonly qeMrSigner: Uint8Array;
  /** MRSIGNERSEAM the TCB info expects of the TDX module (48 bytes; zero for Intel's module). */
  readonly mrSignerSeam: Uint8Array;
  /** TEE_TCB_SVN of the TDX module (16 bytes); byte 1 selects the TDX module identity `TDX_<hex>`. */
  readonly teeTcbSvn: Uint8Array;
}

/** Options of {@link TestPki.create}. */
export interface TestPkiOptions extends Partial<PlatformTcb> {
  /** "Now" for validity periods, issue dates and CRL update times (default: the current time). */
  readonly now?: Date;
}

/**
 * Quote collateral in the shape PCCS clients (and the dcap-qvl verifier's `QuoteCollateralV3`)
 * use: issuer chains as PEM text, CRLs and signatures as hex, TCB info and QE identity as the
 * exact JSON text that was signed.
 */
export interface DcapCollateral {
  /** PEM chain of the PCK CRL issuer: PCK Platform CA, then the root CA. */
  readonly pck_crl_issuer_chain: string;
  /** The root CA's CRL (DER, hex). */
  readonly root_ca_crl: string;
  /** The PCK Platform CA's CRL (DER, hex). */
  readonly pck_crl: string;
  /** PEM chain of the TCB info signer: TCB signing certificate, then the root CA. */
  readonly tcb_info_issuer_chain: string;
  /** The TCB info JSON text (the `tcbInfo` object PCS returns). */
  readonly tcb_info: string;
  /** ECDSA P-256 signature r||s of `tcb_info` (hex). */
  readonly tcb_info_signature: string;
  /** PEM chain of the QE identity signer (the TCB signing certificate, then the root CA). */
  readonly qe_identity_issuer_chain: string;
  /** The QE identity JSON text (the `enclaveIdentity` object PCS returns). */
  readonly qe_identity: string;
  /** ECDSA P-256 signature r||s of `qe_identity` (hex). */
  readonly qe_identity_signature: string;
}

/** Distinguished names of Intel's SGX PKI, which DCAP verifiers (Intel's QVL) compare in full. */
export const PKI_NAMES = {
  /** Root CA. */
  root: 'CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
  /** Intermediate CA issuing PCK certificates of multi-package platforms. */
  platformCa: 'CN=Intel SGX PCK Platform CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
  /** PCK leaf. */
  pck: 'CN=Intel SGX PCK Certificate, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
  /** TCB info and QE identity signer. */
  tcbSigning: 'CN=Intel SGX TCB Signing, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
} as const;

/**
 * CRL distribution points written into the certificates. Intel's QVL requires the extension on
 * every certificate of the chains; the host names are under `.invalid` (RFC 2606), so nothing
 * ever fetches them: the CRLs travel in the collateral.
 */
export const CRL_URLS = {
  /** Where the root CA's CRL would be. */
  root: 'https://seamkit.invalid/test-pki/IntelSGXRootCA.der',
  /** Where the PCK Platform CA's CRL would be. */
  platformCa: 'https://seamkit.invalid/test-pki/pckcrl?ca=platform&encoding=der',
} as const;

/** The SGX extension OIDs (children of 1.2.840.113741.1.13.1). */
export const SGX_OID = {
  /** PPID, OCTET STRING (16). */
  PPID: `${SGX_EXTENSIONS_OID}.1`,
  /** TCB, SEQUENCE of the 16 component SVNs (.2.1 .. .2.16), PCESVN (.2.17) and CPUSVN (.2.18). */
  TCB: `${SGX_EXTENSIONS_OID}.2`,
  /** PCE-ID, OCTET STRING (2). */
  PCEID: `${SGX_EXTENSIONS_OID}.3`,
  /** FMSPC, OCTET STRING (6). */
  FMSPC: `${SGX_EXTENSIONS_OID}.4`,
  /** SGX Type, ENUMERATED (0 Standard, 1 Scalable, 2 Scalable with integrity). */
  SGX_TYPE: `${SGX_EXTENSIONS_OID}.5`,
  /** PlatformInstanceID, OCTET STRING (16); multi-package platforms only. */
  PLATFORM_INSTANCE_ID: `${SGX_EXTENSIONS_OID}.6`,
  /** Configuration, SEQUENCE {dynamicPlatform .7.1, cachedKeys .7.2, SMTEnabled .7.3} of BOOLEAN. */
  CONFIGURATION: `${SGX_EXTENSIONS_OID}.7`,
} as const;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const label = (s: string, n: number): Uint8Array => Uint8Array.from(createHash('sha512').update(s).digest().subarray(0, n));
/** ISO 8601 without milliseconds, as PCS writes its dates. */
const isoDate = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;

/**
 * The default platform: a TDX-capable server, up to date. CPUSVN and TEE_TCB_SVN are those of the
 * simulated CPU and TDX module of @seamkit/tdx-module (CPUSVN 05 05 02 02 03 01 00.., module SVN
 * 1.1, MRSIGNERSEAM 0), so its quotes match the TCB info level exactly.
 */
export const DEFAULT_PLATFORM: PlatformTcb = {
  fmspc: Uint8Array.from([0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00]),
  pceId: Uint8Array.from([0x00, 0x00]),
  cpuSvn: Uint8Array.from([0x05, 0x05, 0x02, 0x02, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
  pceSvn: 13,
  ppid: label('seamkit test platform PPID', 16),
  platformInstanceId: label('seamkit test platform instance', 16),
  qeSvn: 4,
  qeProdId: 2,
  qeMrEnclave: label('seamkit test TD quoting enclave', 32),
  qeMrSigner: label('seamkit test quoting enclave signer', 32),
  mrSignerSeam: new Uint8Array(48),
  teeTcbSvn: Uint8Array.from([0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
};

function checkLength(name: string, b: Uint8Array, n: number): void {
  if (!(b instanceof Uint8Array) || b.length !== n) throw quoteError('SEAMKIT_ERR_QUOTE_PKI', [`${name} must be ${n} bytes`]);
}

function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return hex(b);
}

/**
 * The value of the Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate issued
 * by the Platform CA: PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX Type
 * (1, Scalable), PlatformInstanceID and Configuration, in Intel's order (Intel SGX PCK
 * Certificate and Certificate Revocation List Profile Specification).
 */
export function sgxExtensionValue(p: PlatformTcb): Uint8Array {
  const entry = (oid: string, value: Uint8Array): Uint8Array => derSequence(derOid(oid), value);
  const components = Array.from(p.cpuSvn, (svn, i) => entry(`${SGX_OID.TCB}.${i + 1}`, derInteger(svn)));
  return derSequence(
    entry(SGX_OID.PPID, derOctetString(p.ppid)),
    entry(SGX_OID.TCB, derSequence(...components, entry(`${SGX_OID.TCB}.17`, derInteger(p.pceSvn)), entry(`${SGX_OID.TCB}.18`, derOctetString(p.cpuSvn)))),
    entry(SGX_OID.PCEID, derOctetString(p.pceId)),
    entry(SGX_OID.FMSPC, derOctetString(p.fmspc)),
    entry(SGX_OID.SGX_TYPE, derEnumerated(1)),
    entry(SGX_OID.PLATFORM_INSTANCE_ID, derOctetString(p.platformInstanceId)),
    entry(SGX_OID.CONFIGURATION, derSequence(
      entry(`${SGX_OID.CONFIGURATION}.1`, derBoolean(false)),
      entry(`${SGX_OID.CONFIGURATION}.2`, derBoolean(false)),
      entry(`${SGX_OID.CONFIGURATION}.3`, derBoolean(true)),
    )),
  );
}

/** A key pair and the certificate that certifies it. */
interface Issuer {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly cert: x509.X509Certificate;
}

/**
 * A throwaway DCAP PKI for simulated attestation, shaped like Intel's so that standard DCAP
 * verifiers accept its quotes when (and only when) they are given its root CA as the trust
 * anchor:
 *
 * - root CA (self-signed, `Intel SGX Root CA` naming, CA, path length 1);
 * - every certificate carries the extensions Intel's QVL requires: authority and subject key
 *   identifiers, CRL distribution points ({@link CRL_URLS}), key usage, basic constraints;
 * - PCK Platform CA (issued by the root, CA, path length 0) and the PCK leaf it issues, with the
 *   Intel SGX extensions (PPID, TCB, PCE-ID, FMSPC, SGX Type, PlatformInstanceID,
 *   Configuration);
 * - TCB signing certificate (issued by the root) that signs the TCB info and QE identity;
 * - empty v2 CRLs of the root CA and of the PCK Platform CA;
 * - TCB info (version 3, id TDX) with one UpToDate level matching the platform, and the TD QE
 *   identity (version 2, id TD_QE).
 *
 * All keys are ECDSA P-256 and are generated fresh: nothing here is, or chains to, an Intel key.
 * The names copy Intel's distinguished names because Intel's verifier checks them; the root is
 * trusted by nobody unless a verifier is explicitly given it.
 */
export class TestPki {
  /** The platform this PKI certifies. */
  readonly platform: PlatformTcb;
  /** The root CA certificate. */
  readonly root: x509.X509Certificate;
  /** The PCK Platform CA certificate. */
  readonly pckCa: x509.X509Certificate;
  /** The PCK leaf certificate, with the SGX extensions. */
  readonly pck: x509.X509Certificate;
  /** The TCB signing certificate. */
  readonly tcbSigning: x509.X509Certificate;
  /** The root CA's CRL. */
  readonly rootCrl: x509.X509Crl;
  /** The PCK Platform CA's CRL. */
  readonly pckCrl: x509.X509Crl;
  /** The TCB info JSON text. */
  readonly tcbInfo: string;
  /** Signature r||s of {@link tcbInfo} by the TCB signing key. */
  readonly tcbInfoSignature: Uint8Array;
  /** The QE identity JSON text. */
  readonly qeIdentity: string;
  /** Signature r||s of {@link qeIdentity} by the TCB signing key. */
  readonly qeIdentitySignature: Uint8Array;
  /** When the collateral was issued. */
  readonly issued: Date;
  readonly #pckKey: webcrypto.CryptoKey;

  private constructor(init: {
    platform: PlatformTcb; root: Issuer; pckCa: Issuer; pck: Issuer; tcbSigning: Issuer; rootCrl: x509.X509Crl; pckCrl: x509.X509Crl;
    tcbInfo: string; tcbInfoSignature: Uint8Array; qeIdentity: string; qeIdentitySignature: Uint8Array; issued: Date;
  }) {
    this.platform = init.platform;
    this.root = init.root.cert;
    this.pckCa = init.pckCa.cert;
    this.pck = init.pck.cert;
    this.tcbSigning = init.tcbSigning.cert;
    this.rootCrl = init.rootCrl;
    this.pckCrl = init.pckCrl;
    this.tcbInfo = init.tcbInfo;
    this.tcbInfoSignature = init.tcbInfoSignature;
    this.qeIdentity = init.qeIdentity;
    this.qeIdentitySignature = init.qeIdentitySignature;
    this.issued = init.issued;
    this.#pckKey = init.pck.keys.privateKey;
  }

  /**
   * Generates the keys, certificates, CRLs and signed collateral.
   * @throws SEAMKIT_ERR_QUOTE_PKI for a platform field of the wrong size
   */
  static async create(options: TestPkiOptions = {}): Promise<TestPki> {
    const { now: nowOption, ...overrides } = options;
    const platform: PlatformTcb = { ...DEFAULT_PLATFORM, ...overrides };
    checkLength('fmspc', platform.fmspc, 6);
    checkLength('pceId', platform.pceId, 2);
    checkLength('cpuSvn', platform.cpuSvn, 16);
    checkLength('ppid', platform.ppid, 16);
    checkLength('platformInstanceId', platform.platformInstanceId, 16);
    checkLength('qeMrEnclave', platform.qeMrEnclave, 32);
    checkLength('qeMrSigner', platform.qeMrSigner, 32);
    checkLength('mrSignerSeam', platform.mrSignerSeam, 48);
    checkLength('teeTcbSvn', platform.teeTcbSvn, 16);
    for (const [name, v] of [['pceSvn', platform.pceSvn], ['qeSvn', platform.qeSvn], ['qeProdId', platform.qeProdId]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw quoteError('SEAMKIT_ERR_QUOTE_PKI', [`${name} must be a u16`]);
    }
    const now = nowOption ?? new Date();
    const notBefore = new Date(now.getTime() - DAY);
    const gen = async (): Promise<webcrypto.CryptoKeyPair> => webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;

    const rootKeys = await gen();
    const rootCert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(), subject: PKI_NAMES.root, issuer: PKI_NAMES.root,
      notBefore, notAfter: new Date(now.getTime() + 3650 * DAY), signingAlgorithm: SIGN,
      publicKey: rootKeys.publicKey, signingKey: rootKeys.privateKey,
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
        new x509.CRLDistributionPointsExtension([CRL_URLS.root]),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.BasicConstraintsExtension(true, 1, true),
      ],
    });
    const root: Issuer = { keys: rootKeys, cert: rootCert };

    const issue = async (subject: string, by: Issuer, ca: boolean, years: number, extra: x509.Extension[] = []): Promise<Issuer> => {
      const keys = await gen();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(), subject, issuer: by.cert.subjectName,
        notBefore, notAfter: new Date(now.getTime() + years * 365 * DAY), signingAlgorithm: SIGN,
        publicKey: keys.publicKey, signingKey: by.keys.privateKey,
        extensions: [
          await x509.AuthorityKeyIdentifierExtension.create(by.keys.publicKey),
          new x509.CRLDistributionPointsExtension([by === root ? CRL_URLS.root : CRL_URLS.platformCa]),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          new x509.KeyUsagesExtension(
            ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
            true,
          ),
          ca ? new x509.BasicConstraintsExtension(true, 0, true) : new x509.BasicConstraintsExtension(false, undefined, true),
          ...extra,
        ],
      });
      return { keys, cert };
    };
    const pckCa = await issue(PKI_NAMES.platformCa, root, true, 10);
    const pck = await issue(PKI_NAMES.pck, pckCa, false, 7, [new x509.Extension(SGX_EXTENSIONS_OID, false, sgxExtensionValue(platform))]);
    const tcbSigning = await issue(PKI_NAMES.tcbSigning, root, false, 7);

    const crl = async (by: Issuer, number: number): Promise<x509.X509Crl> =>
      x509.X509CrlGenerator.create({
        issuer: by.cert.subjectName, thisUpdate: notBefore, nextUpdate: new Date(now.getTime() + 30 * DAY),
        signingAlgorithm: SIGN, signingKey: by.keys.privateKey,
        extensions: [
          new x509.Extension('2.5.29.20', false, derInteger(number)), // cRLNumber
          await x509.AuthorityKeyIdentifierExtension.create(by.keys.publicKey),
        ],
      });
    const rootCrl = await crl(root, 1);
    const pckCrl = await crl(pckCa, 1);

    const issueDate = isoDate(new Date(now.getTime() - 60_000));
    const nextUpdate = isoDate(new Date(now.getTime() + 30 * DAY));
    const tcbDate = '2025-01-01T00:00:00Z';
    const svns = (b: Uint8Array): { svn: number }[] => Array.from(b, (svn) => ({ svn }));
    const moduleIdentity = platform.teeTcbSvn[1]!;
    const tcbInfo = JSON.stringify({
      id: 'TDX',
      version: 3,
      issueDate,
      nextUpdate,
      fmspc: hex(platform.fmspc),
      pceId: hex(platform.pceId),
      tcbType: 0,
      tcbEvaluationDataNumber: 17,
      tdxModule: { mrsigner: hex(platform.mrSignerSeam).toUpperCase(), attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
      tdxModuleIdentities: [{
        id: `TDX_${moduleIdentity.toString(16).padStart(2, '0').toUpperCase()}`,
        mrsigner: hex(platform.mrSignerSeam).toUpperCase(),
        attributes: '0000000000000000',
        attributesMask: 'FFFFFFFFFFFFFFFF',
        tcbLevels: [{ tcb: { isvsvn: platform.teeTcbSvn[0]! }, tcbDate, tcbStatus: 'UpToDate' }],
      }],
      tcbLevels: [{
        tcb: { sgxtcbcomponents: svns(platform.cpuSvn), pcesvn: platform.pceSvn, tdxtcbcomponents: svns(platform.teeTcbSvn) },
        tcbDate,
        tcbStatus: 'UpToDate',
      }],
    });
    const qeIdentity = JSON.stringify({
      id: 'TD_QE',
      version: 2,
      issueDate,
      nextUpdate,
      tcbEvaluationDataNumber: 17,
      miscselect: '00000000',
      miscselectMask: 'FFFFFFFF',
      attributes: '11000000000000000000000000000000',
      attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
      mrsigner: hex(platform.qeMrSigner).toUpperCase(),
      isvprodid: platform.qeProdId,
      tcbLevels: [{ tcb: { isvsvn: platform.qeSvn }, tcbDate, tcbStatus: 'UpToDate' }],
    });
    const sign = async (key: webcrypto.CryptoKey, text: string): Promise<Uint8Array> =>
      new Uint8Array(await webcrypto.subtle.sign(SIGN, key, Buffer.from(text, 'utf8')));
    return new TestPki({
      platform, root, pckCa, pck, tcbSigning, rootCrl, pckCrl, issued: now,
      tcbInfo, tcbInfoSignature: await sign(tcbSigning.keys.privateKey, tcbInfo),
      qeIdentity, qeIdentitySignature: await sign(tcbSigning.keys.privateKey, qeIdentity),
    });
  }

  /** The root CA certificate, DER: the trust anchor to give a verifier. */
  get rootCaDer(): Uint8Array {
    return new Uint8Array(this.root.rawData);
  }

  /** The PCK certificate chain as a quote carries it: PCK leaf, PCK Platform CA, root CA (PEM). */
  pckChainPem(): string {
    return [this.pck, this.pckCa, this.root].map((c) => c.toString('pem')).join('\n') + '\n';
  }

  /** The collateral a DCAP verifier needs, in the PCCS / dcap-qvl JSON shape. */
  collateral(): DcapCollateral {
    const tcbChain = [this.tcbSigning, this.root].map((c) => c.toString('pem')).join('\n') + '\n';
    return {
      pck_crl_issuer_chain: [this.pckCa, this.root].map((c) => c.toString('pem')).join('\n') + '\n',
      root_ca_crl: hex(new Uint8Array(this.rootCrl.rawData)),
      pck_crl: hex(new Uint8Array(this.pckCrl.rawData)),
      tcb_info_issuer_chain: tcbChain,
      tcb_info: this.tcbInfo,
      tcb_info_signature: hex(this.tcbInfoSignature),
      qe_identity_issuer_chain: tcbChain,
      qe_identity: this.qeIdentity,
      qe_identity_signature: hex(this.qeIdentitySignature),
    };
  }

  /** Signs `data` with the PCK private key (ECDSA P-256, SHA-256, r||s): the QE report signature. */
  async signWithPck(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await webcrypto.subtle.sign(SIGN, this.#pckKey, data));
  }

  /**
   * Writes the trust anchor and collateral into `dir` (created if needed): `root-ca.der`,
   * `root-ca.pem`, `pck-chain.pem` (the chain quotes carry) and `collateral.json`.
   * @returns the paths written
   */
  async exportTo(dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const files: [string, string | Uint8Array][] = [
      ['root-ca.der', this.rootCaDer],
      ['root-ca.pem', `${this.root.toString('pem')}\n`],
      ['pck-chain.pem', this.pckChainPem()],
      ['collateral.json', `${JSON.stringify(this.collateral(), null, 2)}\n`],
    ];
    const out: string[] = [];
    for (const [name, data] of files) {
      const path = join(dir, name);
      await writeFile(path, data);
      out.push(path);
    }
    return out;
  }
}
