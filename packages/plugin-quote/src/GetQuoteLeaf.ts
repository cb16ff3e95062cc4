import { inject, injectable, optional } from 'inversify';
import {
  LEAF_EXIT, LEAF_RESUME, VcpuEmulation, type LeafContext, type LeafPlugin, type SharedMemory, type UserExitContext,
} from '@seamkit/core';
import { KVM_EXIT_TDX, KVM_RUN_LAYOUT as L } from '@seamkit/kvm/uapi';
import { SeamkitError } from '@seamkit/seam-cpu';
import {
  R10, R12, R13, TDVMCALL_GET_QUOTE, TDVMCALL_STATUS_ALIGN_ERROR, TDVMCALL_STATUS_ERROR_HI,
  TDVMCALL_STATUS_INVALID_OPERAND, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_RETRY,
  TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO, TDVMCALL_STATUS_SUCCESS,
} from '@seamkit/seam-cpu/abi';
import * as Q from './abi/getQuote.js';
import { EventNotifier } from './EventNotifier.js';
import { QUOTE_SERVICE, type QuoteService } from './QuoteService.js';

const RET = L['tdx.get_quote.ret'].offset;
const GPA = L['tdx.get_quote.gpa'].offset;
const SIZE = L['tdx.get_quote.size'].offset;
/** The same fields as indexes into the exit buffer's u32 view. */
const RET_U32 = RET >>> 2;
const GPA_U32 = GPA >>> 2;
const SIZE_U32 = SIZE >>> 2;

/** Per-TD GetQuote state (QEMU keeps `num` in the TdxGuest). */
interface TdQuotes {
  inFlight: number;
}

