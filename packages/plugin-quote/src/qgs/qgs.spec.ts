import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { ExitBuffer, LeafRegistry, type ExitShape, type SharedMemory, type UserExitContext } from '@seamkit/core';
import { QGS_MSG_ERROR } from '../abi/qgs.js';
import { encodeGetQuoteRequest, encodeGetQuoteResponse } from './qgsMessages.js';
import { DcapQuoteGenerator } from '../dcap/DcapQuoteGenerator.js';
import { parseDcapQuote } from '../dcap/parseDcapQuote.js';
import { verifyDcapQuote } from '../dcap/verifyDcapQuote.js';
import { GetQuoteLeaf } from '../GetQuoteLeaf.js';
import { buildTdReport } from '../spec/fixtures.js';
import { QgsClient } from './QgsClient.js';
import { QgsServer } from './QgsServer.js';
import { duplexPair, inProcessTransport, unixSocketTransport, type InProcessQgs } from './transport.js';

const SUCCESS = 0n;
const IN_FLIGHT = 0xffffffffffffffffn;
const ERROR = 0x8000000000000000n;
const UNAVAILABLE = 0x8000000000000001n;
const TDX_SHAPE: ExitShape = { reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 };

/** Guest memory as userspace maps it: 256 KiB at GPA 0, every write logged. */
class Memory implements SharedMemory {
  readonly bytes = new Uint8Array(0x40000);
  readonly view = new DataView(this.bytes.buffer);
  readonly writes: { gpa: number; length: number }[] = [];
  contains(gpa: number, length: number): boolean {
    return gpa >= 0 && gpa + length <= this.bytes.length;
  }
  read(gpa: number, dst: Uint8Array): void {
    if (!this.contains(gpa, dst.length)) throw new Error('read outside memory');
    dst.set(this.bytes.subarray(gpa, gpa + dst.length));
  }
  write(gpa: number, src: Uint8Array): void {
    if (!this.contains(gpa, src.length)) throw new Error('write outside memory');
    this.bytes.set(src, gpa);
    this.writes.push({ gpa, length: src.length });
  }
  /** A version-1 header and `report` after it. */
  request(gpa: number, report: Uint8Array): void {
    this.view.setBigUint64(gpa, 1n, true);
    this.view.setBigUint64(gpa + 8, 0n, true);
    this.view.setUint32(gpa + 16, report.length, true);
    this.view.setUint32(gpa + 20, 0, true);
    this.bytes.set(report, gpa + 24);
    this.writes.length = 0;
  }
  status(gpa: number): bigint {
    return this.view.getBigUint64(gpa + 8, true);
  }
  outLen(gpa: number): number {
    return this.view.getUint32(gpa + 20, true);
  }
}

/** Byte equality of large buffers (vitest's deep equality is slow on 256 KiB arrays). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

const ctxFor = (memory: SharedMemory): UserExitContext => ({ run: new ExitBuffer(), vcpuIndex: 0, memory, emit: () => undefined, registry: new LeafRegistry([TDX_SHAPE]) });

/** Plays KVM's GetQuote exit for (gpa, size) and the userspace half; returns ret. */
function getQuote(leaf: GetQuoteLeaf, ctx: UserExitContext, gpa: number, size: number): bigint {
  ctx.run.setU64(48, 0x8000000000000003n);
  ctx.run.setU64(56, BigInt(gpa));
  ctx.run.setU64(64, BigInt(size));
  leaf.user(ctx);
  return ctx.run.getU64(48);
}

/** A QGS in the process that answers every request with fixed bytes, delivered in chunks. */
class ScriptedQgs implements InProcessQgs {
  readonly requests: Uint8Array[] = [];
  readonly ends: Duplex[] = [];
  constructor(readonly reply: Uint8Array | undefined, readonly chunk = 1 << 20, readonly close = true) {}
  connectInProcess(): Duplex {
    const [client, server] = duplexPair();
    this.ends.push(server);
    let got = new Uint8Array(0);
    server.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length < 4 || got.length < 4 + new DataView(got.buffer, got.byteOffset).getUint32(0, false)) return;
      this.requests.push(new Uint8Array(got));
      if (this.reply === undefined) return; // never answers
      for (let i = 0; i < this.reply.length; i += this.chunk) server.write(this.reply.subarray(i, i + this.chunk));
      if (this.close) server.end();
    });
    return client;
  }
}

