import { CpuFault, RegisterFile, type LogicalProcessor } from '@seamkit/seam-cpu';
import { R10, R11, R8, R9, RAX, RCX, RDX, RFLAGS, RFLAGS_CF } from '@seamkit/seam-cpu/abi';
import { TDX_SEAMCALL_GP, TDX_SEAMCALL_UD, TDX_SEAMCALL_VMFAILINVALID } from '../abi/status.js';

/** The GPRs `__seamcall` and `__seamcall_ret` pass: RCX, RDX, R8, R9, R10, R11. */
const SHORT_ARGS = [RCX, RDX, R8, R9, R10, R11] as const;

const scratch = new WeakMap<LogicalProcessor, RegisterFile>();

function execute(lp: LogicalProcessor, fn: number, regs: RegisterFile): void {
  // fn is leaf | version << 16: it fits the low half.
  const u = regs.u32;
  u[RAX * 2] = fn;
  u[RAX * 2 + 1] = 0;
  u[RFLAGS * 2] = u[RFLAGS * 2]! & ~RFLAGS_CF;
  try {
    lp.seamcall(regs);
  } catch (err) {
    // Linux's exception-table fixup: #UD / #GP on SEAMCALL become software status codes.
    if (err instanceof CpuFault) {
      regs.set(RAX, err.isUD ? TDX_SEAMCALL_UD : TDX_SEAMCALL_GP);
      return;
    }
    throw err;
  }
  if ((regs.u32[RFLAGS * 2]! & RFLAGS_CF) !== 0) regs.set(RAX, TDX_SEAMCALL_VMFAILINVALID);
}

function scratchFor(lp: LogicalProcessor): RegisterFile {
  let s = scratch.get(lp);
  if (s === undefined) {
    s = new RegisterFile();
    scratch.set(lp, s);
  }
  return s;
}

/**
 * `__seamcall`: SEAMCALL leaf `fn` with RCX, RDX, R8..R11 taken from `args`; returns RAX (the
 * completion status). `args` is not updated. VMfailInvalid returns TDX_SEAMCALL_VMFAILINVALID;
 * a #UD or #GP returns TDX_SEAMCALL_UD / TDX_SEAMCALL_GP, as Linux does.
 */
export function seamcall(lp: LogicalProcessor, fn: number, args: RegisterFile): bigint {
  const s = scratchFor(lp);
  s.clear();
  for (const i of SHORT_ARGS) s.setHalves(i, args.lo(i), args.hi(i));
  execute(lp, fn, s);
  return s.get(RAX);
}

/**
 * `__seamcall_ret`: like {@link seamcall}, and RCX, RDX, R8..R11 are written back to `args`.
 */
export function seamcallRet(lp: LogicalProcessor, fn: number, args: RegisterFile): bigint {
  const s = scratchFor(lp);
  s.clear();
  for (const i of SHORT_ARGS) s.setHalves(i, args.lo(i), args.hi(i));
  execute(lp, fn, s);
  for (const i of SHORT_ARGS) args.setHalves(i, s.lo(i), s.hi(i));
  return s.get(RAX);
}

/**
 * `__seamcall_saved_ret`: SEAMCALL with all 13 `tdx_module_args` registers of `args`, and all
 * 13 written back. `args` itself becomes the LP's register file for the call: nothing is copied,
 * which is how KVM hands its per-vCPU block to TDH.VP.ENTER. The status is left in `args` RAX
 * (read it as `args.lo(RAX)` / `args.hi(RAX)` on hot paths; no BigInt is created here).
 */
export function seamcallSavedRet(lp: LogicalProcessor, fn: number, args: RegisterFile): void {
  execute(lp, fn, args);
}
