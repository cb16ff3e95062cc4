import 'reflect-metadata';
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import * as D from '../abi/dcapQuote.js';
import { quoteError } from '../errors.js';
import { derChildren, derOidString, derRead, derUnsigned, DER_TAG } from './der.js';
import { parseDcapQuote, type ParsedTdQuote } from './parseDcapQuote.js';
import { SGX_OID, type DcapCollateral } from './TestPki.js';

/** The values of a PCK certificate's Intel SGX extension a verifier uses. */
export interface PckExtension {
  /** PPID (16). */
  readonly ppid: Uint8Array;
  /** CPUSVN (16). */
  readonly cpuSvn: Uint8Array;
  /** The 16 TCB component SVNs. */
  readonly components: readonly number[];
  /** PCESVN. */
  readonly pceSvn: number;
  /** PCE-ID (2). */
  readonly pceId: Uint8Array;
  /** FMSPC (6). */
  readonly fmspc: Uint8Array;
  /** SGX Type. */
  readonly sgxType: number;
}

/** What {@link verifyDcapQuote} returns for a quote it accepts. */
export interface VerifiedQuote {
  /** Merged TCB status of the platform and the QE (e.g. `UpToDate`). */
  readonly status: string;
  /** Advisory IDs of the matched TCB levels. */
  readonly advisoryIds: readonly string[];
  /** The parsed quote. */
  readonly quote: ParsedTdQuote;
  /** The PCK certificate's SGX extension. */
  readonly pck: PckExtension;
}

/**
 * Reads the Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate.
 * @throws SEAMKIT_ERR_QUOTE_VERIFY when it is missing, ambiguous or malformed
 */
export function parsePckExtension(cert: x509.X509Certificate): PckExtension {
  const exts = cert.extensions.filter((e) => e.type === D.SGX_EXTENSIONS_OID);
  if (exts.length !== 1) throw quoteError('SEAMKIT_ERR_QUOTE_VERIFY', [exts.length === 0 ? 'Intel SGX extension not found' : 'Intel SGX extension ambiguity']);
  try {
    const top = derRead(new Uint8Array(exts[0]!.value));
    if (top.tag !== DER_TAG.SEQUENCE) throw new Error('not a SEQUENCE');
    const entries = new Map<string, ReturnType<typeof derRead>>();
    const collect = (content: Uint8Array): void => {
      for (const item of derChildren(content)) {
        const [oid, value] = derChildren(item.content);
        if (oid === undefined || value === undefined || oid.tag !== DER_TAG.OID) throw new Error('bad entry');
        entries.set(derOidString(oid.content), value);
      }
    };
    collect(top.content);
    const tcb = entries.get(SGX_OID.TCB);
    if (tcb === undefined) throw new Error('TCB missing');
    collect(tcb.content);
    const get = (oid: string, len?: number): Uint8Array => {
      const n = entries.get(oid);
      if (n === undefined) throw new Error(`${oid} missing`);
      if (len !== undefined && n.content.length !== len) throw new Error(`${oid} is not ${len} bytes`);
      return n.content.slice();
    };
    return {
      ppid: get(SGX_OID.PPID, 16),
      cpuSvn: get(`${SGX_OID.TCB}.18`, 16),
      components: Array.from({ length: 16 }, (_, i) => derUnsigned(get(`${SGX_OID.TCB}.${i + 1}`))),
      pceSvn: derUnsigned(get(`${SGX_OID.TCB}.17`)),
      pceId: get(SGX_OID.PCEID, 2),
      fmspc: get(SGX_OID.FMSPC, 6),
      sgxType: derUnsigned(get(SGX_OID.SGX_TYPE)),
    };
  } catch (err) {
    if (err instanceof Error && 'code' in err) throw err;
    throw quoteError('SEAMKIT_ERR_QUOTE_VERIFY', [`malformed Intel SGX extension (${(err as Error).message})`]);
  }
}

/** PEM certificates of a chain, in order. */
export function pemCertificates(pem: string | Uint8Array): x509.X509Certificate[] {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const out: x509.X509Certificate[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g)) {
    out.push(new x509.X509Certificate(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

function fail(why: string): never {
  throw quoteError('SEAMKIT_ERR_QUOTE_VERIFY', [why]);
}

function p256Key(xy: Uint8Array): ReturnType<typeof createPublicKey> {
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: Buffer.from(xy.subarray(0, 32)).toString('base64url'), y: Buffer.from(xy.subarray(32, 64)).toString('base64url') },
    format: 'jwk',
  });
}