let generator: DcapQuoteGenerator;
beforeAll(async () => {
  generator = await DcapQuoteGenerator.create();
});

describe('QGS client and service', () => {
  describe('in-process', () => {
    it('should carry a TDREPORT to the service and a DCAP quote back into the guest buffer', async () => {
      const server = new QgsServer((r) => generator.generate(r));
      const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(server)));
      const mem = new Memory();
      const report = buildTdReport();
      mem.request(0x2000, report);
      expect(getQuote(leaf, ctxFor(mem), 0x2000, 0x2000)).toBe(SUCCESS);
      expect(mem.status(0x2000)).toBe(IN_FLIGHT);
      await leaf.drain();
      expect(mem.status(0x2000)).toBe(SUCCESS);
      const quote = mem.bytes.slice(0x2000 + 24, 0x2000 + 24 + mem.outLen(0x2000));
      expect(parseDcapQuote(quote).body.reportData).toEqual(report.subarray(128, 192));
      await expect(verifyDcapQuote(quote, generator.pki.collateral(), generator.pki.rootCaDer)).resolves.toMatchObject({ status: 'UpToDate' });
      expect(server.stats).toEqual({ connections: 1, quotes: 1, errors: 0 });
    });

    it('should send exactly QEMU\'s GET_QUOTE_REQ and accept a reply split into single bytes', async () => {
      const quote = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
      const qgs = new ScriptedQgs(encodeGetQuoteResponse(quote), 1);
      const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(qgs)));
      const mem = new Memory();
      const report = buildTdReport();
      mem.request(0x1000, report);
      getQuote(leaf, ctxFor(mem), 0x1000, 0x1000);
      await leaf.drain();
      expect(qgs.requests).toEqual([encodeGetQuoteRequest(report)]);
      expect([mem.status(0x1000), mem.outLen(0x1000)]).toEqual([SUCCESS, 300]);
      expect(mem.bytes.subarray(0x1024 - 12, 0x1024 - 12 + 300)).toEqual(quote);
    });

    it('should give SERVICE_UNAVAILABLE when the service is closed (QGS down)', async () => {
      const server = new QgsServer((r) => generator.generate(r));
      await server.close();
      const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(server)));
      const mem = new Memory();
      mem.request(0x1000, buildTdReport());
      expect(getQuote(leaf, ctxFor(mem), 0x1000, 0x1000)).toBe(SUCCESS);
      await leaf.drain();
      expect(mem.status(0x1000)).toBe(UNAVAILABLE);
    });

    it('should give ERROR when the service refuses a request that is not a TDREPORT (QGS error code)', async () => {
      const server = new QgsServer((r) => generator.generate(r));
      const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(server)));
      const mem = new Memory();
      mem.request(0x1000, buildTdReport({ type: 0x00 }));
      getQuote(leaf, ctxFor(mem), 0x1000, 0x1000);
      await leaf.drain();
      expect([mem.status(0x1000), mem.outLen(0x1000)]).toEqual([ERROR, 0]);
      expect(server.stats).toMatchObject({ quotes: 0, errors: 1 });
    });

    it('should give ERROR when the quote does not fit QEMU\'s receive buffer (guest buffer of one page)', async () => {
      const server = new QgsServer((r) => generator.generate(r));
      const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(server)));
      const mem = new Memory();
      mem.request(0x1000, buildTdReport());
      getQuote(leaf, ctxFor(mem), 0x1000, 0x1000); // a DCAP quote with a PEM chain is > 4 KiB
      await leaf.drain();
      expect(mem.status(0x1000)).toBe(ERROR);
    });

    describe('malformed responses', () => {
      const good = encodeGetQuoteResponse(Uint8Array.of(1, 2, 3, 4));
      const edit = (f: (v: DataView, b: Uint8Array) => void): Uint8Array => {
        const b = good.slice();
        f(new DataView(b.buffer), b);
        return b;
      };
      it.each<[string, Uint8Array | undefined, boolean?]>([
        ['a zero length', edit((v) => v.setUint32(0, 0, false))],
        ['a huge length', edit((v) => v.setUint32(0, 0x7fffffff, false))],
        ['a wrong major version', edit((v) => v.setUint16(4, 0, true))],
        ['a wrong minor version', edit((v) => v.setUint16(6, 2, true))],
        ['a request type', edit((v) => v.setUint32(8, 0, true))],
        ['an oversized header size', edit((v) => v.setUint32(12, 1 << 20, true))],
        ['a QGS error code', encodeGetQuoteResponse(new Uint8Array(0), QGS_MSG_ERROR.UNEXPECTED)],
        ['a selected id', edit((v) => v.setUint32(20, 1, true))],
        ['a quote size that disagrees', edit((v) => v.setUint32(24, 3, true))],
        ['a truncated reply', good.subarray(0, good.length - 1)],
        ['only a length prefix', good.subarray(0, 4)],
        ['an empty reply', new Uint8Array(0)],
        ['a message too short to be a response', Uint8Array.of(0, 0, 0, 2, 1, 0)],
        ['garbage', Uint8Array.from({ length: 100 }, (_, i) => (i * 97) & 0xff)],
      ])('should give ERROR, write only the header, and close the connection for %s', async (_what, reply) => {
        const qgs = new ScriptedQgs(reply);
        const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(qgs)));
        const mem = new Memory();
        mem.request(0x3000, buildTdReport());
        const before = mem.bytes.slice();
        getQuote(leaf, ctxFor(mem), 0x3000, 0x2000);
        await leaf.drain();
        expect([mem.status(0x3000), mem.outLen(0x3000)]).toEqual([ERROR, 0]);
        expect(same(mem.bytes.subarray(0x3000 + 24), before.subarray(0x3000 + 24))).toBe(true);
        expect(qgs.ends[0]!.destroyed || qgs.ends[0]!.readableEnded).toBe(true);
      });
    });

    it('should write nothing outside the guest buffer, whatever bytes the QGS sends (fuzz)', async () => {
      const gpa = 0x4000;
      const size = 0x1000;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 5000 }),
            fc.tuple(fc.uint8Array({ maxLength: 4100 }), fc.array(fc.tuple(fc.nat(40), fc.integer({ min: 0, max: 255 })), { maxLength: 3 })).map(([q, edits]) => {
              const b = encodeGetQuoteResponse(q);
              for (const [at, val] of edits) if (at < b.length) b[at] = val;
              return b;
            }),
          ),
          fc.integer({ min: 16, max: 2000 }),
          async (reply, chunk) => {
            const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(new ScriptedQgs(reply, chunk))));
            const mem = new Memory();
            mem.request(gpa, buildTdReport());
            const before = mem.bytes.slice();
            expect(getQuote(leaf, ctxFor(mem), gpa, size)).toBe(SUCCESS);
            await leaf.drain();
            for (const w of mem.writes) expect(w.gpa >= gpa && w.gpa + w.length <= gpa + size).toBe(true);
            expect(same(mem.bytes.subarray(0, gpa), before.subarray(0, gpa))).toBe(true);
            expect(same(mem.bytes.subarray(gpa + size), before.subarray(gpa + size))).toBe(true);
            const status = mem.status(gpa);
            expect([SUCCESS, ERROR]).toContain(status);
            if (status === SUCCESS) expect(mem.bytes.subarray(gpa + 24, gpa + 24 + mem.outLen(gpa))).toEqual(reply.subarray(28, 28 + mem.outLen(gpa)));
          },
        ),
        { numRuns: 300 },
      );
    }, 60_000);

    describe('timing', () => {
      afterEach(() => {
        vi.useRealTimers();
      });

      it('should give ERROR after 30 s of silence and close the connection', async () => {
        vi.useFakeTimers();
        const qgs = new ScriptedQgs(undefined);
        const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(qgs)));
        const mem = new Memory();
        mem.request(0x1000, buildTdReport());
        getQuote(leaf, ctxFor(mem), 0x1000, 0x2000);
        await vi.advanceTimersByTimeAsync(29_999);
        expect(mem.status(0x1000)).toBe(IN_FLIGHT);
        expect(qgs.requests).toHaveLength(1);
        await vi.advanceTimersByTimeAsync(1);
        await leaf.drain();
        expect(mem.status(0x1000)).toBe(ERROR);
        expect(qgs.ends[0]!.readableEnded || qgs.ends[0]!.destroyed).toBe(true);
      });
    });

    it('should serve 17 concurrent requests: 16 queued, the 17th RETRY, all 16 quoted', async () => {
      const server = new QgsServer((r) => generator.generate(r));
      const leaf = new GetQuoteLeaf(new QgsClient(inProcessTransport(server)));
      const mem = new Memory();
      const ctx = ctxFor(mem);
      const rets: bigint[] = [];
      for (let i = 0; i < 17; i++) {
        mem.request(0x2000 * i, buildTdReport({ reportData: new Uint8Array(64).fill(i) }));
        rets.push(getQuote(leaf, ctx, 0x2000 * i, 0x2000));
      }
      expect(rets).toEqual([...Array(16).fill(SUCCESS), 1n]);
      await leaf.drain();
      for (let i = 0; i < 16; i++) {
        expect(mem.status(0x2000 * i)).toBe(SUCCESS);
        const q = parseDcapQuote(mem.bytes.slice(0x2000 * i + 24, 0x2000 * i + 24 + mem.outLen(0x2000 * i)));
        expect(q.body.reportData).toEqual(new Uint8Array(64).fill(i));
      }
      expect(mem.status(0x2000 * 16)).toBe(SUCCESS - 0n); // untouched by the RETRY (still the guest's 0)
      expect(server.stats.quotes).toBe(16);
    });
  });

  describe('over a Unix socket', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'seamkit-qgs-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('should produce a verifiable quote end to end through a QGS listening on a socket path', async () => {
      const path = join(dir, 'qgs.sock');
      const server = new QgsServer((r) => generator.generate(r));
      await server.listen(path);
      try {
        const leaf = new GetQuoteLeaf(new QgsClient(unixSocketTransport(path)));
        const mem = new Memory();
        const reportData = Uint8Array.from({ length: 64 }, (_, i) => 0xc0 ^ i);
        mem.request(0x4000, buildTdReport({ reportData }));
        getQuote(leaf, ctxFor(mem), 0x4000, 0x4000);
        await leaf.drain();
        expect(mem.status(0x4000)).toBe(SUCCESS);
        const quote = mem.bytes.slice(0x4000 + 24, 0x4000 + 24 + mem.outLen(0x4000));
        const verified = await verifyDcapQuote(quote, generator.pki.collateral(), generator.pki.rootCaDer);
        expect(verified.quote.body.reportData).toEqual(reportData);
        expect(server.stats.connections).toBe(1);
      } finally {
        await server.close();
      }
    });

    it('should give SERVICE_UNAVAILABLE when nothing listens on the socket path (QGS down)', async () => {
      const leaf = new GetQuoteLeaf(new QgsClient(unixSocketTransport(join(dir, 'nobody.sock'))));
      const mem = new Memory();
      mem.request(0x1000, buildTdReport());
      getQuote(leaf, ctxFor(mem), 0x1000, 0x2000);
      await leaf.drain();
      expect(mem.status(0x1000)).toBe(UNAVAILABLE);
    });

    it('should give ERROR when the QGS drops the connection without answering', async () => {
      const path = join(dir, 'rude.sock');
      const rude = createServer((s) => s.once('data', () => s.destroy()));
      await new Promise<void>((r) => rude.listen(path, r));
      try {
        const leaf = new GetQuoteLeaf(new QgsClient(unixSocketTransport(path)));
        const mem = new Memory();
        mem.request(0x1000, buildTdReport());
        getQuote(leaf, ctxFor(mem), 0x1000, 0x2000);
        await leaf.drain();
        expect(mem.status(0x1000)).toBe(ERROR);
      } finally {
        await new Promise<void>((r) => rude.close(() => r()));
      }
    });

    it('should replace a stale socket file but refuse a path a live service holds', async () => {
      const path = join(dir, 'stale.sock');
      writeFileSync(path, '');
      const a = new QgsServer((r) => generator.generate(r));
      await a.listen(path);
      const b = new QgsServer((r) => generator.generate(r));
      await expect(b.listen(path)).rejects.toMatchObject({ code: 'SEAMKIT_ERR_QGS_LISTEN' });
      await a.close();
      await b.listen(path);
      await b.close();
    });
  });

  describe('the service answering raw messages', () => {
    async function exchange(bytes: Uint8Array): Promise<Uint8Array> {
      const server = new QgsServer((r) => generator.generate(r));
      const sock = server.connectInProcess();
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.write(bytes);
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          const got = Buffer.concat(chunks);
          if (got.length >= 4 && got.length >= 4 + got.readUInt32BE(0)) {
            clearInterval(t);
            resolve();
          }
        }, 1);
      });
      sock.destroy();
      return Buffer.concat(chunks);
    }
    const req = (f: (v: DataView) => void): Uint8Array => {
      const b = encodeGetQuoteRequest(buildTdReport());
      f(new DataView(b.buffer));
      return b;
    };
    it.each([
      ['a wrong major version', req((v) => v.setUint16(4, 2, true)), QGS_MSG_ERROR.INVALID_VERSION],
      ['a response type', req((v) => v.setUint32(8, 1, true)), QGS_MSG_ERROR.INVALID_TYPE],
      ['a size that is not the message size', req((v) => v.setUint32(12, 100, true)), QGS_MSG_ERROR.INVALID_SIZE],
      ['report_size + id_list_size that do not add up', req((v) => v.setUint32(24, 8, true)), QGS_MSG_ERROR.INVALID_SIZE],
      ['a report that is not a TDREPORT', encodeGetQuoteRequest(new Uint8Array(100)), QGS_MSG_ERROR.INVALID_PARAMETER],
    ])('should answer %s with a GET_QUOTE_RESP carrying the error code and no quote', async (_what, bytes, code) => {
      const reply = await exchange(bytes);
      const v = new DataView(reply.buffer, reply.byteOffset);
      expect([v.getUint32(0, false), v.getUint32(8, true), v.getUint32(16, true), v.getUint32(24, true)]).toEqual([24, 1, code, 0]);
    });

    it('should answer two requests on one connection in order', async () => {
      const server = new QgsServer((r) => generator.generate(r));
      const sock = server.connectInProcess();
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      const a = buildTdReport({ reportData: new Uint8Array(64).fill(0xaa) });
      const b = buildTdReport({ reportData: new Uint8Array(64).fill(0xbb) });
      sock.write(Buffer.concat([encodeGetQuoteRequest(a), encodeGetQuoteRequest(b)]));
      await vi.waitFor(() => expect(server.stats.quotes).toBe(2));
      await vi.waitFor(() => {
        const all = Buffer.concat(chunks);
        const first = 4 + all.readUInt32BE(0);
        expect(all.length).toBeGreaterThan(first + 4);
        expect(all.length).toBe(first + 4 + all.readUInt32BE(first));
      });
      const all = Buffer.concat(chunks);
      const first = 4 + all.readUInt32BE(0);
      expect(parseDcapQuote(all.subarray(28, first)).body.reportData[0]).toBe(0xaa);
      expect(parseDcapQuote(all.subarray(first + 28)).body.reportData[0]).toBe(0xbb);
      sock.destroy();
    });
  });
});
