import { describe, expect, it } from 'vitest';
import { Container } from 'inversify';
import {
  ExitBuffer, LEAF_PLUGIN, LeafDispatcher, LeafRegistry, VcpuEmulation, type ExitShape, type SharedMemory, type UserExitContext, type VmmEvent,
} from '@seamkit/core';
import { TestMemory } from '@seamkit/core/testing';
import { R10, R12, RegisterFile } from '@seamkit/seam-cpu';
import { fatalModule } from './fatalModule.js';
import { ReportFatalErrorLeaf, type TdxGuestPanicEvent } from './ReportFatalErrorLeaf.js';

const SYSTEM_EVENT_SHAPE: ExitShape = { reason: 24, name: 'KVM_EXIT_SYSTEM_EVENT', headerEnd: 36, keyOffset: 32, keySize: 4 };

function bed(): { regs: RegisterFile; run: ExitBuffer; d: LeafDispatcher; leaf: ReportFatalErrorLeaf; registry: LeafRegistry } {
  const leaf = new ReportFatalErrorLeaf();
  const registry = new LeafRegistry([SYSTEM_EVENT_SHAPE]);
  registry.register(leaf);
  registry.freeze();
  const regs = new RegisterFile();
  const run = new ExitBuffer();
  const d = new LeafDispatcher(registry, { regs, run, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: 1 }, () => undefined);
  return { regs, run, d, leaf, registry };
}

/** The argument block after a ReportFatalError exit: RAX = 77 (TDH.VP.ENTER return), GPR i = 0x1100 + i, RSP/RBP junk. */
function fill(regs: RegisterFile): void {
  for (let i = 0; i < 16; i++) regs.set(i, 0x1100n + BigInt(i));
  regs.set(0, 77n);
  regs.set(1, 0xffccn);
  regs.set(4, 0xdead_5555n);
  regs.set(5, 0xdead_bbbbn);
  regs.set(R10, 0n);
  regs.set(11, 0x10003n);
}