function verifyP1363(key: ReturnType<typeof createPublicKey>, data: Uint8Array, signature: Uint8Array): boolean {
  return verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

async function certKey(cert: x509.X509Certificate): Promise<ReturnType<typeof createPublicKey>> {
  return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
}

/**
 * Checks one certificate chain (leaf first, the trust anchor last or implied) the way
 * rustls-webpki does for dcap-qvl: each certificate signed by the next, inside its validity
 * period at `now`, issuers are CAs allowed to sign certificates, the leaf is not a CA, the top
 * is signed by `root`; and revocation for every certificate below the root: the CRL issued by
 * its issuer must be present, correctly signed, current, and not list it.
 */
async function verifyChain(chain: readonly x509.X509Certificate[], root: x509.X509Certificate, crls: readonly x509.X509Crl[], now: Date, what: string): Promise<void> {
  const certs = chain.filter((c, i) => i === 0 || !(c.subject === root.subject && Buffer.from(c.rawData).equals(Buffer.from(root.rawData))));
  if (certs.length === 0) fail(`${what}: empty certificate chain`);
  const leafBc = certs[0]!.getExtension(x509.BasicConstraintsExtension);
  if (leafBc?.ca === true) fail(`${what}: the leaf certificate is a CA`);
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!;
    const issuer = certs[i + 1] ?? root;
    if (cert.issuer !== issuer.subject) fail(`${what}: "${cert.subject}" is not issued by "${issuer.subject}"`);
    const bc = issuer.getExtension(x509.BasicConstraintsExtension);
    if (bc?.ca !== true) fail(`${what}: issuer "${issuer.subject}" is not a CA`);
    const ku = issuer.getExtension(x509.KeyUsagesExtension);
    if (ku !== null && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) fail(`${what}: issuer "${issuer.subject}" may not sign certificates`);
    if (!(await cert.verify({ publicKey: issuer.publicKey, date: now }))) fail(`${what}: "${cert.subject}" has a bad signature or is not valid at ${now.toISOString()}`);
    const crl = crls.find((c) => c.issuer === issuer.subject);
    if (crl === undefined) fail(`${what}: no CRL from "${issuer.subject}" for "${cert.subject}"`);
    if (!(await crl.verify({ publicKey: issuer.publicKey }))) fail(`${what}: the CRL of "${issuer.subject}" has a bad signature`);
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now.getTime()) fail(`${what}: the CRL of "${issuer.subject}" expired`);
    if (crl.findRevoked(cert) !== null) fail(`${what}: "${cert.subject}" is revoked`);
  }
  if (!(await root.verify({ publicKey: root.publicKey, date: now }))) fail(`${what}: the root CA is not self-signed or not valid now`);
}

interface Level {
  readonly tcbStatus: string;
  readonly advisoryIDs?: readonly string[];
}

const STATUS_ORDER = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded', 'Revoked'];

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return a.length < b.length;
}

function fromHex(s: unknown, n: number, what: string): Uint8Array {
  if (typeof s !== 'string' || !/^[0-9a-fA-F]*$/.test(s) || s.length !== 2 * n) fail(`${what} is not ${n} bytes of hex`);
  return Uint8Array.from(Buffer.from(s as string, 'hex'));
}

