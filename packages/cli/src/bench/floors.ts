/**
 * Floor loops: a hand-written model of the whole TDVMCALL path with the same register traffic
 * and no framework. The four pieces of code the real path has stay separate pieces of code, as
 * they are on hardware: the guest's step, the TDX module's TDH.VP.ENTER, KVM's run loop and the
 * leaf handler. Everything else is as flat as hand-written code gets: two Uint32Array register
 * files (guest GPRs and the host's argument block), a dense array of handlers as the leaf table,
 * the exit struct in a Uint32Array, literal offsets (slot i is u32[2i], u32[2i + 1]),
 * straight-line copies, and only the checks the traffic itself needs. Measured in the same run
 * as the framework paths, so the ratio says what seamkit's layers and checks cost on top.
 */

/** Register-file size in u32 halves: 16 GPRs, RIP, RFLAGS. */
const HALVES = 18 * 2;
/** Linux's TDVMCALL_EXPOSE_REGS_MASK (RDX, RBX, RSI, RDI, R8..R15). */
const EXPOSE = 0xffcc;
/** The kvm_run size the userspace floor writes into. */
const KVM_RUN_BYTES = 2352;
/** Shared bit 47 in the high half of a GPA. */
const SHARED_HI = 0x8000;

/** A leaf handler: answers in the argument block (0) or fills the exit struct (exit reason). */
type Handler = (h: Uint32Array, run: Uint32Array) => number;

/** The model of one vCPU: guest registers, argument block, kvm_run, its guest and leaf table. */
interface Model {
  readonly g: Uint32Array;
  readonly h: Uint32Array;
  readonly run: Uint32Array;
  readonly step: (g: Uint32Array) => number;
  readonly leaves: (Handler | undefined)[];
  /** Bitmap of the TDVMCALL the guest is in (copy back on the next entry), 0 if none. */
  bitmap: number;
}

function model(step: (g: Uint32Array) => number): Model {
  const leaves: (Handler | undefined)[] = new Array<Handler | undefined>(256).fill(undefined);
  // GetTdVmCallInfo (0x10000): R12 = 0 answered in the kernel, R10..R14 = 0.
  leaves[0] = (h) => {
    if ((h[24]! | h[25]!) !== 0) return -1;
    h[20] = 0; h[21] = 0; h[22] = 0; h[23] = 0; h[24] = 0; h[25] = 0; h[26] = 0; h[27] = 0; h[28] = 0; h[29] = 0;
    return 0;
  };
  // GetQuote (0x10002): a shared GPA in R12, KVM_EXIT_TDX (40) with header, nr, ret preset
  // SUBFUNC_UNSUPPORTED, GPA with the shared bit stripped, size.
  leaves[2] = (h, run) => {
    if ((h[25]! & SHARED_HI) === 0) return -1;
    run[2] = 40; run[8] = 0; run[9] = 0; run[10] = h[22]!; run[11] = 0;
    run[12] = 3; run[13] = 0x8000_0000; run[14] = h[24]!; run[15] = h[25]! & ~SHARED_HI; run[16] = h[26]!; run[17] = h[27]!;
    return 40;
  };
  return { g: new Uint32Array(HALVES), h: new Uint32Array(HALVES), run: new Uint32Array(KVM_RUN_BYTES / 4), step, leaves, bitmap: 0 };
}

/**
 * TDH.VP.ENTER: copy the selected GPRs back (RAX = 0, RCX = bitmap) if the vCPU is in a
 * TDVMCALL, run the guest to its TDCALL, check it (leaf 0, bitmap) and exit: the 12 GPRs of the
 * 0xFFCC bitmap copied out, RBP zeroed, RAX = 77, RCX = the bitmap, RIP advanced.
 */
