import { describe, expect, it } from 'vitest';
import { ContainerModule } from 'inversify';
import {
  createVmm, LEAF_EXIT, LEAF_PLUGIN, VcpuEmulation, VcpuRunState, type LeafContext, type LeafPlugin, type VmmEvent,
} from '@seamkit/core';
import { fatalModule } from '@seamkit/plugin-fatal';
import { GetQuoteLeaf, QUOTE_SERVICE, quoteModule, type QuoteService } from '@seamkit/plugin-quote';
import {
  EXIT_REASON_TDCALL, EXIT_REASON_TRIPLE_FAULT, fromGenerator, R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBX, RCX, RDI, RDX, RSI,
  TDVMCALL_EXPOSE_REGS_MASK, type GuestCode, type GuestCpu, type GuestProgram,
} from '@seamkit/seam-cpu';
import { ghci, prepareTdvmcall, TDG_VP_VMCALL } from '@seamkit/tdx-module';
import { kvmModule } from './kvmModule.js';

// One guest, written twice. It records what it sees (R10/R11 values, header words) into its shared
// page at OBS, so "guest-visible results" are compared through guest memory as well.
const BUF = 0x8000; // GetQuote buffer (GPA without the shared bit)
const OBS = 0xa000; // observations, one u64 each
const SYNC_LEAF = 0x20001;
const reportWord = (i: number): number => (0x01020304 * (i + 1)) >>> 0;

/** The ergonomic form: sequential code with the GHCI helpers. */
const generatorGuest: GuestProgram = fromGenerator(function* (cpu) {
  const m = cpu.mem;
  const S = m.sharedBit;
  let k = 0;
  const obs = (v: bigint): void => m.writeU64(S + OBS + 8 * k++, v);

  const i0 = yield* ghci.getTdVmCallInfo(cpu, 0);
  [i0.status, i0.r11, i0.r12, i0.r13, i0.r14].forEach(obs);
  const i1 = yield* ghci.getTdVmCallInfo(cpu, 1);
  obs(i1.status);
  obs(i1.r11);
  obs(yield* ghci.tdvmcall(cpu, 0x12345));
  obs(yield* ghci.kvmHypercall(cpu, 0x99n, 1n, 2n, 3n, 4n));
  obs(yield* ghci.getQuote(cpu, BUF, 0x1000)); // private GPA
  const buf = S + BUF;
  m.writeU64(buf, 1n);
  m.writeU64(buf + 8, 0n);
  m.writeU32(buf + 16, 64);
  m.writeU32(buf + 20, 0);
  for (let i = 0; i < 16; i++) m.writeU32(buf + 24 + 4 * i, reportWord(i));
  obs(yield* ghci.getQuote(cpu, buf, 0x1000));
  obs(m.readU64(buf + 8));
  obs(yield* ghci.tdvmcall(cpu, SYNC_LEAF, { r12: 0x5150n }));
  obs(cpu.regs.get(R11));
  obs(m.readU64(buf + 8));
  obs(BigInt(m.readU32(buf + 20)));
  yield* ghci.reportFatalError(cpu, 0x10000n, 'bye', 0x9000);
});

/** The fast form: a state machine that sets up each TDCALL itself and allocates nothing. */
class StepGuest implements GuestCode {
  #pc = 0;
  #k = 0;