/**
 * Verifies a DCAP version 4 TD quote against its collateral and a trust anchor, following the
 * steps of the open-source dcap-qvl verifier (`verify_impl`) in its order:
 *
 * 1. the root CA is not revoked by either CRL; the quote is version 4, TEE type TDX,
 *    attestation key type 2;
 * 2. TCB info: issue date and next update bracket `now`; its issuer chain verifies to the root
 *    with the CRLs; its ECDSA signature over the exact JSON text verifies with the TCB signing key;
 * 3. QE identity: the same checks; id `TD_QE`, version 2 or 3;
 * 4. the PCK chain carried in the quote (certification data 6 -> 5) verifies to the root with
 *    the CRLs; the SGX extension gives CPUSVN, PCESVN, FMSPC;
 * 5. the QE report signature verifies with the PCK leaf key;
 * 6. QE report REPORTDATA[0..32] = SHA-256(attestation key || QE auth data);
 * 7. the QE report matches the QE identity: MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under
 *    their masks, and its ISVSVN selects a QE TCB level;
 * 8. the quote signature over bytes [0, 632) verifies with the attestation key;
 * 9. the platform TCB: FMSPC equals the TCB info's, the TCB info is TDX version 3 or later, and
 *    the first level whose PCESVN, SGX components (against CPUSVN) and TDX components (against
 *    TEE_TCB_SVN) are all met gives the status; the worse of it and the QE's is returned and
 *    must not be Revoked;
 * 10. TD attributes: not under debug (TUD bits 0), reserved bits 0, SEPT_VE_DISABLE set.
 *
 * Not checked (as in dcap-qvl): the TDX module identity (MRSIGNERSEAM, SEAM attributes) against
 * the TCB info's `tdxModule`, TCB level dates, CRL distribution points; certificate policies and
 * names beyond the issuer/subject link.
 * @param rawQuote - the quote
 * @param collateral - TCB info, QE identity, CRLs and issuer chains
 * @param rootCaDer - the trust anchor (DER)
 * @param now - verification time (default: now)
 * @throws (rejects) SEAMKIT_ERR_QUOTE_VERIFY naming the failed step, or SEAMKIT_ERR_QUOTE_PARSE
 */
