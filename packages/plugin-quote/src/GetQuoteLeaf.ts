import { inject, injectable, optional } from 'inversify';
import { LEAF_EXIT, LEAF_RESUME, VcpuEmulation, type LeafContext, type LeafPlugin, type UserExitContext } from '@seamkit/core';
import { KVM_EXIT_TDX, KVM_RUN_LAYOUT as L } from '@seamkit/kvm/uapi';
import {
  R10, R12, R13, TDVMCALL_GET_QUOTE, TDVMCALL_STATUS_ALIGN_ERROR, TDVMCALL_STATUS_ERROR_HI, TDVMCALL_STATUS_INVALID_OPERAND,
  TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_RETRY, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, TDVMCALL_STATUS_SUCCESS,
} from '@seamkit/seam-cpu';
import * as Q from './abi/getQuote.js';
import { QUOTE_SERVICE, type QuoteService } from './QuoteService.js';

const RET = L['tdx.get_quote.ret'].offset;
const GPA = L['tdx.get_quote.gpa'].offset;
const SIZE = L['tdx.get_quote.size'].offset;

/**
 * GetQuote (0x10002).
 *
 * Kernel half (Linux 6.16 `tdx_get_quote`): a GPA without the shared bit gets INVALID_OPERAND in
 * the kernel; otherwise KVM_EXIT_TDX with nr 0x10002 and get_quote {ret preset
 * SUBFUNC_UNSUPPORTED, gpa with the shared bit stripped, size}. Completion: R10 = ret.
 *
 * Userspace half (QEMU 10.1 `tdx_handle_get_quote`), checks in QEMU's order: size 0
 * (INVALID_OPERAND); GPA or size not 4 KiB aligned (ALIGN_ERROR); header unreadable, version
 * != 1, size > 128 KiB or in_len > size - 24 (INVALID_OPERAND); no quote service: status
 * SERVICE_UNAVAILABLE in the header, ret SUCCESS; 16 requests in flight: RETRY; otherwise status
 * IN_FLIGHT and ret SUCCESS, and the quote is produced asynchronously: written at offset 24,
 * out_len set, and the final status written last (ERROR on failure or after 30 s).
 */
@injectable()
export class GetQuoteLeaf implements LeafPlugin {
  /** {@inheritDoc @seamkit/core!LeafPlugin.meta} */
  readonly meta = {
    name: 'tdx.get-quote',
    namespace: 'ghci',
    leaf: TDVMCALL_GET_QUOTE,
    exit: {
      reason: KVM_EXIT_TDX,
      key: TDVMCALL_GET_QUOTE,
      layout: {
        /** `tdx.get_quote.ret`: the TDVMCALL status for R10 (preset SUBFUNC_UNSUPPORTED). */
        ret: L['tdx.get_quote.ret'],
        /** `tdx.get_quote.gpa`: the shared buffer's GPA, shared bit stripped. */
        gpa: L['tdx.get_quote.gpa'],
        /** `tdx.get_quote.size`: the buffer size in bytes (R13). */
        size: L['tdx.get_quote.size'],
      },
    },
  } as const;

  /** Requests being served. */
  inFlight = 0;
  readonly #service: QuoteService | undefined;
  readonly #pending = new Set<Promise<void>>();

  /** @param service - the quote generation service, if any */
  constructor(@inject(QUOTE_SERVICE) @optional() service?: QuoteService) {
    this.#service = service;
  }

  /** Kernel half: shared-bit check, then the exit with `ret` preset. */
  kernel(ctx: LeafContext): number {
    const r = ctx.regs;
    const bitHi = ctx.sharedBit / 0x1_0000_0000;
    const hi = r.hi(R12);
    if ((hi & bitHi) === 0) {
      r.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return LEAF_RESUME;
    }
    const run = ctx.run;
    run.setU64Halves(RET, TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, TDVMCALL_STATUS_ERROR_HI);
    run.setU64Halves(GPA, r.lo(R12), hi & ~bitHi);
    run.setU64Halves(SIZE, r.lo(R13), r.hi(R13));
    return LEAF_EXIT;
  }

