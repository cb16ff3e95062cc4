import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as x509 from '@peculiar/x509';
import { buildTdReport } from '../spec/fixtures.js';
import { checkTdReport, DcapQuoteGenerator } from './DcapQuoteGenerator.js';
import { parseDcapQuote } from './parseDcapQuote.js';
import { TestPki } from './TestPki.js';
import { parsePckExtension, pemCertificates, verifyDcapQuote } from './verifyDcapQuote.js';

const u16 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint16(o, true);
const u32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const p256 = (xy: Uint8Array): ReturnType<typeof createPublicKey> =>
  createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(xy.subarray(0, 32)).toString('base64url'), y: Buffer.from(xy.subarray(32)).toString('base64url') }, format: 'jwk' });
const spki = (c: x509.X509Certificate): ReturnType<typeof createPublicKey> => createPublicKey({ key: Buffer.from(c.publicKey.rawData), format: 'der', type: 'spki' });
const p1363 = (key: ReturnType<typeof createPublicKey>, data: Uint8Array, sig: Uint8Array): boolean => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);

let generator: DcapQuoteGenerator;
let report: Uint8Array;
let quote: Uint8Array;

beforeAll(async () => {
  generator = await DcapQuoteGenerator.create();
  report = buildTdReport({ reportData: Uint8Array.from({ length: 64 }, (_, i) => 0xa0 + (i & 0x1f)) });
  quote = await generator.generate(report);
});

