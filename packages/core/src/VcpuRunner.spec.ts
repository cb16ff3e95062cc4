import { describe, expect, it, vi } from 'vitest';
import { RegisterFile, SeamkitError } from '@seamkit/seam-cpu';
import { ExitBuffer } from './ExitBuffer.js';
import type { HypervisorVcpu } from './Hypervisor.js';
import { LeafDispatcher } from './LeafDispatcher.js';
import { LEAF_EXIT, type LeafPlugin } from './LeafPlugin.js';
import { LeafRegistry } from './LeafRegistry.js';
import type { SharedMemory, UserExitContext } from './UserExitContext.js';
import { VcpuEmulation } from './VcpuEmulation.js';
import { VcpuRunner, VcpuRunState } from './VcpuRunner.js';
import type { VmmEvent } from './VmmEvent.js';

const memory: SharedMemory = { read: () => undefined, write: () => undefined, contains: () => true };

/** A vCPU whose KVM_RUN replays a script of exits (reason, and tdx.nr for KVM_EXIT_TDX). */
function scriptedVcpu(script: (number | [number, number])[], registry: LeafRegistry): HypervisorVcpu & { runs: number } {
  const kvmRun = new ExitBuffer();
  const dispatcher = new LeafDispatcher(registry, { regs: new RegisterFile(), run: kvmRun, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: 2 }, () => undefined);
  const v = {
    index: 2,
    kvmRun,
    dispatcher,
    runs: 0,
    run(): number {
      const step = script[v.runs++];
      if (step === undefined) throw new Error('script exhausted');
      const [reason, nr] = typeof step === 'number' ? [step, 0] : step;
      kvmRun.setU32(8, reason);
      kvmRun.setU64Number(40, nr);
      return reason;
    },
  };
  return v;
}

function registryWith(plugins: LeafPlugin[]): LeafRegistry {
  const r = new LeafRegistry([{ reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 }]);
  r.registerAll(plugins);
  r.freeze();
  return r;
}

const preset: LeafPlugin = { meta: { name: 'preset', namespace: 'ghci', leaf: 0x10000, exit: { reason: 40, key: 0x10000, layout: {} } }, kernel: () => LEAF_EXIT };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return SeamkitError.is(e) ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

