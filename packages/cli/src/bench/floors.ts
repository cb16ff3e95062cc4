/**
 * Floor loops: the same register traffic as a TDVMCALL round trip, written by hand with no
 * framework (two flat Uint32Array register files, a Map lookup for the leaf, the exit struct
 * in a Uint32Array). Measured in the same run as the framework paths, so the ratio between
 * them says what the framework costs.
 */

const GPRS = 18 * 2;
const EXPOSE = 0xffcc;

/** Kernel-answered round trip: guest sets up, module exposes, kernel answers, module copies back. */
export function kernelFloor(ops: number): () => void {
  const guest = new Uint32Array(GPRS);
  const host = new Uint32Array(GPRS);
  const leaves = new Map<number, number>([[0x10000, 1], [0x10002, 2], [0x10003, 3]]);
  return () => {
    for (let n = 0; n < ops; n++) {
      // guest: RAX = 0 (VP.VMCALL), RCX = bitmap, R10 = 0, R11 = leaf, R12 = 0
      guest[0] = 0; guest[1] = 0; guest[2] = EXPOSE; guest[3] = 0;
      guest[20] = 0; guest[21] = 0; guest[22] = 0x10000; guest[23] = 0; guest[24] = 0; guest[25] = 0;
      // module: validate bitmap, expose selected, zero the rest, RAX = 77
      const bitmap = guest[2]!;
      if ((bitmap & 0x33) !== 0) continue;
      for (let i = 2; i < 16; i++) {
        if (i === 4 || i === 5) continue;
        if ((bitmap >>> i) & 1) { host[i * 2] = guest[i * 2]!; host[i * 2 + 1] = guest[i * 2 + 1]!; } else { host[i * 2] = 0; host[i * 2 + 1] = 0; }
      }
      host[0] = 77; host[1] = 0; host[2] = bitmap; host[3] = 0;
      // kernel: decode, look up, answer (R10 = 0, R11..R14 = 0)
      if ((host[0]! & 0xffff) === 77 && (host[20]! | host[21]!) === 0 && leaves.get(host[22]!) === 1) {
        for (let i = 20; i < 30; i++) host[i] = 0;
      }
      // module resume: copy selected back, RAX = 0, RCX = bitmap
      for (let i = 2; i < 16; i++) {
        if ((bitmap >>> i) & 1) { guest[i * 2] = host[i * 2]!; guest[i * 2 + 1] = host[i * 2 + 1]!; }
      }
      guest[0] = 0; guest[1] = 0;
      guest[2] = bitmap; guest[3] = 0;
    }
  };
}

/** Userspace round trip: as above, plus the exit struct written, a userspace reply, and the completion. */
export function userspaceFloor(ops: number): () => void {
  const guest = new Uint32Array(GPRS);
  const host = new Uint32Array(GPRS);
  const run = new Uint32Array(2352 / 4);
  const leaves = new Map<number, number>([[0x10000, 1], [0x10002, 2], [0x10003, 3]]);
  const SHARED_HI = 0x8000;
  return () => {
    for (let n = 0; n < ops; n++) {
      guest[0] = 0; guest[1] = 0; guest[2] = EXPOSE; guest[3] = 0;
      guest[20] = 0; guest[21] = 0; guest[22] = 0x10002; guest[23] = 0;
      guest[24] = 0x1000; guest[25] = SHARED_HI; guest[26] = 4096; guest[27] = 0;
      const bitmap = guest[2]!;
      if ((bitmap & 0x33) !== 0) continue;
      for (let i = 2; i < 16; i++) {
        if (i === 4 || i === 5) continue;
        if ((bitmap >>> i) & 1) { host[i * 2] = guest[i * 2]!; host[i * 2 + 1] = guest[i * 2 + 1]!; } else { host[i * 2] = 0; host[i * 2 + 1] = 0; }
      }
      host[0] = 77; host[1] = 0; host[2] = bitmap; host[3] = 0;
      if ((host[0]! & 0xffff) === 77 && (host[20]! | host[21]!) === 0 && leaves.get(host[22]!) === 2 && (host[25]! & SHARED_HI) !== 0) {
        // exit struct: exit_reason, flags, nr, ret preset, gpa (shared bit stripped), size
        run[2] = 40; run[8] = 0; run[9] = 0; run[10] = host[22]!; run[11] = 0;
        run[12] = 3; run[13] = 0x8000_0000; run[14] = host[24]!; run[15] = host[25]! & ~SHARED_HI; run[16] = host[26]!; run[17] = host[27]!;
      }
      // userspace: look at the exit, reply ret = SUCCESS
      if (run[2] === 40 && run[10] === 0x10002) { run[12] = 0; run[13] = 0; }
      // completion: R10 = ret
      host[20] = run[12]!; host[21] = run[13]!;
      for (let i = 2; i < 16; i++) {
        if ((bitmap >>> i) & 1) { guest[i * 2] = host[i * 2]!; guest[i * 2 + 1] = host[i * 2 + 1]!; }
      }
      guest[0] = 0; guest[1] = 0; guest[2] = bitmap; guest[3] = 0;
    }
  };
}