describe('a DCAP v4 TD quote, field by field (tdx-module-abi.md section 9)', () => {
  it('should have the 48-byte header: version 4, key type 2, TEE 0x81, QE SVN, PCE SVN, Intel QE vendor ID, user data', () => {
    expect([u16(quote, 0), u16(quote, 2), u32(quote, 4), u16(quote, 8), u16(quote, 10)]).toEqual([4, 2, 0x81, 4, 13]);
    expect(Buffer.from(quote.subarray(12, 28)).toString('hex')).toBe('939a7233f79c4ca9940a0db3957f0607');
    expect([...quote.subarray(28, 48)]).toEqual(Array(20).fill(0));
  });

  it.each([
    ['TEE_TCB_SVN', 48, 264, 16],
    ['MRSEAM', 64, 280, 48],
    ['MRSIGNERSEAM', 112, 328, 48],
    ['SEAMATTRIBUTES', 160, 376, 8],
    ['TDATTRIBUTES', 168, 512, 8],
    ['XFAM', 176, 520, 8],
    ['MRTD', 184, 528, 48],
    ['MRCONFIGID', 232, 576, 48],
    ['MROWNER', 280, 624, 48],
    ['MROWNERCONFIG', 328, 672, 48],
    ['RTMR0', 376, 720, 48],
    ['RTMR1', 424, 768, 48],
    ['RTMR2', 472, 816, 48],
    ['RTMR3', 520, 864, 48],
    ['REPORTDATA', 568, 128, 64],
  ])('should carry %s at quote offset %i, copied from TDREPORT offset %i (%i bytes)', (_f, at, from, n) => {
    expect(quote.subarray(at, at + n)).toEqual(report.subarray(from, from + n));
  });

  it('should end the body at 632 and sign [0, 632) with the attestation key (ECDSA P-256, SHA-256, r||s at 636)', () => {
    expect(u32(quote, 632)).toBe(quote.length - 636);
    const key = quote.subarray(700, 764);
    expect(key).toEqual(generator.attestationPublicKey);
    expect(p1363(p256(key), quote.subarray(0, 632), quote.subarray(636, 700))).toBe(true);
    const tampered = quote.slice();
    tampered[600] = tampered[600]! ^ 1; // a REPORTDATA byte
    expect(p1363(p256(key), tampered.subarray(0, 632), tampered.subarray(636, 700))).toBe(false);
  });

  it('should carry certification data type 6: a QE report bound to the attestation key, signed by the PCK key', () => {
    expect([u16(quote, 764), u32(quote, 766)]).toEqual([6, quote.length - 770]);
    const qeReport = quote.subarray(770, 1154);
    const qeSig = quote.subarray(1154, 1218);
    expect(u16(quote, 1218)).toBe(32);
    const authData = quote.subarray(1220, 1252);
    expect([...authData]).toEqual(Array.from({ length: 32 }, (_, i) => i));
    const binding = createHash('sha256').update(quote.subarray(700, 764)).update(authData).digest();
    expect(Buffer.from(qeReport.subarray(320, 352)).equals(binding)).toBe(true);
    expect([...qeReport.subarray(352, 384)]).toEqual(Array(32).fill(0));
    expect([u16(qeReport, 256), u16(qeReport, 258), qeReport[48]]).toEqual([2, 4, 0x11]); // ISVPRODID, ISVSVN, ATTRIBUTES (not debug)
    expect(qeReport.subarray(128, 160)).toEqual(generator.pki.platform.qeMrSigner);
    expect(p1363(spki(generator.pki.pck), qeReport, qeSig)).toBe(true);
  });

  it('should end with certification data type 5: the PEM chain PCK leaf -> PCK Platform CA -> root, verifying up to the test root', async () => {
    expect(u16(quote, 1252)).toBe(5);
    const len = u32(quote, 1254);
    expect(1258 + len).toBe(quote.length);
    const chain = pemCertificates(quote.subarray(1258));
    expect(chain.map((c) => c.subject)).toEqual([
      'CN=Intel SGX PCK Certificate, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
      'CN=Intel SGX PCK Platform CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
      'CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
    ]);
    const root = new x509.X509Certificate(generator.pki.rootCaDer);
    expect(Buffer.from(chain[2]!.rawData).equals(Buffer.from(root.rawData))).toBe(true);
    expect(await chain[0]!.verify({ publicKey: chain[1]!.publicKey })).toBe(true);
    expect(await chain[1]!.verify({ publicKey: root.publicKey })).toBe(true);
    expect(await root.verify({ publicKey: root.publicKey })).toBe(true);
    const built = await new x509.X509ChainBuilder({ certificates: [chain[1]!, root] }).build(chain[0]!);
    expect(built.map((c) => c.subject)).toEqual(chain.map((c) => c.subject));
  });

  it('should put the Intel SGX extensions in the PCK leaf: PPID, TCB (16 components, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type', () => {
    const [leaf] = pemCertificates(quote.subarray(1258));
    const ext = parsePckExtension(leaf!);
    const p = generator.pki.platform;
    expect(ext).toEqual({ ppid: p.ppid, cpuSvn: p.cpuSvn, components: [...p.cpuSvn], pceSvn: 13, pceId: p.pceId, fmspc: p.fmspc, sgxType: 1 });
    expect(leaf!.extensions.find((e) => e.type === '1.2.840.113741.1.13.1')?.critical).toBe(false);
    expect(leaf!.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
  });

  it('should parse back into the same fields', () => {
    const q = parseDcapQuote(quote);
    expect(q.header).toMatchObject({ version: 4, attestationKeyType: 2, teeType: 0x81, qeSvn: 4, pceSvn: 13 });
    expect(q.body.mrTd).toEqual(report.subarray(528, 576));
    expect(q.body.rtmr[3]).toEqual(report.subarray(864, 912));
    expect(q.qeReport).toMatchObject({ isvProdId: 2, isvSvn: 4, miscSelect: 0 });
    expect([q.certificationDataType, q.pckCertChainType]).toEqual([6, 5]);
  });

  it('should throw only SEAMKIT_ERR_QUOTE_PARSE for a truncated or corrupted quote (fuzz)', () => {
    fc.assert(
      fc.property(fc.nat(quote.length), fc.array(fc.tuple(fc.nat(quote.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (cut, edits) => {
        const q = quote.slice(0, cut);
        for (const [at, v] of edits) if (at < q.length && (at < 632 || at >= 764)) q[at] = v;
        try {
          parseDcapQuote(q);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('SEAMKIT_ERR_QUOTE_PARSE');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the collateral', () => {
  it('should be signed by the TCB signing certificate, issued by the root', async () => {
    const c = generator.pki.collateral();
    const [tcbSigner, root] = pemCertificates(c.tcb_info_issuer_chain);
    expect(tcbSigner!.subject).toBe('CN=Intel SGX TCB Signing, O=Intel Corporation, L=Santa Clara, ST=CA, C=US');
    expect(await tcbSigner!.verify({ publicKey: root!.publicKey })).toBe(true);
    expect(p1363(spki(tcbSigner!), Buffer.from(c.tcb_info), Buffer.from(c.tcb_info_signature, 'hex'))).toBe(true);
    expect(p1363(spki(tcbSigner!), Buffer.from(c.qe_identity), Buffer.from(c.qe_identity_signature, 'hex'))).toBe(true);
    expect(c.qe_identity_issuer_chain).toBe(c.tcb_info_issuer_chain);
  });

  it('should describe the platform: TCB info v3 for TDX with a level matching it, TD_QE identity v2', () => {
    const c = generator.pki.collateral();
    const tcb = JSON.parse(c.tcb_info) as Record<string, unknown> & { tcbLevels: { tcb: Record<string, unknown>; tcbStatus: string }[] };
    expect(tcb).toMatchObject({ id: 'TDX', version: 3, fmspc: '90c06f000000', pceId: '0000', tcbType: 0 });
    expect(tcb.tcbLevels[0]).toMatchObject({ tcbStatus: 'UpToDate', tcb: { pcesvn: 13 } });
    expect((tcb.tcbLevels[0]!.tcb['sgxtcbcomponents'] as { svn: number }[]).map((s) => s.svn)).toEqual([...generator.pki.platform.cpuSvn]);
    expect(tcb['tdxModuleIdentities']).toMatchObject([{ id: 'TDX_01' }]);
    const qe = JSON.parse(c.qe_identity) as Record<string, unknown>;
    expect(qe).toMatchObject({ id: 'TD_QE', version: 2, isvprodid: 2, miscselect: '00000000', attributes: '11000000000000000000000000000000' });
  });

  it('should include empty, current v2 CRLs of the root CA and the PCK Platform CA, signed by them', async () => {
    const c = generator.pki.collateral();
    const rootCrl = new x509.X509Crl(Buffer.from(c.root_ca_crl, 'hex'));
    const pckCrl = new x509.X509Crl(Buffer.from(c.pck_crl, 'hex'));
    expect([rootCrl.issuer, pckCrl.issuer]).toEqual([generator.pki.root.subject, generator.pki.pckCa.subject]);
    expect(await rootCrl.verify({ publicKey: generator.pki.root.publicKey })).toBe(true);
    expect(await pckCrl.verify({ publicKey: generator.pki.pckCa.publicKey })).toBe(true);
    expect([rootCrl.entries, pckCrl.entries]).toEqual([[], []]);
    expect(rootCrl.nextUpdate!.getTime()).toBeGreaterThan(Date.now());
    expect(pemCertificates(c.pck_crl_issuer_chain).map((x) => x.subject)).toEqual([generator.pki.pckCa.subject, generator.pki.root.subject]);
  });

  it('should carry on every certificate the extensions Intel\'s QVL requires, and on every CRL its CRL number and AKI', () => {
    const pki = generator.pki;
    // AKI, CRL distribution points, SKI, key usage, basic constraints (QVL X509Constants.h *_REQUIRED_EXTENSIONS).
    for (const cert of [pki.root, pki.pckCa, pki.pck, pki.tcbSigning]) {
      expect(cert.extensions.map((e) => e.type)).toEqual(expect.arrayContaining(['2.5.29.35', '2.5.29.31', '2.5.29.14', '2.5.29.15', '2.5.29.19']));
    }
    for (const crl of [pki.rootCrl, pki.pckCrl]) expect(crl.extensions.map((e) => e.type)).toEqual(['2.5.29.20', '2.5.29.35']);
  });

  it('should pass OpenSSL\'s chain verification with CRL checks (when openssl is installed)', () => {
    let openssl = true;
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      openssl = false;
    }
    if (!openssl) return;
    const dir = mkdtempSync(join(tmpdir(), 'seamkit-pki-'));
    try {
      const pki = generator.pki;
      const pem = (c: x509.X509Certificate): string => `${c.toString('pem')}\n`;
      writeFileSync(join(dir, 'root.pem'), pem(pki.root));
      writeFileSync(join(dir, 'ca.pem'), pem(pki.pckCa));
      writeFileSync(join(dir, 'pck.pem'), pem(pki.pck));
      writeFileSync(join(dir, 'tcb.pem'), pem(pki.tcbSigning));
      const crlPem = (der: ArrayBuffer): string => `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
      writeFileSync(join(dir, 'crls.pem'), crlPem(pki.rootCrl.rawData) + crlPem(pki.pckCrl.rawData));
      const check = (leaf: string): string => execFileSync('openssl', ['verify', '-x509_strict', '-crl_check_all', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'ca.pem'), '-CRLfile', join(dir, 'crls.pem'), join(dir, leaf)], { encoding: 'utf8' });
      expect(check('pck.pem')).toMatch(/pck\.pem: OK/);
      expect(check('tcb.pem')).toMatch(/tcb\.pem: OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(verifyDcapQuote, () => {
  it('should accept the quote with the test root: status UpToDate, REPORTDATA and MRTD as in the TDREPORT', async () => {
    const v = await verifyDcapQuote(quote, generator.pki.collateral(), generator.pki.rootCaDer);
    expect(v.status).toBe('UpToDate');
    expect(v.advisoryIds).toEqual([]);
    expect(v.quote.body.reportData).toEqual(report.subarray(128, 192));
    expect(Buffer.from(v.pck.fmspc).toString('hex')).toBe('90c06f000000');
  });

  it('should also survive a JSON round trip of the collateral (as written by --pki)', async () => {
    const c = JSON.parse(JSON.stringify(generator.pki.collateral())) as ReturnType<TestPki['collateral']>;
    await expect(verifyDcapQuote(quote, c, generator.pki.rootCaDer)).resolves.toMatchObject({ status: 'UpToDate' });
  });

  const reject = async (q: Uint8Array, why: RegExp, mutate?: (c: Record<string, string>) => void, root?: Uint8Array, now?: Date): Promise<void> => {
    const c = { ...generator.pki.collateral() } as Record<string, string>;
    mutate?.(c);
    await expect(verifyDcapQuote(q, c as unknown as ReturnType<TestPki['collateral']>, root ?? generator.pki.rootCaDer, now)).rejects.toMatchObject({ code: 'SEAMKIT_ERR_QUOTE_VERIFY', message: expect.stringMatching(why) });
  };

  it('should reject a changed body byte (quote signature)', async () => {
    const q = quote.slice();
    q[190] = q[190]! ^ 0x80; // MRTD
    await reject(q, /quote signature/);
  });

  it('should reject a changed QE report (PCK signature) and a changed attestation key (QE report binding)', async () => {
    const a = quote.slice();
    a[770 + 100] = a[770 + 100]! ^ 1;
    await reject(a, /QE report signature/);
    const b = quote.slice();
    b[710] = b[710]! ^ 1;
    await reject(b, /QE report hash mismatch/);
  });

  it('should reject against another root, with changed collateral, or after the collateral expired', async () => {
    const other = await TestPki.create();
    await reject(quote, /not issued by|bad signature/, undefined, other.rootCaDer);
    await reject(quote, /TCB info: bad signature/, (c) => (c['tcb_info'] = c['tcb_info']!.replace('UpToDate', 'OutOfDate')));
    await reject(quote, /QE identity: bad signature/, (c) => (c['qe_identity'] = c['qe_identity']!.replace('"isvprodid":2', '"isvprodid":3')));
    await reject(quote, /expired/, undefined, undefined, new Date(Date.now() + 40 * 86_400_000));
  });

  it('should reject a quote of a debug TD', async () => {
    const q = await generator.generate(buildTdReport({ tdAttributes: 0x1000_0001n }));
    await reject(q, /under debug/);
  });

  it('should reject a TD without SEPT_VE_DISABLE', async () => {
    const q = await generator.generate(buildTdReport({ tdAttributes: 0n }));
    await reject(q, /SEPT_VE_DISABLE/);
  });
});

describe('the quote generation service input checks', () => {
  it.each([
    ['a short report', new Uint8Array(1000), /1000 bytes/],
    ['an SGX report type', buildTdReport({ type: 0 }), /REPORTTYPE\.TYPE is 0x0/],
    ['a changed TDINFO', (() => { const r = buildTdReport(); r[600] = r[600]! ^ 1; return r; })(), /TEE_INFO_HASH/],
    ['a changed TEE_TCB_INFO', (() => { const r = buildTdReport(); r[300] = r[300]! ^ 1; return r; })(), /TEE_TCB_INFO_HASH/],
  ])('should refuse %s with SEAMKIT_ERR_QGS_REPORT', async (_what, r, why) => {
    expect(() => checkTdReport(r)).toThrow(why);
    await expect(generator.generate(r)).rejects.toMatchObject({ code: 'SEAMKIT_ERR_QGS_REPORT' });
  });
});

describe(TestPki, () => {
  it('should refuse platform fields of the wrong size', async () => {
    await expect(TestPki.create({ fmspc: new Uint8Array(5) })).rejects.toMatchObject({ code: 'SEAMKIT_ERR_QUOTE_PKI' });
    await expect(TestPki.create({ pceSvn: 70000 })).rejects.toMatchObject({ code: 'SEAMKIT_ERR_QUOTE_PKI' });
  });

  it('should export the root CA, the chain and the collateral', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seamkit-pki-'));
    try {
      const files = await generator.pki.exportTo(join(dir, 'out'));
      expect(files.map((f) => f.slice(dir.length + 5))).toEqual(['root-ca.der', 'root-ca.pem', 'pck-chain.pem', 'collateral.json']);
      expect(new Uint8Array(readFileSync(files[0]!))).toEqual(generator.pki.rootCaDer);
      expect(JSON.parse(readFileSync(files[3]!, 'utf8'))).toEqual(generator.pki.collateral());
      expect(existsSync(files[2]!)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