describe(VcpuRunner, () => {
  it('should start PAUSED with no exits', () => {
    const r = registryWith([]);
    const runner = new VcpuRunner(scriptedVcpu([], r), r, memory, () => undefined);
    expect(runner.state).toBe(VcpuRunState.PAUSED);
    expect(runner.exits).toBe(0);
    expect(runner.lastReason).toBe(-1);
  });

  describe('.run', () => {
    it('should loop over HANDLED exits and pause on INTERRUPTED', () => {
      const r = registryWith([preset]);
      const vcpu = scriptedVcpu([[40, 0x10000], [40, 0x10000], 2], r);
      const runner = new VcpuRunner(vcpu, r, memory, () => undefined, { 2: () => VcpuEmulation.INTERRUPTED });
      expect(runner.run()).toBe(VcpuRunState.PAUSED);
      expect(runner.state).toBe(VcpuRunState.PAUSED);
      expect(vcpu.runs).toBe(3);
      expect(runner.exits).toBe(3);
      expect(runner.lastReason).toBe(2);
    });

    it('should go PAUSED -> RUNNING -> PAUSED -> RUNNING -> FINISHED, and refuse to run when FINISHED', () => {
      const r = registryWith([]);
      const states: VcpuRunState[] = [];
      let runner!: VcpuRunner;
      const handlers = {
        2: () => { states.push(runner.state); return VcpuEmulation.INTERRUPTED; },
        8: () => { states.push(runner.state); return VcpuEmulation.STOPPED; },
      };
      runner = new VcpuRunner(scriptedVcpu([2, 8, 2], r), r, memory, () => undefined, handlers);
      expect(runner.run()).toBe(VcpuRunState.PAUSED);
      expect(runner.run()).toBe(VcpuRunState.FINISHED);
      expect(states).toEqual([VcpuRunState.RUNNING, VcpuRunState.RUNNING]);
      let err: unknown;
      try {
        runner.run();
      } catch (e) {
        err = e;
      }
      expect(SeamkitError.is(err) && err.code).toBe('SEAMKIT_ERR_VMM_STATE');
      expect((err as Error).message).toContain('finished');
      expect(runner.state).toBe(VcpuRunState.FINISHED);
      expect(runner.exits).toBe(2);
    });

    it('should stop on an exit nobody handles', () => {
      const r = registryWith([]);
      const runner = new VcpuRunner(scriptedVcpu([17], r), r, memory, () => undefined);
      expect(runner.run()).toBe(VcpuRunState.FINISHED);
      expect(runner.lastReason).toBe(17);
    });

    it('should pause after maxExits handled exits and continue from there', () => {
      const r = registryWith([preset]);
      const vcpu = scriptedVcpu([[40, 0x10000], [40, 0x10000], [40, 0x10000], 8], r);
      const runner = new VcpuRunner(vcpu, r, memory, () => undefined);
      expect(runner.run(2)).toBe(VcpuRunState.PAUSED);
      expect(vcpu.runs).toBe(2);
      expect(runner.run(0)).toBe(VcpuRunState.PAUSED);
      expect(vcpu.runs).toBe(2);
      expect(runner.run()).toBe(VcpuRunState.FINISHED);
      expect(vcpu.runs).toBe(4);
      expect(runner.exits).toBe(4);
    });

    it('should refuse a nested run() from inside a handler with SEAMKIT_ERR_VMM_STATE (running)', () => {
      const r = registryWith([]);
      let inner: string | undefined;
      let runner!: VcpuRunner;
      runner = new VcpuRunner(scriptedVcpu([2], r), r, memory, () => undefined, {
        2: () => {
          inner = codeOf(() => runner.run());
          return VcpuEmulation.INTERRUPTED;
        },
      });
      expect(runner.run()).toBe(VcpuRunState.PAUSED);
      expect(inner).toBe('SEAMKIT_ERR_VMM_STATE');
    });

    it('should become FINISHED and rethrow when KVM_RUN throws', () => {
      const r = registryWith([]);
      const runner = new VcpuRunner(scriptedVcpu([], r), r, memory, () => undefined);
      expect(() => runner.run()).toThrow('script exhausted');
      expect(runner.state).toBe(VcpuRunState.FINISHED);
      expect(codeOf(() => runner.run())).toBe('SEAMKIT_ERR_VMM_STATE');
    });

    it('should call onUserExit before handling, with the vCPU index, reason and context', () => {
      const r = registryWith([]);
      const order: string[] = [];
      const runner = new VcpuRunner(scriptedVcpu([2, 8], r), r, memory, () => undefined, {
        2: () => { order.push('handle 2'); return VcpuEmulation.HANDLED; },
      });
      const seen: [number, number, UserExitContext][] = [];
      runner.onUserExit = (i, reason, ctx) => {
        order.push(`hook ${reason}`);
        seen.push([i, reason, ctx]);
      };
      runner.run();
      expect(order).toEqual(['hook 2', 'handle 2', 'hook 8']);
      expect(seen.map(([i, reason]) => [i, reason])).toEqual([[2, 2], [2, 8]]);
      expect(seen[0]?.[2].vcpuIndex).toBe(2);
      expect(seen[0]?.[2].memory).toBe(memory);
      expect(seen[0]?.[2]).toBe(seen[1]?.[2]); // one context, reused
    });

    it('should pass the event sink to user halves', () => {
      const events: VmmEvent[] = [];
      const p: LeafPlugin = {
        meta: { name: 'thrower', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: {} } },
        kernel: () => LEAF_EXIT,
        user: () => { throw new Error('user'); },
      };
      const r = registryWith([p]);
      const runner = new VcpuRunner(scriptedVcpu([[40, 0x10002], 8], r), r, memory, (e) => events.push(e));
      expect(runner.run()).toBe(VcpuRunState.FINISHED);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'plugin-error', plugin: 'thrower', half: 'user' });
    });
  });

  it('should pause on an outcome that is neither HANDLED nor STOPPED', () => {
    const r = registryWith([]);
    const h = vi.fn(() => 7);
    const runner = new VcpuRunner(scriptedVcpu([2], r), r, memory, () => undefined, { 2: h });
    expect(runner.run()).toBe(VcpuRunState.PAUSED);
  });

  it('should pause (not finish) when KVM_RUN fails with EINTR (immediate_exit), and run again afterwards', () => {
    const r = registryWith([]);
    const v = scriptedVcpu([8], r);
    const realRun = v.run.bind(v);
    let kicked = true;
    v.run = () => {
      if (kicked) {
        kicked = false;
        throw new SeamkitError('SEAMKIT_ERR_KVM_STATE', 'KVM_RUN: immediate_exit is set', 4);
      }
      return realRun();
    };
    const runner = new VcpuRunner(v, r, memory, () => undefined);
    expect(() => runner.run()).toThrow(/immediate_exit/);
    expect(runner.state).toBe(VcpuRunState.PAUSED);
    expect(runner.run()).toBe(VcpuRunState.FINISHED); // exit 8 has no handler: stopped
  });

  it('should finish when KVM_RUN fails with any other error', () => {
    const r = registryWith([]);
    const v = scriptedVcpu([], r);
    v.run = () => {
      throw new SeamkitError('SEAMKIT_ERR_KVM_STATE', 'KVM_RUN: TD is none', 22);
    };
    const runner = new VcpuRunner(v, r, memory, () => undefined);
    expect(() => runner.run()).toThrow(/TD is none/);
    expect(runner.state).toBe(VcpuRunState.FINISHED);
  });
});