  step(cpu: GuestCpu): number {
    const r = cpu.regs;
    const m = cpu.mem;
    const S = m.sharedBit;
    const buf = S + BUF;
    switch (this.#pc++) {
      case 0: // GetTdVmCallInfo(0)
        this.#args(r, 0, 0);
        return prepareTdvmcall(r, 0x10000);
      case 1: // GetTdVmCallInfo(1)
        for (const reg of [R10, R11, R12, R13, R14]) this.#obs(cpu, reg);
        this.#args(r, 1, 0);
        return prepareTdvmcall(r, 0x10000);
      case 2: // an unknown leaf
        this.#obs(cpu, R10);
        this.#obs(cpu, R11);
        this.#args(r, 0, 0);
        return prepareTdvmcall(r, 0x12345);
      case 3: // a KVM hypercall: R10 = 0x99, args in R11..R14
        this.#obs(cpu, R10);
        r.setHalves(RAX, TDG_VP_VMCALL, 0);
        r.setHalves(RCX, TDVMCALL_EXPOSE_REGS_MASK, 0);
        r.setHalves(R10, 0x99, 0);
        r.setHalves(R11, 1, 0);
        r.setHalves(R12, 2, 0);
        r.setHalves(R13, 3, 0);
        r.setHalves(R14, 4, 0);
        return EXIT_REASON_TDCALL;
      case 4: // GetQuote on a private GPA
        this.#obs(cpu, R10);
        this.#args(r, BUF, 0x1000);
        return prepareTdvmcall(r, 0x10002);
      case 5: // GetQuote on the shared buffer
        this.#obs(cpu, R10);
        m.writeU32(buf, 1);
        m.writeU32(buf + 4, 0);
        m.writeU32(buf + 8, 0);
        m.writeU32(buf + 12, 0);
        m.writeU32(buf + 16, 64);
        m.writeU32(buf + 20, 0);
        for (let i = 0; i < 16; i++) m.writeU32(buf + 24 + 4 * i, reportWord(i));
        this.#args(r, buf, 0x1000);
        return prepareTdvmcall(r, 0x10002);
      case 6: // the VMM's sync leaf
        this.#obs(cpu, R10);
        this.#obsMem(cpu, buf + 8, m.readU32(buf + 12));
        this.#args(r, 0x5150, 0);
        return prepareTdvmcall(r, SYNC_LEAF);
      case 7: { // ReportFatalError(0x10000 | GPA valid, "bye", 0x9000)
        this.#obs(cpu, R10);
        this.#obs(cpu, R11);
        this.#obsMem(cpu, buf + 8, m.readU32(buf + 12));
        this.#obsMem(cpu, buf + 20, 0);
        for (const reg of [R15, RBX, RDI, RSI, R8, R9, RDX]) r.setHalves(reg, 0, 0);
        r.setHalves(R14, 0x657962, 0); // "bye", little-endian
        r.setHalves(R12, 0x10000, 0x8000_0000);
        r.setHalves(R13, 0x9000, 0);
        return prepareTdvmcall(r, 0x10003);
      }
      default:
        return EXIT_REASON_TRIPLE_FAULT;
    }
  }

  /** R12 = a, R13 = b, R14 = R15 = 0 (what ghci.tdvmcall does with missing arguments). */
  #args(r: GuestCpu['regs'], a: number, b: number): void {
    r.setNumber(R12, a);
    r.setNumber(R13, b);
    r.setHalves(R14, 0, 0);
    r.setHalves(R15, 0, 0);
  }

  #obs(cpu: GuestCpu, reg: number): void {
    const at = cpu.mem.sharedBit + OBS + 8 * this.#k++;
    cpu.mem.writeU32(at, cpu.regs.lo(reg));
    cpu.mem.writeU32(at + 4, cpu.regs.hi(reg));
  }

  /** Records a u64 from memory (low word at `gpa`, high word given). */
  #obsMem(cpu: GuestCpu, gpa: number, hi: number): void {
    const at = cpu.mem.sharedBit + OBS + 8 * this.#k++;
    cpu.mem.writeU32(at, cpu.mem.readU32(gpa));
    cpu.mem.writeU32(at + 4, hi);
  }
}
const stepGuest: GuestProgram = () => new StepGuest();

/** A VMM-defined leaf that interrupts the run loop (so the test can await the quote) and echoes R12 + 1 into R11. */
const syncLeaf: LeafPlugin = {
  meta: {
    name: 'test.sync', namespace: 'ghci', leaf: SYNC_LEAF, tdvmcallInfoR11: 1 << 4,
    exit: { reason: 40, key: SYNC_LEAF, layout: { ret: { offset: 48, size: 8 }, arg: { offset: 56, size: 8 }, reply: { offset: 64, size: 8 } } },
  },
  kernel(ctx: LeafContext) {
    ctx.run.setU64Halves(48, 3, 0x8000_0000);
    ctx.run.setU64Halves(56, ctx.regs.lo(R12), ctx.regs.hi(R12));
    ctx.run.setU64Halves(64, 0, 0);
    return LEAF_EXIT;
  },
  complete(ctx: LeafContext) {
    ctx.regs.setHalves(R10, ctx.run.getU64Lo(48), ctx.run.getU64Hi(48));
    ctx.regs.setHalves(R11, ctx.run.getU64Lo(64), ctx.run.getU64Hi(64));
  },
  user(ctx) {
    ctx.run.setU64(48, 0n);
    ctx.run.setU64(64, ctx.run.getU64(56) + 1n);
    return VcpuEmulation.INTERRUPTED;
  },
};

/** A deterministic quote service: "Q" followed by the report reversed. */
const service: QuoteService = {
  getQuote: (report) => Promise.resolve(Uint8Array.from([0x51, ...report.slice().reverse()])),
};

interface Trace {
  readonly exits: { reason: number; header: number[]; union: number[] }[];
  readonly dispatches: [string, number, string | undefined, number][];
  readonly states: VcpuRunState[];
  readonly events: VmmEvent[];
  readonly memory: Uint8Array;
}

