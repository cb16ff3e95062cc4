/**
 * Floor loops: the register traffic of one TDVMCALL round trip written by hand, flat, with no
 * framework: two Uint32Array register files (guest GPRs and the host's argument block), a dense
 * array as the leaf table, the exit struct in a Uint32Array, literal offsets (slot i is u32[2i],
 * u32[2i + 1]) and straight-line copies (two small helpers V8 inlines). No layers, no objects, no
 * checks beyond the ones the traffic itself needs. Measured in the same run as the framework
 * paths, so the ratio says what the layers (and their checks) cost.
 */

/** Register-file size in u32 halves: 16 GPRs, RIP, RFLAGS. */
const HALVES = 18 * 2;
/** Linux's TDVMCALL_EXPOSE_REGS_MASK (RDX, RBX, RSI, RDI, R8..R15). */
const EXPOSE = 0xffcc;
/** The kvm_run size the userspace floor writes into (a 2-page mapping is not needed here). */
const KVM_RUN_BYTES = 2352;

/**
 * Module exit: the 12 GPRs of the 0xFFCC bitmap copied guest -> argument block, RBP zeroed,
 * RAX = 77 (TDCALL), RCX = the bitmap; guest RIP advanced past the TDCALL.
 */
function exitCopy(g: Uint32Array, h: Uint32Array, bitmap: number): void {
  h[4] = g[4]!; h[5] = g[5]!; h[6] = g[6]!; h[7] = g[7]!; h[10] = 0; h[11] = 0;
  h[12] = g[12]!; h[13] = g[13]!; h[14] = g[14]!; h[15] = g[15]!; h[16] = g[16]!; h[17] = g[17]!;
  h[18] = g[18]!; h[19] = g[19]!; h[20] = g[20]!; h[21] = g[21]!; h[22] = g[22]!; h[23] = g[23]!;
  h[24] = g[24]!; h[25] = g[25]!; h[26] = g[26]!; h[27] = g[27]!; h[28] = g[28]!; h[29] = g[29]!;
  h[30] = g[30]!; h[31] = g[31]!;
  h[0] = 77; h[1] = 0; h[2] = bitmap; h[3] = 0;
  g[32] = (g[32]! + 4) | 0;
}

/** Module re-entry: the 12 selected GPRs copied back, guest RAX = 0, guest RCX = the bitmap. */
function resumeCopy(g: Uint32Array, h: Uint32Array, bitmap: number): void {
  g[4] = h[4]!; g[5] = h[5]!; g[6] = h[6]!; g[7] = h[7]!;
  g[12] = h[12]!; g[13] = h[13]!; g[14] = h[14]!; g[15] = h[15]!; g[16] = h[16]!; g[17] = h[17]!;
  g[18] = h[18]!; g[19] = h[19]!; g[20] = h[20]!; g[21] = h[21]!; g[22] = h[22]!; g[23] = h[23]!;
  g[24] = h[24]!; g[25] = h[25]!; g[26] = h[26]!; g[27] = h[27]!; g[28] = h[28]!; g[29] = h[29]!;
  g[30] = h[30]!; g[31] = h[31]!;
  g[0] = 0; g[1] = 0; g[2] = bitmap; g[3] = 0;
}

/**
 * Kernel-answered round trip (GetTdVmCallInfo, R12 = 0): the guest writes its arguments, the
 * module checks the TDCALL and copies out, the kernel decodes the exit, finds the leaf in a dense
 * table and answers (R10..R14 = 0), the module copies back.
 * @param ops - round trips per call of the returned loop
 */