describe(ReportFatalErrorLeaf, () => {
  it('should declare ReportFatalError (0x10003) exiting with KVM_EXIT_SYSTEM_EVENT keyed by type 7', () => {
    const { meta } = new ReportFatalErrorLeaf();
    expect(meta).toMatchObject({ name: 'tdx.report-fatal-error', namespace: 'ghci', leaf: 0x10003, exit: { reason: 24, key: 7 } });
    expect(meta.exit.layout).toEqual({ ndata: { offset: 36, size: 4 }, data: { offset: 40, size: 128 } });
  });

  describe('kernel half', () => {
    it('should exit with KVM_EXIT_SYSTEM_EVENT (24), type 7 @32, ndata 16 @36, data[i] @40+8i = GPR i', () => {
      const { regs, run, d } = bed();
      run.bytes.fill(0xee);
      fill(regs);
      expect(d.dispatch()).toBe(24);
      expect(run.getU32(8)).toBe(24);
      expect(run.getU32(32)).toBe(7);
      expect(run.getU32(36)).toBe(16);
      const data = Array.from({ length: 16 }, (_, i) => run.getU64(40 + 8 * i));
      expect(data).toEqual([
        77n, 0xffccn, 0x1102n, 0x1103n, 0n, 0n, 0x1106n, 0x1107n,
        0x1108n, 0x1109n, 0n, 0x10003n, 0x110cn, 0x110dn, 0x110en, 0x110fn,
      ]);
      expect(run.bytes[168]).toBe(0xee); // nothing written past data[15]
    });

    it('should write the dump itself but leave the type to the kernel model (a direct call writes no header)', () => {
      const { regs, run, leaf } = bed();
      fill(regs);
      run.setU32(32, 0x1234);
      leaf.kernel({ regs, run, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: 0 });
      expect(run.getU32(32)).toBe(0x1234);
      expect(run.getU32(36)).toBe(16);
    });

    it('should have no completion: re-entry leaves R10 as the guest exposed it (0, success)', () => {
      const { regs, d, leaf } = bed();
      fill(regs);
      d.dispatch();
      expect(leaf).not.toHaveProperty('complete');
      d.complete();
      expect(regs.get(R10)).toBe(0n);
      expect(regs.get(R12)).toBe(0x110cn);
      expect(d.pending).toBeUndefined();
    });
  });

  describe('userspace half', () => {
    function exit(errorCode: bigint, message: string, gpa?: bigint, memory: SharedMemory = { read: () => undefined, write: () => undefined, contains: () => false }): { ctx: UserExitContext; events: VmmEvent[]; leaf: ReportFatalErrorLeaf } {
      const { regs, run, d, leaf, registry } = bed();
      regs.clear();
      regs.set(0, 77n);
      regs.set(1, 0xffccn);
      regs.set(11, 0x10003n);
      regs.set(12, errorCode);
      regs.set(13, gpa ?? 0n);
      const bytes = new Uint8Array(64);
      bytes.set(new TextEncoder().encode(message));
      const v = new DataView(bytes.buffer);
      [14, 15, 3, 7, 6, 8, 9, 2].forEach((reg, i) => regs.set(reg, v.getBigUint64(8 * i, true)));
      d.dispatch();
      const events: VmmEvent[] = [];
      const ctx: UserExitContext = { run, vcpuIndex: 1, memory, emit: (e) => events.push(e), registry };
      return { ctx, events, leaf };
    }

    it('should emit a guest-panic event with QEMU\'s log line and stop the vCPU', () => {
      const { ctx, events, leaf } = exit(0x0001_0000n, 'Kernel panic - not syncing: VFS');
      expect(leaf.user(ctx)).toBe(VcpuEmulation.STOPPED);
      expect(events).toEqual([{
        type: 'guest-panic', vcpuIndex: 1, errorCode: 0x10000, rawErrorCode: 0x10000n, message: 'Kernel panic - not syncing: VFS',
        log: 'TDX guest reports fatal error. error code: 0x10000 error message:"Kernel panic - not syncing: VFS"',
      }]);
    });

    it('should include the GPA when R12 bit 63 is set', () => {
      const { ctx, events, leaf } = exit((1n << 63n) | 0x20000n, 'more at gpa', 0x5000n);
      leaf.user(ctx);
      expect(events[0]).toMatchObject({ type: 'guest-panic', errorCode: 0x20000, gpa: 0x5000, message: 'more at gpa' });
      expect((events[0] as { log: string }).log).toBe(
        'TDX guest reports fatal error. error code: 0x20000 error message:"more at gpa"\n' +
        'Additional error information can be found at gpa page: 0x5000',
      );
    });

    describe('with an extra-information GPA (R12 bit 63)', () => {
      const page = (text: string, at = 0x5000): TestMemory => {
        const m = new TestMemory(0x10000);
        m.bytes.set(Buffer.from(text, 'latin1'), at);
        return m;
      };

      it('should read the page from shared memory up to the NUL, stripping the shared bit, and keep QEMU\'s log', () => {
        const memory = page('DIMM 3: uncorrectable ECC error\0garbage');
        const { ctx, events, leaf } = exit((1n << 63n) | 0x30000n, 'mce', (1n << 47n) | 0x5000n, memory);
        leaf.user(ctx);
        const e = events[0] as TdxGuestPanicEvent;
        expect(Buffer.from(e.info!).toString('latin1')).toBe('DIMM 3: uncorrectable ECC error');
        expect(e.gpa).toBe(2 ** 47 + 0x5000); // the GPA as the guest gave it, as QEMU prints it
        expect(e.log).toBe('TDX guest reports fatal error. error code: 0x30000 error message:"mce"\nAdditional error information can be found at gpa page: 0x800000005000');
      });

      it('should accept a GPA without the shared bit, and read from the GPA to the end of its page at most', () => {
        const memory = page('x'.repeat(0x1000));
        const { ctx, events, leaf } = exit((1n << 63n), 'm', 0x5f00n, memory);
        leaf.user(ctx);
        expect((events[0] as TdxGuestPanicEvent).info).toHaveLength(0x100);
      });

      it('should have no info (and read nothing) for a GPA outside guest memory', () => {
        const { ctx, events, leaf } = exit((1n << 63n), 'm', (1n << 47n) | 0x7000_0000n, new TestMemory(0x10000));
        expect(leaf.user(ctx)).toBe(VcpuEmulation.STOPPED);
        expect(events[0]).toMatchObject({ gpa: 2 ** 47 + 0x7000_0000 });
        expect('info' in events[0]!).toBe(false);
      });

      it('should have no info without bit 63, whatever R13 holds', () => {
        const { ctx, events, leaf } = exit(0x10000n, 'm', 0x5000n, page('ignored'));
        leaf.user(ctx);
        expect('info' in events[0]!).toBe(false);
        expect('gpa' in events[0]!).toBe(false);
      });
    });

    it('should stop without panic information for an invalid error code (low 16 bits set)', () => {
      const { ctx, events, leaf } = exit(0x1n, 'bad code');
      expect(leaf.user(ctx)).toBe(VcpuEmulation.STOPPED);
      expect(events).toEqual([]);
    });
  });

  it('should be bound to LEAF_PLUGIN by fatalModule, once per container', () => {
    const c = new Container();
    c.load(fatalModule);
    const all = c.getAll(LEAF_PLUGIN);
    expect(all).toHaveLength(1);
    expect(all[0]).toBeInstanceOf(ReportFatalErrorLeaf);
    expect(c.get(LEAF_PLUGIN)).toBe(all[0]);
  });
});
