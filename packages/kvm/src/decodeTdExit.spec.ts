import { describe, expect, it } from 'vitest';
import { LEAF_EXIT, LeafDispatcher, LeafRegistry, type LeafPlugin } from '@seamkit/core';
import { R10, R11, RAX, RegisterFile } from '@seamkit/seam-cpu';
import { decodeTdExit } from './decodeTdExit.js';
import { LINUX_EXIT_SHAPES } from './exitShapes.js';
import { KvmRun } from './KvmRun.js';

const CPU = 3;

function setup(plugins: LeafPlugin[] = []): { args: RegisterFile; run: KvmRun; d: LeafDispatcher } {
  const registry = new LeafRegistry(LINUX_EXIT_SHAPES);
  registry.registerAll(plugins);
  registry.freeze();
  const args = new RegisterFile();
  const run = new KvmRun();
  const d = new LeafDispatcher(registry, { regs: args, run, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: 0 }, () => undefined);
  return { args, run, d };
}

describe(decodeTdExit, () => {
  describe('having a TDH.VP.ENTER error status (bit 63 set)', () => {
    it.each([
      ['TDX_OPERAND_INVALID | RCX', 0xc000_0100_0000_0001n],
      ['TDX_OP_STATE_INCORRECT | OP_STATE', 0xc000_0608_0000_00acn],
      ['an error status whose low bits look like an exit reason', 0x8000_0000_0000_004dn],
    ])('should report KVM_EXIT_FAIL_ENTRY (9), exit reason -1 as the failure reason, and the CPU for %s', (_what, status) => {
      const { args, run, d } = setup();
      run.bytes.fill(0xaa);
      args.set(RAX, status);
      expect(decodeTdExit(args, run, d, CPU)).toBe(9);
      expect(run.getU32(8)).toBe(9);
      // tdx_to_vmx_exit_reason() gives -1u for a failed SEAMCALL; KVM reports exit_reason.full.
      expect(run.getU64(32)).toBe(0xffff_ffffn); // fail_entry.hardware_entry_failure_reason
      expect(run.getU32(40)).toBe(CPU); // fail_entry.cpu
    });

    it.each([
      ['TDX_SEAMCALL_VMFAILINVALID', 0x8000_ff00_ffff_0000n],
      ['TDX_SEAMCALL_UD', 0x8000_ff00_0000_0006n],
      ['TDX_SEAMCALL_GP', 0x8000_ff00_0000_000dn],
    ])('should report a Linux software error (%s) as KVM_EXIT_INTERNAL_ERROR with the status in data[0]', (_what, status) => {
      const { args, run, d } = setup();
      args.set(RAX, status);
      expect(decodeTdExit(args, run, d, CPU)).toBe(17);
      expect([run.internalSuberror, run.internalNdata, run.internalData(0), run.internalData(1)]).toEqual([4, 2, status, BigInt(CPU)]);
    });

    it('should report a failed VM entry (exit reason bit 31) with a success status as KVM_EXIT_FAIL_ENTRY', () => {
      const { args, run, d } = setup();
      args.set(RAX, 0x8000_0021n); // EXIT_REASON_INVALID_STATE | FAILED_VMENTRY
      expect(decodeTdExit(args, run, d, CPU)).toBe(9);
      expect(run.getU64(32)).toBe(0x8000_0021n);
    });

    it('should not dispatch a TDCALL when the status failed, even with R10/R11 looking like a TDVMCALL', () => {
      let calls = 0;
      const { args, run, d } = setup([{ meta: { name: 'x', namespace: 'ghci', leaf: 0x10002 }, kernel: () => { calls++; return 0; } }]);
      args.set(RAX, (1n << 63n) | 77n);
      args.set(R11, 0x10002n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(9);
      expect(calls).toBe(0);
      expect(args.get(R10)).toBe(0n);
    });

    it('should report a non-recoverable TD exit other than a triple fault as KVM_EXIT_INTERNAL_ERROR', () => {
      const { args, run, d } = setup();
      args.set(RAX, 0x6000_0002_0000_004dn); // TDX_NON_RECOVERABLE_TD with exit reason TDCALL
      expect(decodeTdExit(args, run, d, CPU)).toBe(17);
      expect(run.internalData(0)).toBe(0x6000_0002_0000_004dn);
    });
  });

  describe('having an external interrupt (1) or other SMI (6)', () => {
    it.each([[1n], [6n]])('should re-enter the guest without an exit (reason %s)', (status) => {
      const { args, run, d } = setup();
      run.setU32(8, 0x55);
      args.set(RAX, status);
      expect(decodeTdExit(args, run, d, CPU)).toBe(0);
      expect(run.getU32(8)).toBe(0x55);
    });
  });

  describe('having a triple fault (basic exit reason 2)', () => {
    it('should report KVM_EXIT_SHUTDOWN (8)', () => {
      const { args, run, d } = setup();
      args.set(RAX, 2n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(8);
      expect(run.exitReason).toBe(8);
    });

    it('should report KVM_EXIT_SHUTDOWN for a non-recoverable status (bit 62) with a triple fault, as KVM does', () => {
      const { args, run, d } = setup();
      args.set(RAX, 0x4000_0001_0000_0002n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(8);
    });
  });

  describe('having an exit reason KVM does not expect', () => {
    it.each([
      ['EPT violation (48)', 48n],
      ['EXCEPTION_NMI (0)', 0n],
      ['an unknown reason 0xffff', 0xffffn],
    ])('should report KVM_EXIT_INTERNAL_ERROR (17), suberror 4, ndata 2, data = [vp_enter_ret, cpu] for %s', (_what, status) => {
      const { args, run, d } = setup();
      run.bytes.fill(0xaa);
      args.set(RAX, status);
      expect(decodeTdExit(args, run, d, CPU)).toBe(17);
      expect(run.getU32(8)).toBe(17);
      expect(run.getU32(32)).toBe(4);
      expect(run.getU32(36)).toBe(2);
      expect(run.getU64(40)).toBe(status);
      expect(run.getU64(48)).toBe(BigInt(CPU));
      expect([run.internalSuberror, run.internalNdata, run.internalData(0), run.internalData(1)]).toEqual([4, 2, status, BigInt(CPU)]);
    });
  });

  describe('having a TDCALL exit (77)', () => {
    it('should send R10 = 0 through the leaf registry (unregistered: SUBFUNC_UNSUPPORTED, resume)', () => {
      const { args, run, d } = setup();
      run.setU32(8, 0x55);
      args.set(RAX, 77n);
      args.set(R10, 0n);
      args.set(R11, 0x10002n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(0);
      expect(args.get(R10)).toBe(0x8000000000000003n);
      expect(run.getU32(8)).toBe(0x55);
    });

    it('should return the exit reason of a registered leaf that exits', () => {
      const p: LeafPlugin = { meta: { name: 'q', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: {} } }, kernel: () => LEAF_EXIT };
      const { args, run, d } = setup([p]);
      args.set(RAX, 77n);
      args.set(R11, 0x10002n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(40);
      expect(run.tdxNr).toBe(0x10002);
    });

    it('should send R10 != 0 down the KVM hypercall path: -KVM_ENOSYS, not a GHCI status', () => {
      const { args, run, d } = setup([{ meta: { name: 'g', namespace: 'ghci', leaf: 0x10002 }, kernel: () => 0 }]);
      args.set(RAX, 77n);
      args.set(R10, 0x10002n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(0);
      expect(args.get(R10)).toBe(0xfffffffffffffc18n);
    });

    it('should look only at the low 16 bits for the basic exit reason', () => {
      const { args, run, d } = setup();
      args.set(RAX, 0x0000_0000_1234_004dn);
      args.set(R11, 0x777n);
      expect(decodeTdExit(args, run, d, CPU)).toBe(0);
      expect(args.get(R10)).toBe(0x8000000000000003n);
    });
  });
});
