import { afterEach, describe, expect, it, vi } from 'vitest';
import { Container } from 'inversify';
import {
  ExitBuffer, LeafDispatcher, LeafRegistry, VcpuEmulation, type ExitShape, type SharedMemory, type UserExitContext,
} from '@seamkit/core';
import { R10, R12, R13, RegisterFile } from '@seamkit/seam-cpu';
import { quoteError } from './errors.js';
import { EventNotifier, type KvmMsi, type MsiInjector } from './EventNotifier.js';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';
import { quoteModule } from './quoteModule.js';
import { QUOTE_SERVICE, type QuoteRequestOptions, type QuoteService } from './QuoteService.js';

// Reference values (kvm-tdx-abi.md 1.1, 1.6, 3).
const SUCCESS = 0n;
const RETRY = 1n;
const INVALID_OPERAND = 0x8000000000000000n;
const ALIGN_ERROR = 0x8000000000000002n;
const SUBFUNC_UNSUPPORTED = 0x8000000000000003n;
const STATUS_IN_FLIGHT = 0xffffffffffffffffn;
const STATUS_ERROR = 0x8000000000000000n;
const STATUS_UNAVAILABLE = 0x8000000000000001n;
const TDX_SHAPE: ExitShape = { reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 };

/** 1 MiB of guest memory at GPA 0 as userspace maps it, logging every write. */
class Memory implements SharedMemory {
  readonly bytes = new Uint8Array(1 << 20);
  readonly view = new DataView(this.bytes.buffer);
  readonly writes: { gpa: number; bytes: number[] }[] = [];
  contains(gpa: number, length: number): boolean {
    return gpa >= 0 && gpa + length <= this.bytes.length;
  }
  read(gpa: number, dst: Uint8Array): void {
    if (!this.contains(gpa, dst.length)) throw new Error(`read outside memory at ${gpa}`);
    dst.set(this.bytes.subarray(gpa, gpa + dst.length));
  }
  write(gpa: number, src: Uint8Array): void {
    if (!this.contains(gpa, src.length)) throw new Error(`write outside memory at ${gpa}`);
    this.bytes.set(src, gpa);
    this.writes.push({ gpa, bytes: [...src] });
  }
  /** Writes a GetQuote header: version, status, in_len, out_len, and a report pattern after it. */
  header(gpa: number, { version = 1n, status = 0n, inLen = 1024, outLen = 0 } = {}): void {
    this.view.setBigUint64(gpa, version, true);
    this.view.setBigUint64(gpa + 8, status, true);
    this.view.setUint32(gpa + 16, inLen, true);
    this.view.setUint32(gpa + 20, outLen, true);
    for (let i = 0; i < Math.min(inLen, 4096); i++) this.bytes[gpa + 24 + i] = (i * 7 + 1) & 0xff;
    this.writes.length = 0;
  }
  status(gpa: number): bigint {
    return this.view.getBigUint64(gpa + 8, true);
  }
  outLen(gpa: number): number {
    return this.view.getUint32(gpa + 20, true);
  }
}

/** A quote service under test control: each request waits until the test settles it. */
class ControlledService implements QuoteService {
  readonly requests: {
    report: Uint8Array; signal: AbortSignal; options: QuoteRequestOptions | undefined; resolve: (q: Uint8Array) => void; reject: (e: Error) => void;
  }[] = [];
  getQuote(report: Uint8Array, signal: AbortSignal, options?: QuoteRequestOptions): Promise<Uint8Array> {
    return new Promise((resolve, reject) => this.requests.push({ report: report.slice(), signal, options, resolve, reject }));
  }
}

function userCtx(memory: SharedMemory, run = new ExitBuffer()): UserExitContext {
  const registry = new LeafRegistry([TDX_SHAPE]);
  return { run, vcpuIndex: 0, memory, emit: () => undefined, registry };
}

/** Plays KVM's exit for (gpa, size) and runs the userspace half; returns the `ret` it leaves. */
function userspace(leaf: GetQuoteLeaf, ctx: UserExitContext, gpa: bigint, size: bigint): bigint {
  ctx.run.setU64(48, SUBFUNC_UNSUPPORTED);
  ctx.run.setU64(56, gpa);
  ctx.run.setU64(64, size);
  expect(leaf.user(ctx)).toBe(VcpuEmulation.HANDLED);
  return ctx.run.getU64(48);
}