  /** Completion: R10 = ret. */
  complete(ctx: LeafContext): void {
    ctx.regs.setHalves(R10, ctx.run.getU64Lo(RET), ctx.run.getU64Hi(RET));
  }

  /** Userspace half: QEMU's checks, then queue the request. */
  user(ctx: UserExitContext): number {
    const run = ctx.run;
    run.setU64(RET, this.#handle(ctx, run.getU64(GPA), run.getU64(SIZE)));
    return VcpuEmulation.HANDLED;
  }

  /** Resolves when every request queued so far has completed (for tests and orderly shutdown). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  #handle(ctx: UserExitContext, gpaBig: bigint, sizeBig: bigint): bigint {
    if (sizeBig === 0n) return TDVMCALL_STATUS_INVALID_OPERAND;
    if ((gpaBig & 0xfffn) !== 0n || (sizeBig & 0xfffn) !== 0n) return TDVMCALL_STATUS_ALIGN_ERROR;
    if (sizeBig > BigInt(Q.GET_QUOTE_MAX_BUF_LEN) || gpaBig > BigInt(Number.MAX_SAFE_INTEGER)) return TDVMCALL_STATUS_INVALID_OPERAND;
    const gpa = Number(gpaBig);
    const size = Number(sizeBig);
    const hdr = new Uint8Array(Q.GET_QUOTE_HDR_SIZE);
    if (!ctx.memory.contains(gpa, size)) return TDVMCALL_STATUS_INVALID_OPERAND;
    ctx.memory.read(gpa, hdr);
    const v = new DataView(hdr.buffer);
    if (v.getBigUint64(Q.GET_QUOTE_HDR_VERSION, true) !== Q.GET_QUOTE_CMD_VER) return TDVMCALL_STATUS_INVALID_OPERAND;
    const inLen = v.getUint32(Q.GET_QUOTE_HDR_IN_LEN, true);
    if (inLen > size - Q.GET_QUOTE_HDR_SIZE) return TDVMCALL_STATUS_INVALID_OPERAND;
    const service = this.#service;
    if (service === undefined) {
      writeStatus(ctx, gpa, Q.GET_QUOTE_SERVICE_UNAVAILABLE);
      return TDVMCALL_STATUS_SUCCESS;
    }
    if (this.inFlight >= Q.GET_QUOTE_MAX_IN_FLIGHT) return TDVMCALL_STATUS_RETRY;
    const report = new Uint8Array(inLen);
    ctx.memory.read(gpa + Q.GET_QUOTE_HDR_SIZE, report);
    writeStatus(ctx, gpa, Q.GET_QUOTE_IN_FLIGHT);
    this.inFlight++;
    const p = this.#serve(ctx, service, gpa, size, report).finally(() => {
      this.inFlight--;
      this.#pending.delete(p);
    });
    this.#pending.add(p);
    return TDVMCALL_STATUS_SUCCESS;
  }

  async #serve(ctx: UserExitContext, service: QuoteService, gpa: number, size: number, report: Uint8Array): Promise<void> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('GetQuote timed out')), Q.GET_QUOTE_TIMEOUT_MS);
    let status = Q.GET_QUOTE_ERROR;
    try {
      const quote = await Promise.race([
        service.getQuote(report, abort.signal),
        new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error))),
      ]);
      if (quote.length <= size - Q.GET_QUOTE_HDR_SIZE) {
        ctx.memory.write(gpa + Q.GET_QUOTE_HDR_SIZE, quote);
        const len = new Uint8Array(4);
        new DataView(len.buffer).setUint32(0, quote.length, true);
        ctx.memory.write(gpa + Q.GET_QUOTE_HDR_OUT_LEN, len);
        status = Q.GET_QUOTE_SUCCESS;
      }
    } catch {
      status = Q.GET_QUOTE_ERROR;
    } finally {
      clearTimeout(timer);
    }
    // The status is written last, so the guest sees the payload before it sees completion.
    writeStatus(ctx, gpa, status);
  }
}

function writeStatus(ctx: UserExitContext, gpa: number, status: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, status, true);
  ctx.memory.write(gpa + Q.GET_QUOTE_HDR_STATUS, b);
}