function vpEnter(m: Model): void {
  const g = m.g;
  const h = m.h;
  const b = m.bitmap;
  if (b !== 0) {
    g[4] = h[4]!; g[5] = h[5]!; g[6] = h[6]!; g[7] = h[7]!;
    g[12] = h[12]!; g[13] = h[13]!; g[14] = h[14]!; g[15] = h[15]!; g[16] = h[16]!; g[17] = h[17]!;
    g[18] = h[18]!; g[19] = h[19]!; g[20] = h[20]!; g[21] = h[21]!; g[22] = h[22]!; g[23] = h[23]!;
    g[24] = h[24]!; g[25] = h[25]!; g[26] = h[26]!; g[27] = h[27]!; g[28] = h[28]!; g[29] = h[29]!;
    g[30] = h[30]!; g[31] = h[31]!;
    g[0] = 0; g[1] = 0; g[2] = b; g[3] = 0;
    m.bitmap = 0;
  }
  for (;;) {
    m.step(g);
    const bitmap = g[2]!;
    if ((g[0]! | g[1]!) !== 0 || g[3] !== 0 || (bitmap & 0x13) !== 0 || bitmap !== EXPOSE) continue;
    h[4] = g[4]!; h[5] = g[5]!; h[6] = g[6]!; h[7] = g[7]!; h[10] = 0; h[11] = 0;
    h[12] = g[12]!; h[13] = g[13]!; h[14] = g[14]!; h[15] = g[15]!; h[16] = g[16]!; h[17] = g[17]!;
    h[18] = g[18]!; h[19] = g[19]!; h[20] = g[20]!; h[21] = g[21]!; h[22] = g[22]!; h[23] = g[23]!;
    h[24] = g[24]!; h[25] = g[25]!; h[26] = g[26]!; h[27] = g[27]!; h[28] = g[28]!; h[29] = g[29]!;
    h[30] = g[30]!; h[31] = g[31]!;
    h[0] = 77; h[1] = 0; h[2] = bitmap; h[3] = 0;
    g[32] = (g[32]! + 4) | 0;
    m.bitmap = bitmap;
    return;
  }
}

/**
 * KVM_RUN: the completion of the last userspace exit (R10 = ret), then enter, decode the TDCALL
 * exit, find the leaf and run it; in-kernel answers loop, an exit returns its reason.
 */
function kvmRun(m: Model, pending: boolean, limit: number): number {
  const h = m.h;
  if (pending) { h[20] = m.run[12]!; h[21] = m.run[13]!; }
  for (let n = 0; n < limit; n++) {
    vpEnter(m);
    const leaf = h[22]!;
    if (h[0] !== 77 || (h[20]! | h[21]!) !== 0 || h[23] !== 0 || leaf >>> 8 !== 0x100) return -1;
    const handler = m.leaves[leaf & 0xff];
    if (handler === undefined) { h[20] = 3; h[21] = 0x8000_0000; continue; }
    const reason = handler(h, m.run);
    if (reason > 0) return reason;
    if (reason < 0) { h[20] = 0; h[21] = 0x8000_0000; }
  }
  return 0;
}

/**
 * Kernel-answered round trips (GetTdVmCallInfo, R12 = 0): one KVM_RUN that runs `ops` of them.
 * @param ops - round trips per call of the returned loop
 */
export function kernelFloor(ops: number): () => void {
  const m = model((g) => {
    // Guest: R12 = 0, RAX = TDG.VP.VMCALL, RCX = bitmap, R10 = 0, R11 = leaf.
    g[24] = 0; g[25] = 0;
    g[0] = 0; g[1] = 0; g[2] = EXPOSE; g[3] = 0; g[20] = 0; g[21] = 0; g[22] = 0x10000; g[23] = 0;
    return 77;
  });
  return () => {
    kvmRun(m, false, ops);
  };
}

/**
 * Userspace round trips (GetQuote): per op one KVM_RUN that completes the last exit, runs the
 * guest to its next GetQuote and returns KVM_EXIT_TDX; the VMM reads the struct and writes ret.
 * @param ops - round trips per call of the returned loop
 */
export function userspaceFloor(ops: number): () => void {
  const m = model((g) => {
    g[24] = 0x1000; g[25] = SHARED_HI; g[26] = 4096; g[27] = 0;
    g[0] = 0; g[1] = 0; g[2] = EXPOSE; g[3] = 0; g[20] = 0; g[21] = 0; g[22] = 0x10002; g[23] = 0;
    return 77;
  });
  let pending = false;
  return () => {
    const run = m.run;
    for (let n = 0; n < ops; n++) {
      // The VMM: a KVM_EXIT_TDX GetQuote, answered SUCCESS (request queued).
      if (kvmRun(m, pending, 1) === 40 && run[10] === 0x10002) { run[12] = 0; run[13] = 0; }
      pending = true;
    }
  };
}