/**
 * GetQuote (0x10002).
 *
 * Kernel half (Linux 6.16 `tdx_get_quote`): a GPA without the shared bit gets INVALID_OPERAND in
 * the kernel; otherwise KVM_EXIT_TDX with nr 0x10002 and get_quote {ret preset
 * SUBFUNC_UNSUPPORTED, gpa with the shared bit stripped, size}. Completion: R10 = ret.
 *
 * Userspace half (QEMU 10.1 `tdx_handle_get_quote`), checks in QEMU's order: size 0
 * (INVALID_OPERAND); GPA or size not 4 KiB aligned (ALIGN_ERROR); the 24-byte header not in
 * guest memory, version != 1, size > 128 KiB or in_len > size - 24 (INVALID_OPERAND); no quote
 * service: status SERVICE_UNAVAILABLE in the header, ret SUCCESS; 16 requests of this TD in
 * flight: RETRY; the in_len request bytes at gpa + 24 not in guest memory (INVALID_OPERAND);
 * otherwise status IN_FLIGHT and ret SUCCESS ("queued").
 *
 * Completion, asynchronously (QEMU `tdx_get_quote_completion`): on success the quote at
 * gpa + 24 and out_len; then the header QEMU read at request time is written back with the final
 * status (SUCCESS, ERROR, or SERVICE_UNAVAILABLE when the service could not be reached; ERROR
 * after 30 s), the status word last, so a polling guest sees the payload first; then the TD's
 * SetupEventNotifyInterrupt vector, if any, is injected as an MSI.
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

  /** The per-TD SetupEventNotifyInterrupt registrations this leaf notifies on completion. */
  readonly notifier: EventNotifier;
  readonly #service: QuoteService | undefined;
  readonly #tds = new WeakMap<SharedMemory, TdQuotes>();
  readonly #pending = new Set<Promise<void>>();
  #inFlight = 0;

  /**
   * @param service - the quote generation service, if any
   * @param notifier - the SetupEventNotifyInterrupt state (shared with that leaf)
   */
  constructor(
    @inject(QUOTE_SERVICE) @optional() service?: QuoteService,
    @inject(EventNotifier) @optional() notifier?: EventNotifier,
  ) {
    this.#service = service;
    this.notifier = notifier ?? new EventNotifier();
  }

  /** Requests being served, all TDs together. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests of one TD being served (the QEMU limit of 16 applies to this number). */
  inFlightFor(td: SharedMemory): number {
    return this.#tds.get(td)?.inFlight ?? 0;
  }

  /** Kernel half: shared-bit check, then the exit with `ret` preset. */
  kernel(ctx: LeafContext): number {
    // Register halves and exit fields through the u32 views (slot i is u32[2i], u32[2i + 1]).
    const g = ctx.regs.u32;
    // The shared bit (2^(gpaw - 1)) in the high half of a GPA: an integer shift, no division.
    const bitHi = 1 << (ctx.gpaw - 33);
    const hi = g[R12 * 2 + 1]!;
    if ((hi & bitHi) === 0) {
      ctx.regs.setHalves(R10, TDVMCALL_STATUS_INVALID_OPERAND_LO, TDVMCALL_STATUS_ERROR_HI);
      return LEAF_RESUME;
    }
    const e = ctx.run.u32;
    e[RET_U32] = TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED_LO;
    e[RET_U32 + 1] = TDVMCALL_STATUS_ERROR_HI;
    e[GPA_U32] = g[R12 * 2]!;
    e[GPA_U32 + 1] = hi & ~bitHi;
    e[SIZE_U32] = g[R13 * 2]!;
    e[SIZE_U32 + 1] = g[R13 * 2 + 1]!;
    return LEAF_EXIT;
  }

  /** Completion: R10 = ret. */
  complete(ctx: LeafContext): void {
    const e = ctx.run.u32;
    const g = ctx.regs.u32;
    g[R10 * 2] = e[RET_U32]!;
    g[R10 * 2 + 1] = e[RET_U32 + 1]!;
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
    // QEMU presets ret = INVALID_OPERAND; every early return below keeps it.
    if (sizeBig === 0n) return TDVMCALL_STATUS_INVALID_OPERAND;
    if ((gpaBig & 0xfffn) !== 0n || (sizeBig & 0xfffn) !== 0n) return TDVMCALL_STATUS_ALIGN_ERROR;
    const memory = ctx.memory;
    // address_space_read of the 24-byte header only.
    if (gpaBig > BigInt(Number.MAX_SAFE_INTEGER - Q.GET_QUOTE_HDR_SIZE)) return TDVMCALL_STATUS_INVALID_OPERAND;
    const gpa = Number(gpaBig);
    if (!memory.contains(gpa, Q.GET_QUOTE_HDR_SIZE)) return TDVMCALL_STATUS_INVALID_OPERAND;
    const hdr = new Uint8Array(Q.GET_QUOTE_HDR_SIZE);
    memory.read(gpa, hdr);
    const v = new DataView(hdr.buffer);
    if (v.getBigUint64(Q.GET_QUOTE_HDR_VERSION, true) !== Q.GET_QUOTE_CMD_VER) return TDVMCALL_STATUS_INVALID_OPERAND;
    const inLen = v.getUint32(Q.GET_QUOTE_HDR_IN_LEN, true);
    if (sizeBig > BigInt(Q.GET_QUOTE_MAX_BUF_LEN) || BigInt(inLen) > sizeBig - BigInt(Q.GET_QUOTE_HDR_SIZE)) {
      return TDVMCALL_STATUS_INVALID_OPERAND;
    }
    const size = Number(sizeBig);
    const service = this.#service;
    if (service === undefined) {
      v.setBigUint64(Q.GET_QUOTE_HDR_STATUS, Q.GET_QUOTE_SERVICE_UNAVAILABLE, true);
      memory.write(gpa, hdr);
      return TDVMCALL_STATUS_SUCCESS;
    }
    let td = this.#tds.get(memory);
    if (td === undefined) {
      td = { inFlight: 0 };
      this.#tds.set(memory, td);
    }
    if (td.inFlight >= Q.GET_QUOTE_MAX_IN_FLIGHT) return TDVMCALL_STATUS_RETRY;
    // The request: in_len bytes at gpa + 24.
    const payload = gpa + Q.GET_QUOTE_HDR_SIZE;
    if (!memory.contains(payload, inLen)) return TDVMCALL_STATUS_INVALID_OPERAND;
    const report = new Uint8Array(inLen);
    memory.read(payload, report);
    v.setBigUint64(Q.GET_QUOTE_HDR_STATUS, Q.GET_QUOTE_IN_FLIGHT, true);
    memory.write(gpa, hdr);
    td.inFlight++;
    this.#inFlight++;
    const p = this.#serve(ctx, td, service, gpa, size, hdr, report).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
    return TDVMCALL_STATUS_SUCCESS;
  }

  async #serve(
    ctx: UserExitContext, td: TdQuotes, service: QuoteService, gpa: number, size: number, hdr: Uint8Array, report: Uint8Array,
  ): Promise<void> {
    const capacity = size - Q.GET_QUOTE_HDR_SIZE;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`GetQuote timed out after ${Q.GET_QUOTE_TIMEOUT_MS} ms`)), Q.GET_QUOTE_TIMEOUT_MS);
    let status = Q.GET_QUOTE_ERROR;
    let quote: Uint8Array | undefined;
    try {
      const answer = await Promise.race([
        service.getQuote(report, abort.signal, { capacity }),
        new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true })),
      ]);
      if (answer instanceof Uint8Array && answer.length <= capacity) {
        quote = answer;
        status = Q.GET_QUOTE_SUCCESS;
      }
    } catch (err) {
      status = SeamkitError.is(err) && err.code === 'SEAMKIT_ERR_QGS_UNAVAILABLE' ? Q.GET_QUOTE_SERVICE_UNAVAILABLE : Q.GET_QUOTE_ERROR;
    } finally {
      clearTimeout(timer);
      if (!abort.signal.aborted) abort.abort(new Error('GetQuote completed'));
    }
    // Maintain the number of in-flight requests first, as QEMU does.
    td.inFlight--;
    this.#inFlight--;
    const memory = ctx.memory;
    const v = new DataView(hdr.buffer, hdr.byteOffset, hdr.byteLength);
    try {
      if (quote !== undefined && memory.contains(gpa + Q.GET_QUOTE_HDR_SIZE, quote.length)) {
        memory.write(gpa + Q.GET_QUOTE_HDR_SIZE, quote);
        v.setUint32(Q.GET_QUOTE_HDR_OUT_LEN, quote.length, true);
      }
      v.setBigUint64(Q.GET_QUOTE_HDR_STATUS, status, true);
      // The header goes back as QEMU read it, with out_len and the status; the status word last
      // (QEMU: smp_wmb before the header write), so a polling guest never sees a final status
      // before the quote and out_len.
      if (memory.contains(gpa, Q.GET_QUOTE_HDR_SIZE)) {
        memory.write(gpa + Q.GET_QUOTE_HDR_IN_LEN, hdr.subarray(Q.GET_QUOTE_HDR_IN_LEN, Q.GET_QUOTE_HDR_SIZE));
        memory.write(gpa + Q.GET_QUOTE_HDR_VERSION, hdr.subarray(Q.GET_QUOTE_HDR_VERSION, Q.GET_QUOTE_HDR_STATUS));
        memory.write(gpa + Q.GET_QUOTE_HDR_STATUS, hdr.subarray(Q.GET_QUOTE_HDR_STATUS, Q.GET_QUOTE_HDR_IN_LEN));
      }
    } catch (error) {
      // A memslot vanished under the request: QEMU logs "failed to update GetQuote header".
      ctx.emit({ type: 'plugin-error', plugin: this.meta.name, half: 'user', error });
    }
    this.notifier.notify(memory);
  }
}