export async function verifyDcapQuote(rawQuote: Uint8Array, collateral: DcapCollateral, rootCaDer: Uint8Array, now: Date = new Date()): Promise<VerifiedQuote> {
  const root = new x509.X509Certificate(rootCaDer);
  const crls = [collateral.root_ca_crl, collateral.pck_crl].map((h) => new x509.X509Crl(Buffer.from(h, 'hex')));
  for (const crl of crls) if (crl.findRevoked(root) !== null) fail('the root CA is revoked');
  const quote = parseDcapQuote(rawQuote);
  if (quote.header.attestationKeyType !== D.ATT_KEY_TYPE_ECDSA_P256) fail('unsupported attestation key type');

  const dated = (json: { issueDate?: unknown; nextUpdate?: unknown }, what: string): void => {
    const issue = Date.parse(String(json.issueDate));
    const next = Date.parse(String(json.nextUpdate));
    if (Number.isNaN(issue) || Number.isNaN(next)) fail(`${what}: bad issueDate / nextUpdate`);
    if (now.getTime() < issue) fail(`${what}: issue date is in the future`);
    if (now.getTime() > next) fail(`${what}: expired`);
  };
  const signedJson = async (text: string, sigHex: string, chainPem: string, what: string): Promise<Record<string, unknown>> => {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      fail(`${what}: not JSON`);
    }
    dated(json, what);
    const chain = pemCertificates(chainPem);
    if (chain.length < 2) fail(`${what}: certificate chain is too short`);
    await verifyChain(chain, root, crls, now, `${what} issuer chain`);
    if (!verifyP1363(await certKey(chain[0]!), Buffer.from(text, 'utf8'), fromHex(sigHex, 64, `${what} signature`))) fail(`${what}: bad signature`);
    return json;
  };

  const tcbInfo = await signedJson(collateral.tcb_info, collateral.tcb_info_signature, collateral.tcb_info_issuer_chain, 'TCB info');
  const qeId = await signedJson(collateral.qe_identity, collateral.qe_identity_signature, collateral.qe_identity_issuer_chain, 'QE identity');
  if (qeId['id'] !== 'TD_QE' || (qeId['version'] !== 2 && qeId['version'] !== 3)) fail(`QE identity ${String(qeId['id'])} version ${String(qeId['version'])} is not TD_QE 2/3`);

  if (quote.pckCertChainType !== D.CERT_TYPE_PCK_CERT_CHAIN) fail(`unsupported PCK certification data type ${quote.pckCertChainType}`);
  const pckChain = pemCertificates(quote.pckCertChain);
  if (pckChain.length < 2) fail('PCK certificate chain is too short in the quote');
  await verifyChain(pckChain, root, crls, now, 'PCK chain');
  const pck = parsePckExtension(pckChain[0]!);

  if (!verifyP1363(await certKey(pckChain[0]!), quote.qeReportRaw, quote.qeReportSignature)) fail('bad QE report signature');
  const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  if (!binding.equals(Buffer.from(quote.qeReport.reportData.subarray(0, 32)))) fail('QE report hash mismatch');

  const qe = quote.qeReport;
  if (!Buffer.from(qe.mrSigner).equals(Buffer.from(fromHex(qeId['mrsigner'], 32, 'QE identity mrsigner')))) fail('QE MRSIGNER mismatch');
  if (qe.isvProdId !== qeId['isvprodid']) fail('QE ISVPRODID mismatch');
  const misc = new DataView(fromHex(qeId['miscselect'], 4, 'miscselect').buffer).getUint32(0, true);
  const miscMask = new DataView(fromHex(qeId['miscselectMask'], 4, 'miscselectMask').buffer).getUint32(0, true);
  if (((qe.miscSelect & miscMask) >>> 0) !== ((misc & miscMask) >>> 0)) fail('QE MISCSELECT mismatch');
  const attr = fromHex(qeId['attributes'], 16, 'attributes');
  const attrMask = fromHex(qeId['attributesMask'], 16, 'attributesMask');
  for (let i = 0; i < 16; i++) if ((qe.attributes[i]! & attrMask[i]!) !== (attr[i]! & attrMask[i]!)) fail(`QE ATTRIBUTES mismatch at byte ${i}`);
  const qeLevels = (qeId['tcbLevels'] ?? []) as (Level & { tcb: { isvsvn: number } })[];
  const qeLevel = qeLevels.find((l) => qe.isvSvn >= l.tcb.isvsvn);
  if (qeLevel === undefined) fail(`QE ISVSVN ${qe.isvSvn} is below every QE identity TCB level`);

  if (!verifyP1363(p256Key(quote.attestationKey), quote.signedData, quote.signature)) fail('quote signature (attestation key over bytes [0, 632)) is invalid');

  if (!Buffer.from(pck.fmspc).equals(Buffer.from(fromHex(tcbInfo['fmspc'], 6, 'TCB info fmspc')))) fail('FMSPC mismatch');
  if (tcbInfo['id'] !== 'TDX' || typeof tcbInfo['version'] !== 'number' || tcbInfo['version'] < 3) fail('TDX quote with non-TDX TCB info');
  type TcbLevel = Level & { tcb: { sgxtcbcomponents: { svn: number }[]; tdxtcbcomponents?: { svn: number }[]; pcesvn: number } };
  let platform: Level | undefined;
  for (const level of (tcbInfo['tcbLevels'] ?? []) as TcbLevel[]) {
    if (pck.pceSvn < level.tcb.pcesvn) continue;
    const sgx = level.tcb.sgxtcbcomponents.map((c) => c.svn);
    if (sgx.length === 0) fail('no SGX components in the TCB info');
    if (lexLess([...pck.cpuSvn], sgx)) continue;
    const tdx = (level.tcb.tdxtcbcomponents ?? []).map((c) => c.svn);
    if (tdx.length === 0) fail('no TDX components in the TCB info');
    if (lexLess([...quote.body.teeTcbSvn], tdx)) continue;
    platform = level;
    break;
  }
  if (platform === undefined) fail('no matching TCB level');
  const worst = Math.max(STATUS_ORDER.indexOf(platform.tcbStatus), STATUS_ORDER.indexOf(qeLevel.tcbStatus));
  const status = STATUS_ORDER[worst] ?? 'Unknown';
  if (worst < 0 || status === 'Revoked') fail(`TCB status ${status} is not valid`);

  const a = quote.body.tdAttributes;
  if (a[0] !== 0) fail('the TD is under debug (TUD bits set)');
  if ((a[1]! | a[2]! | (a[3]! & 0x0f)) !== 0 || (a[3]! & 0x20) !== 0 || (a[4]! | a[5]! | a[6]! | (a[7]! & 0x7f)) !== 0) fail('reserved TD attribute bits are set');
  if ((a[3]! & 0x10) === 0) fail('SEPT_VE_DISABLE is not set');

  return { status, advisoryIds: [...(platform.advisoryIDs ?? []), ...(qeLevel.advisoryIDs ?? [])], quote, pck };
}