async function runGuest(guest: GuestProgram): Promise<Trace> {
  const vmm = createVmm({
    modules: [
      kvmModule(), quoteModule, fatalModule,
      new ContainerModule(({ bind }) => {
        bind(QUOTE_SERVICE).toConstantValue(service);
        bind(LEAF_PLUGIN).toConstantValue(syncLeaf);
      }),
    ],
  });
  const events: VmmEvent[] = [];
  vmm.on((e) => events.push(e));
  const dispatches: Trace['dispatches'] = [];
  const td = vmm.createTd({
    guest,
    memoryBytes: 1 << 20,
    // The GetQuote buffer and the observation page are shared memory.
    sharedMemory: [[BUF, 0x3000]],
    hooks: { onDispatch: (_c, ns, leaf, p, reason) => dispatches.push([ns, leaf, p?.meta.name, reason]) },
  });
  const exits: Trace['exits'] = [];
  const runner = td.runners[0]!;
  runner.onUserExit = (_i, reason, ctx) => {
    exits.push({ reason, header: [...ctx.run.bytes.subarray(8, 12)], union: [...ctx.run.bytes.subarray(32, 288)] });
  };
  const states = [runner.run()];
  await vmm.container.get(GetQuoteLeaf).drain();
  states.push(runner.run());
  const memory = new Uint8Array(0x3000);
  td.memory.read(BUF, memory);
  return { exits, dispatches, states, events, memory };
}

describe('guest forms', () => {
  it('should give identical guest-visible results, memory and exits in the generator form and the step form', async () => {
    const gen = await runGuest(generatorGuest);
    const step = await runGuest(stepGuest);

    // What the guest saw, recorded in its own shared memory.
    const view = new DataView(gen.memory.buffer, OBS - BUF);
    const observed = Array.from({ length: 16 }, (_, i) => view.getBigUint64(8 * i, true));
    expect(observed).toEqual([
      0n, 0n, 0n, 0n, 0n, // GetTdVmCallInfo(0): SUCCESS, R11..R14 = 0
      0n, 0x12n, // GetTdVmCallInfo(1): SUCCESS, R11 = bits of the registered userspace leaves (SetupEventNotifyInterrupt 1, the sync leaf 4)
      0x8000000000000003n, // unknown leaf: SUBFUNC_UNSUPPORTED
      0xfffffffffffffc18n, // unknown KVM hypercall: -KVM_ENOSYS
      0x8000000000000000n, // GetQuote on a private GPA: INVALID_OPERAND
      0n, 0xffffffffffffffffn, // GetQuote queued: SUCCESS, status IN_FLIGHT
      0n, 0x5151n, // sync leaf: ret and the reply in R11
      0n, 65n, // after the VMM awaited the quote: status SUCCESS, out_len
    ]);
    const report = new Uint8Array(64);
    for (let i = 0; i < 16; i++) new DataView(report.buffer).setUint32(4 * i, reportWord(i), true);
    expect(gen.memory.subarray(24, 24 + 65)).toEqual(Uint8Array.from([0x51, ...report.reverse()]));
    expect(gen.memory.subarray(24 + 65, 0x1000).every((b) => b === 0)).toBe(true);

    // exit_reason, then the key: tdx.nr (u64 @40) for KVM_EXIT_TDX, system_event.type and ndata (u32 @32, @36).
    expect(gen.exits.map((e) => {
      const u = new DataView(Uint8Array.from(e.union).buffer);
      return e.reason === 40 ? [e.reason, u.getBigUint64(8, true)] : [e.reason, u.getUint32(0, true), u.getUint32(4, true), u.getBigUint64(8, true)];
    })).toEqual([[40, 0x10000n], [40, 0x10002n], [40, BigInt(SYNC_LEAF)], [24, 7, 16, 77n]]);
    expect(gen.exits.map((e) => new DataView(Uint8Array.from(e.header).buffer).getUint32(0, true))).toEqual([40, 40, 40, 24]);
    expect(gen.states).toEqual([VcpuRunState.PAUSED, VcpuRunState.FINISHED]);
    expect(gen.events).toEqual([{
      type: 'guest-panic', vcpuIndex: 0, errorCode: 0x10000, rawErrorCode: 0x8000_0000_0001_0000n, message: 'bye', gpa: 0x9000, info: new Uint8Array(0),
      log: 'TDX guest reports fatal error. error code: 0x10000 error message:"bye"\nAdditional error information can be found at gpa page: 0x9000',
    }]);

    expect(step.memory).toEqual(gen.memory);
    expect(step.exits).toEqual(gen.exits);
    expect(step.dispatches).toEqual(gen.dispatches);
    expect(step.states).toEqual(gen.states);
    expect(step.events).toEqual(gen.events);
  });
});