export function kernelFloor(ops: number): () => void {
  const g = new Uint32Array(HALVES);
  const h = new Uint32Array(HALVES);
  const leaves = new Uint8Array(256).fill(0);
  leaves[0] = 1; // 0x10000 GetTdVmCallInfo: answered in the kernel
  leaves[2] = 2; // 0x10002 GetQuote: exits to userspace
  return () => {
    for (let n = 0; n < ops; n++) {
      // Guest: RAX = TDG.VP.VMCALL, RCX = bitmap, R10 = 0, R11 = leaf, R12 = 0.
      g[0] = 0; g[1] = 0; g[2] = EXPOSE; g[3] = 0;
      g[20] = 0; g[21] = 0; g[22] = 0x10000; g[23] = 0; g[24] = 0; g[25] = 0;
      // Module: leaf 0 version 0, bitmap valid, then the TD exit.
      if ((g[0]! | g[1]!) !== 0 || g[3] !== 0 || (g[2]! & 0x13) !== 0) continue;
      const bitmap = g[2]!;
      exitCopy(g, h, bitmap);
      // Kernel: TDCALL exit, R10 = 0, a registered standard leaf answered in the kernel.
      const leaf = h[22]!;
      if (h[0] === 77 && (h[20]! | h[21]!) === 0 && h[23] === 0 && leaf >>> 8 === 0x100 && leaves[leaf & 0xff] === 1 && (h[24]! | h[25]!) === 0) {
        h[20] = 0; h[21] = 0; h[22] = 0; h[23] = 0; h[24] = 0; h[25] = 0; h[26] = 0; h[27] = 0; h[28] = 0; h[29] = 0;
      }
      resumeCopy(g, h, bitmap);
    }
  };
}

/**
 * Userspace round trip (GetQuote), with the userspace boundary a real VMM has: a hand-written
 * `kvmRun()` (completion of the last exit, guest, module exit, kernel decode, the leaf's shared-bit
 * check and the KVM_EXIT_TDX struct: exit_reason, zeroed header, nr, ret preset, GPA with the
 * shared bit stripped, size) returns the exit reason to a VMM loop, which reads the struct and
 * writes ret; the next `kvmRun()` puts ret in R10 and copies the GPRs back.
 * @param ops - round trips per call of the returned loop
 */
export function userspaceFloor(ops: number): () => void {
  const g = new Uint32Array(HALVES);
  const h = new Uint32Array(HALVES);
  const run = new Uint32Array(KVM_RUN_BYTES / 4);
  const leaves = new Uint8Array(256).fill(0);
  leaves[0] = 1;
  leaves[2] = 2;
  const SHARED_HI = 0x8000; // shared bit 47 in the high half
  let pending = 0;
  let bitmap = 0;
  const kvmRun = (): number => {
    if (pending === 2) {
      // Completion: R10 = ret, then the module copies the selected GPRs back.
      h[20] = run[12]!; h[21] = run[13]!;
      resumeCopy(g, h, bitmap);
      pending = 0;
    }
    for (;;) {
      g[0] = 0; g[1] = 0; g[2] = EXPOSE; g[3] = 0;
      g[20] = 0; g[21] = 0; g[22] = 0x10002; g[23] = 0;
      g[24] = 0x1000; g[25] = SHARED_HI; g[26] = 4096; g[27] = 0;
      if ((g[0]! | g[1]!) !== 0 || g[3] !== 0 || (g[2]! & 0x13) !== 0) continue;
      bitmap = g[2]!;
      exitCopy(g, h, bitmap);
      const leaf = h[22]!;
      if (h[0] === 77 && (h[20]! | h[21]!) === 0 && h[23] === 0 && leaf >>> 8 === 0x100 && leaves[leaf & 0xff] === 2 && (h[25]! & SHARED_HI) !== 0) {
        // KVM_EXIT_TDX (40): header zeroed, nr = leaf, ret preset SUBFUNC_UNSUPPORTED, gpa, size.
        run[2] = 40; run[8] = 0; run[9] = 0; run[10] = leaf; run[11] = 0;
        run[12] = 3; run[13] = 0x8000_0000; run[14] = h[24]!; run[15] = h[25]! & ~SHARED_HI; run[16] = h[26]!; run[17] = h[27]!;
        pending = 2;
        return 40;
      }
    }
  };
  return () => {
    for (let n = 0; n < ops; n++) {
      // The VMM: a KVM_EXIT_TDX GetQuote, answered SUCCESS (request queued).
      if (kvmRun() === 40 && run[10] === 0x10002) { run[12] = 0; run[13] = 0; }
    }
  };
}
