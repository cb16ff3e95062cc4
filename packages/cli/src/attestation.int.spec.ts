import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDcapQuote, verifyDcapQuote, type DcapCollateral } from '@seamkit/plugin-quote';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const env = { ...process.env, NO_COLOR: '1' };

function seamkit(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Checks a quote file against the PKI a run exported. */
async function verifyWith(quoteFile: string, pkiDir: string): Promise<Awaited<ReturnType<typeof verifyDcapQuote>>> {
  const quote = new Uint8Array(readFileSync(quoteFile));
  const collateral = JSON.parse(readFileSync(join(pkiDir, 'collateral.json'), 'utf8')) as DcapCollateral;
  return verifyDcapQuote(quote, collateral, new Uint8Array(readFileSync(join(pkiDir, 'root-ca.der'))));
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seamkit-cli-quote-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the built seamkit CLI: attestation', () => {
  it('is built (run `npm run build` first)', () => {
    expect(existsSync(bin)).toBe(true);
  });

  describe('quote', () => {
    it('writes a DCAP quote of the TD\'s own TDREPORT, prints MRTD and REPORTDATA, and exports a PKI that verifies it', async () => {
      const out = join(dir, 'quote.bin');
      const pki = join(dir, 'pki');
      const reportData = 'c0ffee' + '11'.repeat(29);
      const r = seamkit('quote', '--out', out, '--report-data', reportData, '--pki', pki);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const mrtd = /MRTD\s+([0-9a-f]{96})\n/.exec(r.stdout)?.[1];
      expect(mrtd).toBeDefined();
      expect(r.stdout).toContain(`REPORTDATA     ${reportData}${'00'.repeat(32)}\n`);
      expect(r.stdout).toMatch(/GetQuote\s+R10 SUCCESS, status SUCCESS, interrupts taken: 0x51/);
      expect(r.stdout).toMatch(/verified\s+with this run's test root CA: TCB status UpToDate/);
      for (const f of ['root-ca.der', 'root-ca.pem', 'pck-chain.pem', 'collateral.json']) expect(existsSync(join(pki, f))).toBe(true);
      const collateral = JSON.parse(readFileSync(join(pki, 'collateral.json'), 'utf8')) as Record<string, unknown>;
      expect(Object.keys(collateral)).toEqual([
        'pck_crl_issuer_chain', 'root_ca_crl', 'pck_crl', 'tcb_info_issuer_chain', 'tcb_info', 'tcb_info_signature',
        'qe_identity_issuer_chain', 'qe_identity', 'qe_identity_signature',
      ]);
      const v = await verifyWith(out, pki);
      expect(v.status).toBe('UpToDate');
      expect(Buffer.from(v.quote.body.mrTd).toString('hex')).toBe(mrtd);
      expect(Buffer.from(v.quote.body.reportData).toString('hex')).toBe(`${reportData}${'00'.repeat(32)}`);
    });

    it('is deterministic in what the TD measures: the same MRTD every run, a fresh PKI each time', () => {
      const a = JSON.parse(seamkit('quote', '--out', join(dir, 'a.bin'), '--json').stdout) as Record<string, unknown>;
      const b = JSON.parse(seamkit('quote', '--out', join(dir, 'b.bin'), '--json', '--report-data', '0x' + 'ab'.repeat(64)).stdout) as Record<string, unknown>;
      expect(a).toMatchObject({ setupEventNotifyInterrupt: 'SUCCESS', tdgMrReport: '0x0', mapGpa: 'SUCCESS', getQuote: 'SUCCESS', status: 'SUCCESS', interrupts: [0x51], verified: 'UpToDate', qgs: 'in-process' });
      expect(a['mrtd']).toBe(b['mrtd']);
      expect(b['reportData']).toBe('ab'.repeat(64));
      expect(parseDcapQuote(new Uint8Array(readFileSync(join(dir, 'b.bin')))).body.reportData).toEqual(new Uint8Array(64).fill(0xab));
    });

    it.each([
      [['--out']],
      [['--report-data', '00']],
      [['--out', 'x', '--report-data', 'abc']],
      [['--out', 'x', '--report-data', 'zz']],
      [['--out', 'x', '--report-data', '00'.repeat(65)]],
      [['--out', 'x', '--frobnicate']],
      [['--out', 'x', 'extra']],
      [['--out', 'x', '--pki', 'd', '--qgs', 's']],
    ])('rejects %j with exit code 2 and a message', (args) => {
      const r = seamkit('quote', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^seamkit: /);
      expect(r.stdout).toBe('');
    });

    it('exits 1 and says why when the quote generation service is down', () => {
      const r = seamkit('quote', '--out', join(dir, 'none.bin'), '--qgs', join(dir, 'nobody.sock'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the guest got no quote: TDG.MR.REPORT 0x0, MapGPA SUCCESS, GetQuote R10 SUCCESS, status SERVICE_UNAVAILABLE/);
      expect(existsSync(join(dir, 'none.bin'))).toBe(false);
    });

    it('has --help', () => {
      const r = seamkit('quote', '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: seamkit quote --out FILE');
    });
  });

  describe('qgs', () => {
    /** Starts `seamkit qgs` and resolves once it listens. */
    async function startQgs(...args: string[]): Promise<{ child: ChildProcess; output: () => string; exit: Promise<number | null> }> {
      const child = spawn(process.execPath, [bin, 'qgs', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 30_000;
      while (!/root CA\s+SHA-256/.test(text)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`seamkit qgs did not start: ${text}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return { child, output: () => text, exit };
    }

    it('serves `seamkit quote --qgs` over its socket, with a PKI it exports, until SIGTERM', async () => {
      const sock = join(dir, 'qgs.sock');
      const pki = join(dir, 'qgs-pki');
      const qgs = await startQgs('--socket', sock, '--pki', pki);
      try {
        expect(qgs.output()).toContain(`seamkit qgs: listening on ${sock}`);
        const out = join(dir, 'via-socket.bin');
        const r = seamkit('quote', '--qgs', sock, '--out', out, '--report-data', '42'.repeat(64));
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`QGS (${sock})`);
        const v = await verifyWith(out, pki);
        expect(v.quote.body.reportData).toEqual(new Uint8Array(64).fill(0x42));
      } finally {
        qgs.child.kill('SIGTERM');
      }
      expect(await qgs.exit).toBe(0);
      expect(qgs.output()).toMatch(/SIGTERM, stopped after 1 connections, 1 quotes, 0 errors/);
      expect(existsSync(sock)).toBe(false);
    }, 60_000);

    it('stops on SIGINT too', async () => {
      const qgs = await startQgs('--socket', join(dir, 'int.sock'));
      qgs.child.kill('SIGINT');
      expect(await qgs.exit).toBe(0);
      expect(qgs.output()).toMatch(/SIGINT, stopped after 0 connections/);
    }, 60_000);

    it('refuses a socket path another service listens on (exit 1)', async () => {
      const sock = join(dir, 'busy.sock');
      const first = await startQgs('--socket', sock);
      try {
        const r = seamkit('qgs', '--socket', sock);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/SEAMKIT_ERR_QGS_LISTEN/);
      } finally {
        first.child.kill('SIGTERM');
        await first.exit;
      }
    }, 60_000);

    it('rejects bad usage with exit code 2 and has --help', () => {
      expect(seamkit('qgs').code).toBe(2);
      expect(seamkit('qgs', '--socket').code).toBe(2);
      expect(seamkit('qgs', '--socket', 'x', '--port', '1').code).toBe(2);
      const h = seamkit('qgs', '--help');
      expect(h.code).toBe(0);
      expect(h.stdout).toContain('Usage: seamkit qgs --socket PATH');
    });
  });

  it('lists both commands in the top-level help', () => {
    const r = seamkit('--help');
    expect(r.stdout).toMatch(/quote\s+run the attestation flow/);
    expect(r.stdout).toMatch(/qgs\s+serve quotes on a Unix socket/);
  });
});