describe(GetQuoteLeaf, () => {
  it('should declare GetQuote (0x10002) exiting with KVM_EXIT_TDX keyed by 0x10002, fields ret@48 gpa@56 size@64', () => {
    const { meta } = new GetQuoteLeaf();
    expect(meta).toMatchObject({ name: 'tdx.get-quote', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002 } });
    expect(meta.exit.layout).toEqual({ ret: { offset: 48, size: 8 }, gpa: { offset: 56, size: 8 }, size: { offset: 64, size: 8 } });
    expect('tdvmcallInfoR11' in meta).toBe(false); // GetQuote is a base call: R11 bit 0 is reserved
  });

  describe('kernel half', () => {
    function kernelBed(gpaw: 48 | 52 = 48): { regs: RegisterFile; run: ExitBuffer; d: LeafDispatcher } {
      const registry = new LeafRegistry([TDX_SHAPE]);
      registry.register(new GetQuoteLeaf());
      registry.freeze();
      const regs = new RegisterFile();
      const run = new ExitBuffer();
      const d = new LeafDispatcher(registry, { regs, run, sharedBit: 2 ** (gpaw - 1), gpaw, vcpuIndex: 0 }, () => undefined);
      return { regs, run, d };
    }
    const issue = (regs: RegisterFile, gpa: bigint, size: bigint): void => {
      regs.set(R10, 0n);
      regs.set(11, 0x10002n);
      regs.set(R12, gpa);
      regs.set(R13, size);
    };

    it.each([
      ['a private GPA', 0x1000n],
      ['GPA 0', 0n],
      ['a GPA with only bit 46 set', 1n << 46n],
    ])('should answer %s with INVALID_OPERAND in the kernel, without an exit', (_what, gpa) => {
      const { regs, run, d } = kernelBed();
      run.bytes.fill(0x5a);
      issue(regs, gpa, 0x1000n);
      expect(d.dispatch()).toBe(0);
      expect(regs.get(R10)).toBe(INVALID_OPERAND);
      expect(run.bytes.every((b) => b === 0x5a)).toBe(true);
    });

    it('should exit for a shared GPA: nr 0x10002 @40, ret preset SUBFUNC_UNSUPPORTED @48, gpa without the shared bit @56, size @64', () => {
      const { regs, run, d } = kernelBed();
      run.bytes.fill(0x5a);
      issue(regs, (1n << 47n) | 0x2000n, 0x3000n);
      expect(d.dispatch()).toBe(40);
      expect(run.getU32(8)).toBe(40);
      expect(run.getU64(32)).toBe(0n);
      expect(run.getU64(40)).toBe(0x10002n);
      expect(run.getU64(48)).toBe(0x8000000000000003n);
      expect(run.getU64(56)).toBe(0x2000n);
      expect(run.getU64(64)).toBe(0x3000n);
      expect(run.bytes[72]).toBe(0x5a);
      expect(regs.get(R10)).toBe(0n);
    });

    it('should leave size checks to userspace (size 0 and odd sizes still exit, size passed through)', () => {
      const { regs, run, d } = kernelBed();
      issue(regs, (1n << 47n) | 0x1001n, 0x1_0000_0007n);
      expect(d.dispatch()).toBe(40);
      expect(run.getU64(56)).toBe(0x1001n);
      expect(run.getU64(64)).toBe(0x1_0000_0007n);
    });

    it('should use bit 51 as the shared bit with GPAW 52 and strip only that bit', () => {
      const { regs, run, d } = kernelBed(52);
      issue(regs, (1n << 47n) | 0x1000n, 0x1000n);
      expect(d.dispatch()).toBe(0);
      expect(regs.get(R10)).toBe(INVALID_OPERAND);
      issue(regs, (1n << 51n) | (1n << 47n) | 0x1000n, 0x1000n);
      expect(d.dispatch()).toBe(40);
      expect(run.getU64(56)).toBe((1n << 47n) | 0x1000n);
    });

    it('should complete with R10 = ret, and SUBFUNC_UNSUPPORTED if userspace ignored the exit', () => {
      const { regs, run, d } = kernelBed();
      issue(regs, (1n << 47n) | 0x1000n, 0x1000n);
      d.dispatch();
      d.complete();
      expect(regs.get(R10)).toBe(SUBFUNC_UNSUPPORTED);
      issue(regs, (1n << 47n) | 0x1000n, 0x1000n);
      d.dispatch();
      run.setU64(48, RETRY);
      d.complete();
      expect(regs.get(R10)).toBe(RETRY);
    });
  });

  describe('userspace half (QEMU tdx_handle_get_quote)', () => {
    describe('having a request QEMU rejects', () => {
      it.each([
        ['size 0 (checked before alignment)', 0x1001n, 0n, {}, INVALID_OPERAND],
        ['an unaligned GPA', 0x1008n, 0x1000n, {}, ALIGN_ERROR],
        ['an unaligned size', 0x1000n, 0x1800n, {}, ALIGN_ERROR],
        ['an unaligned GPA with a bad header (alignment checked before the header)', 0x1010n, 0x1000n, { version: 2n }, ALIGN_ERROR],
        ['version 0', 0x1000n, 0x1000n, { version: 0n }, INVALID_OPERAND],
        ['version 2', 0x1000n, 0x1000n, { version: 2n }, INVALID_OPERAND],
        ['a buffer over 128 KiB', 0x1000n, 0x21000n, {}, INVALID_OPERAND],
        ['in_len > size - 24', 0x1000n, 0x1000n, { inLen: 4096 - 24 + 1 }, INVALID_OPERAND],
        ['a buffer outside guest memory', 0x200000n, 0x1000n, {}, INVALID_OPERAND],
        ['a GPA above 2^53', 1n << 60n, 0x1000n, {}, INVALID_OPERAND],
      ])('should answer %s with the status QEMU gives, and leave the header alone', (_what, gpa, size, hdr, expected) => {
        const mem = new Memory();
        const base = Number(gpa & ~0xfffn) % mem.bytes.length;
        mem.header(base, hdr);
        const service = new ControlledService();
        const leaf = new GetQuoteLeaf(service);
        expect(userspace(leaf, userCtx(mem), gpa, size)).toBe(expected);
        expect(mem.writes).toEqual([]);
        expect(service.requests).toEqual([]);
        expect(leaf.inFlight).toBe(0);
      });
    });

    describe('having no quote service', () => {
      it.each([
        ['a 4 KiB buffer', 0x1000n],
        ['the largest buffer QEMU accepts (128 KiB)', 0x20000n],
      ])('should write status SERVICE_UNAVAILABLE and return SUCCESS for %s', (_what, size) => {
        const mem = new Memory();
        mem.header(0x3000, { inLen: 1024 });
        const ret = userspace(new GetQuoteLeaf(), userCtx(mem), 0x3000n, size);
        expect(ret).toBe(SUCCESS);
        expect(mem.status(0x3000)).toBe(STATUS_UNAVAILABLE);
        expect(mem.view.getBigUint64(0x3000, true)).toBe(1n);
        expect(mem.view.getUint32(0x3000 + 16, true)).toBe(1024);
        expect(mem.outLen(0x3000)).toBe(0);
      });

      it('should accept in_len = size - 24 exactly', () => {
        const mem = new Memory();
        mem.header(0x1000, { inLen: 4096 - 24 });
        expect(userspace(new GetQuoteLeaf(), userCtx(mem), 0x1000n, 0x1000n)).toBe(SUCCESS);
        expect(mem.status(0x1000)).toBe(STATUS_UNAVAILABLE);
      });

      it('should be what DI builds from quoteModule alone', () => {
        const c = new Container();
        c.load(quoteModule);
        const leaf = c.get(GetQuoteLeaf);
        const mem = new Memory();
        mem.header(0x1000);
        expect(userspace(leaf, userCtx(mem), 0x1000n, 0x1000n)).toBe(SUCCESS);
        expect(mem.status(0x1000)).toBe(STATUS_UNAVAILABLE);
      });
    });

    describe('having a quote service', () => {
      it('should mark the request IN_FLIGHT, return SUCCESS, and later write the quote, out_len, then status SUCCESS', async () => {
        const mem = new Memory();
        mem.header(0x4000, { inLen: 1024 });
        const expectedReport = mem.bytes.slice(0x4000 + 24, 0x4000 + 24 + 1024);
        const service = new ControlledService();
        const leaf = new GetQuoteLeaf(service);
        expect(userspace(leaf, userCtx(mem), 0x4000n, 0x2000n)).toBe(SUCCESS);
        expect(mem.status(0x4000)).toBe(STATUS_IN_FLIGHT);
        expect(leaf.inFlight).toBe(1);
        expect(service.requests).toHaveLength(1);
        expect(service.requests[0]!.report).toEqual(expectedReport);
        mem.writes.length = 0;

        const quote = Uint8Array.from({ length: 700 }, (_, i) => (i * 13) & 0xff);
        service.requests[0]!.resolve(quote);
        await leaf.drain();
        expect(mem.bytes.subarray(0x4000 + 24, 0x4000 + 24 + 700)).toEqual(quote);
        expect(mem.outLen(0x4000)).toBe(700);
        expect(mem.status(0x4000)).toBe(SUCCESS);
        expect(leaf.inFlight).toBe(0);
        expect(service.requests[0]!.options).toEqual({ capacity: 0x2000 - 24 });
        // The quote, then the header as QEMU read it with out_len set, the status word last, so a
        // polling guest never sees SUCCESS before the quote and out_len.
        expect(mem.writes.map((w) => [w.gpa, w.bytes.length])).toEqual([[0x4000 + 24, 700], [0x4000 + 16, 8], [0x4000, 8], [0x4000 + 8, 8]]);
        expect(mem.view.getUint32(0x4000 + 16, true)).toBe(1024); // in_len as the guest wrote it
      });

      it('should accept a quote that exactly fills the buffer after the header', async () => {
        const mem = new Memory();
        mem.header(0x1000, { inLen: 16 });
        const service = new ControlledService();
        const leaf = new GetQuoteLeaf(service);
        userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
        service.requests[0]!.resolve(new Uint8Array(4096 - 24).fill(9));
        await leaf.drain();
        expect(mem.status(0x1000)).toBe(SUCCESS);
        expect(mem.outLen(0x1000)).toBe(4072);
      });

      it.each([
        ['a service that rejects', (s: ControlledService) => s.requests[0]!.reject(new Error('QGS down'))],
        ['a quote larger than the buffer', (s: ControlledService) => s.requests[0]!.resolve(new Uint8Array(4096 - 24 + 1))],
      ])('should write status ERROR for %s, and no quote or out_len', async (_what, settle) => {
        const mem = new Memory();
        mem.header(0x1000, { inLen: 64 });
        const service = new ControlledService();
        const leaf = new GetQuoteLeaf(service);
        userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
        const payload = mem.bytes.slice(0x1000 + 24, 0x2000);
        mem.writes.length = 0;
        settle(service);
        await leaf.drain();
        expect(mem.status(0x1000)).toBe(STATUS_ERROR);
        expect(mem.outLen(0x1000)).toBe(0);
        expect(mem.bytes.slice(0x1000 + 24, 0x2000)).toEqual(payload);
        expect(mem.writes.map((w) => w.gpa)).toEqual([0x1000 + 16, 0x1000, 0x1000 + 8]); // header only, status last
        expect(leaf.inFlight).toBe(0);
      });

      it('should write status ERROR for a service that throws synchronously, and still return SUCCESS', async () => {
        const mem = new Memory();
        mem.header(0x1000);
        const leaf = new GetQuoteLeaf({ getQuote: () => { throw new Error('sync'); } });
        expect(userspace(leaf, userCtx(mem), 0x1000n, 0x1000n)).toBe(SUCCESS);
        await leaf.drain();
        expect(mem.status(0x1000)).toBe(STATUS_ERROR);
      });

      it('should answer the 17th concurrent request with RETRY and leave its buffer alone', async () => {
        const mem = new Memory();
        const service = new ControlledService();
        const leaf = new GetQuoteLeaf(service);
        const ctx = userCtx(mem);
        for (let i = 0; i < 17; i++) mem.header(0x1000 * (i + 1), { inLen: 32 });
        const rets = Array.from({ length: 17 }, (_, i) => userspace(leaf, ctx, BigInt(0x1000 * (i + 1)), 0x1000n));
        expect(rets.slice(0, 16)).toEqual(Array(16).fill(SUCCESS));
        expect(rets[16]).toBe(RETRY);
        expect(leaf.inFlight).toBe(16);
        expect(service.requests).toHaveLength(16);
        expect(mem.status(0x1000 * 17)).toBe(0n);
        expect(mem.status(0x1000 * 16)).toBe(STATUS_IN_FLIGHT);

        service.requests[3]!.resolve(Uint8Array.of(1, 2, 3));
        await vi.waitFor(() => expect(leaf.inFlight).toBe(15));
        expect(mem.status(0x4000)).toBe(SUCCESS);
        // A slot is free again: the guest's retry is accepted.
        expect(userspace(leaf, ctx, BigInt(0x1000 * 17), 0x1000n)).toBe(SUCCESS);
        expect(mem.status(0x1000 * 17)).toBe(STATUS_IN_FLIGHT);
        for (const r of service.requests) r.resolve(new Uint8Array(8));
        await leaf.drain();
        expect(leaf.inFlight).toBe(0);
      });

      describe('when the service does not answer', () => {
        afterEach(() => {
          vi.useRealTimers();
        });

        it('should give up after 30 s with status ERROR and abort the request', async () => {
          vi.useFakeTimers();
          const mem = new Memory();
          mem.header(0x1000);
          const service = new ControlledService();
          const leaf = new GetQuoteLeaf(service);
          userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
          await vi.advanceTimersByTimeAsync(29_999);
          expect(mem.status(0x1000)).toBe(STATUS_IN_FLIGHT);
          expect(service.requests[0]!.signal.aborted).toBe(false);
          expect(leaf.inFlight).toBe(1);
          await vi.advanceTimersByTimeAsync(1);
          await leaf.drain();
          expect(mem.status(0x1000)).toBe(STATUS_ERROR);
          expect(service.requests[0]!.signal.aborted).toBe(true);
          expect(leaf.inFlight).toBe(0);
          // A late answer changes nothing.
          service.requests[0]!.resolve(new Uint8Array(8).fill(1));
          await Promise.resolve();
          expect(mem.status(0x1000)).toBe(STATUS_ERROR);
          expect(mem.outLen(0x1000)).toBe(0);
        });

        it('should not time out a request answered in time', async () => {
          vi.useFakeTimers();
          const mem = new Memory();
          mem.header(0x1000);
          const service = new ControlledService();
          const leaf = new GetQuoteLeaf(service);
          userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
          await vi.advanceTimersByTimeAsync(10_000);
          service.requests[0]!.resolve(Uint8Array.of(7));
          await leaf.drain();
          await vi.advanceTimersByTimeAsync(60_000);
          expect(mem.status(0x1000)).toBe(SUCCESS);
          expect(vi.getTimerCount()).toBe(0);
        });
      });

      it('should be injected by DI through QUOTE_SERVICE', async () => {
        const c = new Container();
        const service = new ControlledService();
        c.bind(QUOTE_SERVICE).toConstantValue(service);
        c.load(quoteModule);
        const leaf = c.get(GetQuoteLeaf);
        const mem = new Memory();
        mem.header(0x1000);
        userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
        expect(service.requests).toHaveLength(1);
        service.requests[0]!.resolve(Uint8Array.of(1));
        await leaf.drain();
        expect(mem.status(0x1000)).toBe(SUCCESS);
      });
    });
  });

  describe('QEMU details', () => {
    it('should count the 16-request limit per TD (QEMU keeps it in the TdxGuest): a second TD still gets 16', async () => {
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service);
      const a = new Memory();
      const b = new Memory();
      const ctxA = userCtx(a);
      const ctxB = userCtx(b);
      for (let i = 0; i < 17; i++) {
        a.header(0x1000 * (i + 1), { inLen: 16 });
        b.header(0x1000 * (i + 1), { inLen: 16 });
      }
      const retsA = Array.from({ length: 17 }, (_, i) => userspace(leaf, ctxA, BigInt(0x1000 * (i + 1)), 0x1000n));
      const retsB = Array.from({ length: 17 }, (_, i) => userspace(leaf, ctxB, BigInt(0x1000 * (i + 1)), 0x1000n));
      expect(retsA).toEqual([...Array(16).fill(SUCCESS), RETRY]);
      expect(retsB).toEqual([...Array(16).fill(SUCCESS), RETRY]);
      expect([leaf.inFlightFor(a), leaf.inFlightFor(b), leaf.inFlight]).toEqual([16, 16, 32]);
      for (const r of service.requests) r.resolve(Uint8Array.of(1));
      await leaf.drain();
      expect([leaf.inFlightFor(a), leaf.inFlightFor(b), leaf.inFlight]).toEqual([0, 0, 0]);
    });

    it('should check RETRY before reading the request, and the missing service before RETRY (QEMU order)', () => {
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service);
      const mem = new Memory();
      const ctx = userCtx(mem);
      for (let i = 0; i < 16; i++) {
        mem.header(0x1000 * (i + 1), { inLen: 8 });
        userspace(leaf, ctx, BigInt(0x1000 * (i + 1)), 0x1000n);
      }
      // A request whose in_len bytes lie outside memory: RETRY comes first while 16 are in flight.
      const last = mem.bytes.length - 0x1000;
      mem.header(last, { inLen: 0x1000 });
      expect(userspace(leaf, ctx, BigInt(last), 0x2000n)).toBe(RETRY);
      // Without a service the same buffer gets SERVICE_UNAVAILABLE: that check comes before RETRY
      // and before the request is read.
      expect(userspace(new GetQuoteLeaf(), ctx, BigInt(last), 0x2000n)).toBe(SUCCESS);
      expect(mem.status(last)).toBe(STATUS_UNAVAILABLE);
    });

    it('should need only the 24-byte header in memory to accept a request, then in_len bytes at gpa + 24', async () => {
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service);
      const mem = new Memory();
      const ctx = userCtx(mem);
      const last = mem.bytes.length - 0x1000; // the buffer claims 8 KiB, memory ends 4 KiB in
      mem.header(last, { inLen: 0x1000 });
      expect(userspace(leaf, ctx, BigInt(last), 0x2000n)).toBe(INVALID_OPERAND); // request bytes not in memory
      expect(mem.writes).toEqual([]);
      expect(leaf.inFlight).toBe(0); // QEMU leaks its counter here; the model does not

      mem.header(last, { inLen: 64 });
      expect(userspace(leaf, ctx, BigInt(last), 0x2000n)).toBe(SUCCESS);
      expect(mem.status(last)).toBe(STATUS_IN_FLIGHT);
      // A quote that fits the 8 KiB buffer but not guest memory: QEMU's write fails, so out_len
      // stays as it was and the status is still SUCCESS. Nothing is written outside memory.
      service.requests[0]!.resolve(new Uint8Array(0x1000 + 100).fill(7));
      await leaf.drain();
      expect(mem.status(last)).toBe(SUCCESS);
      expect(mem.outLen(last)).toBe(0);
      expect(mem.writes.every((w) => w.gpa + w.bytes.length <= mem.bytes.length)).toBe(true);
    });

    it('should write back the header QEMU read at request time (the guest\'s later edits are overwritten)', async () => {
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service);
      const mem = new Memory();
      mem.header(0x1000, { inLen: 100 });
      userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
      mem.view.setBigUint64(0x1000, 9n, true);
      mem.view.setUint32(0x1000 + 16, 5, true);
      service.requests[0]!.resolve(Uint8Array.of(1, 2, 3));
      await leaf.drain();
      expect([mem.view.getBigUint64(0x1000, true), mem.view.getUint32(0x1000 + 16, true), mem.outLen(0x1000), mem.status(0x1000)]).toEqual([1n, 100, 3, SUCCESS]);
    });

    it('should write status SERVICE_UNAVAILABLE when the service cannot be reached (QEMU: connect failed)', async () => {
      const mem = new Memory();
      mem.header(0x1000);
      const leaf = new GetQuoteLeaf({ getQuote: () => Promise.reject(quoteError('SEAMKIT_ERR_QGS_UNAVAILABLE', ['/nowhere', 'ENOENT'])) });
      expect(userspace(leaf, userCtx(mem), 0x1000n, 0x1000n)).toBe(SUCCESS);
      expect(mem.status(0x1000)).toBe(STATUS_IN_FLIGHT);
      await leaf.drain();
      expect(mem.status(0x1000)).toBe(STATUS_UNAVAILABLE);
      expect(mem.outLen(0x1000)).toBe(0);
    });

    it('should write status ERROR when the service resolves with something that is not bytes', async () => {
      const mem = new Memory();
      mem.header(0x1000);
      const leaf = new GetQuoteLeaf({ getQuote: () => Promise.resolve('quote' as unknown as Uint8Array) });
      userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
      await leaf.drain();
      expect(mem.status(0x1000)).toBe(STATUS_ERROR);
    });
  });

  describe('notification (SetupEventNotifyInterrupt)', () => {
    class Injector implements MsiInjector {
      readonly msis: { td: SharedMemory; msi: KvmMsi; status: bigint }[] = [];
      fail = false;
      signalMsi(td: SharedMemory, msi: KvmMsi): void {
        if (this.fail) throw new Error('KVM_SIGNAL_MSI failed');
        this.msis.push({ td, msi, status: (td as Memory).status(0x1000) });
      }
    }

    it.each([
      ['SUCCESS', (r: ControlledService['requests'][number]) => r.resolve(Uint8Array.of(5)), SUCCESS],
      ['ERROR', (r: ControlledService['requests'][number]) => r.reject(new Error('x')), STATUS_ERROR],
    ])('should inject the TD\'s vector as a fixed MSI to the registered APIC ID after writing status %s', async (_what, settle, final) => {
      const injector = new Injector();
      const notifier = new EventNotifier(injector);
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service, notifier);
      const mem = new Memory();
      notifier.register(mem, 0x51, 3);
      mem.header(0x1000);
      userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
      expect(injector.msis).toEqual([]);
      settle(service.requests[0]!);
      await leaf.drain();
      expect(injector.msis).toEqual([{ td: mem, msi: { addressLo: 3 << 12, addressHi: 0, data: 0x51, flags: 0, devid: 0 }, status: final }]);
      expect(notifier.injected).toBe(1);
    });

    it('should inject nothing for a TD that registered no vector, and only into the TD that did', async () => {
      const injector = new Injector();
      const notifier = new EventNotifier(injector);
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service, notifier);
      const a = new Memory();
      const b = new Memory();
      notifier.register(b, 0x40, 0);
      a.header(0x1000);
      b.header(0x1000);
      userspace(leaf, userCtx(a), 0x1000n, 0x1000n);
      service.requests[0]!.resolve(Uint8Array.of(1));
      await leaf.drain();
      expect(injector.msis).toEqual([]);
      userspace(leaf, userCtx(b), 0x1000n, 0x1000n);
      service.requests[1]!.resolve(Uint8Array.of(1));
      await leaf.drain();
      expect(injector.msis.map((m) => m.td)).toEqual([b]);
    });

    it('should count a failed injection as lost and still complete the request (QEMU only logs it)', async () => {
      const injector = new Injector();
      injector.fail = true;
      const notifier = new EventNotifier(injector);
      const service = new ControlledService();
      const leaf = new GetQuoteLeaf(service, notifier);
      const mem = new Memory();
      notifier.register(mem, 0x40, 0);
      mem.header(0x1000);
      userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
      service.requests[0]!.resolve(Uint8Array.of(1));
      await leaf.drain();
      expect(mem.status(0x1000)).toBe(SUCCESS);
      expect([notifier.injected, notifier.lost]).toEqual([0, 1]);
    });

    it('should notify on the 30 s timeout too', async () => {
      vi.useFakeTimers();
      try {
        const injector = new Injector();
        const notifier = new EventNotifier(injector);
        const leaf = new GetQuoteLeaf(new ControlledService(), notifier);
        const mem = new Memory();
        notifier.register(mem, 0x80, 1);
        mem.header(0x1000);
        userspace(leaf, userCtx(mem), 0x1000n, 0x1000n);
        await vi.advanceTimersByTimeAsync(30_000);
        await leaf.drain();
        expect(injector.msis.map((m) => [m.msi.data, m.status])).toEqual([[0x80, STATUS_ERROR]]);
      } finally {
        vi.useRealTimers();
      }
    });
  });

  describe('.drain', () => {
    it('should resolve at once with nothing in flight', async () => {
      await expect(new GetQuoteLeaf().drain()).resolves.toBeUndefined();
    });
  });
});
