import { describe, expect, it, vi } from 'vitest';
import { Container, ContainerModule, injectable } from 'inversify';
import { EXIT_REASON_TRIPLE_FAULT, RegisterFile, SeamkitError, type GuestProgram } from '@seamkit/seam-cpu';
import { createVmm } from './createVmm.js';
import { ExitBuffer } from './ExitBuffer.js';
import type { ExitShape } from './ExitShape.js';
import type { Hypervisor, HypervisorTd, HypervisorVcpu, TdConfig } from './Hypervisor.js';
import { LeafDispatcher } from './LeafDispatcher.js';
import { LEAF_EXIT, type LeafPlugin } from './LeafPlugin.js';
import type { LeafRegistry } from './LeafRegistry.js';
import { EXIT_SHAPES, HYPERVISOR, LEAF_PLUGIN } from './tokens.js';
import type { SharedMemory } from './UserExitContext.js';
import { VcpuEmulation } from './VcpuEmulation.js';
import { VcpuRunState } from './VcpuRunner.js';
import type { EventSink, VmmEvent } from './VmmEvent.js';

const TDX_SHAPE: ExitShape = { reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 };
const memory: SharedMemory = { read: () => undefined, write: () => undefined, contains: () => false };
const guest: GuestProgram = () => ({ step: () => EXIT_REASON_TRIPLE_FAULT });

/**
 * A hypervisor whose vCPUs dispatch one TDVMCALL (leaf `nextLeaf`) per run through the registry
 * they were given, then report KVM_EXIT_SHUTDOWN (8).
 */
class FakeHypervisor implements Hypervisor {
  readonly calls: { config: TdConfig; registry: LeafRegistry; emit: EventSink }[] = [];
  nextLeaf = 0n;

  createTd(config: TdConfig, registry: LeafRegistry, emit: EventSink): HypervisorTd {
    this.calls.push({ config, registry, emit });
    const vcpus: HypervisorVcpu[] = Array.from({ length: config.vcpus ?? 1 }, (_, index) => {
      const regs = new RegisterFile();
      const kvmRun = new ExitBuffer();
      const dispatcher = new LeafDispatcher(registry, { regs, run: kvmRun, sharedBit: 2 ** 47, gpaw: 48, vcpuIndex: index }, emit);
      let done = false;
      return {
        index, kvmRun, dispatcher,
        run: () => {
          dispatcher.complete();
          if (!done) {
            done = true;
            regs.set(11, this.nextLeaf);
            const reason = dispatcher.dispatch();
            if (reason !== 0) return reason;
          }
          kvmRun.setU32(8, 8);
          return 8;
        },
      };
    });
    return { vcpus, memory, sharedBit: 2 ** 47, mrtd: new Uint8Array(48) };
  }
}

const hypervisorModule = (h: Hypervisor = new FakeHypervisor(), shapes: readonly ExitShape[] = [TDX_SHAPE]): ContainerModule =>
  new ContainerModule(({ bind }) => {
    bind(HYPERVISOR).toConstantValue(h);
    bind(EXIT_SHAPES).toConstantValue(shapes);
  });

@injectable()
class QuoteLeaf implements LeafPlugin {
  readonly meta = { name: 'tdx.get-quote', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: { ret: { offset: 48, size: 8 } } } } as const;
  kernel(): number {
    return LEAF_EXIT;
  }
  user(): number {
    return VcpuEmulation.HANDLED;
  }
}

@injectable()
class OtherQuoteLeaf implements LeafPlugin {
  readonly meta = { name: 'acme.get-quote', namespace: 'ghci', leaf: 0x10002, exit: { reason: 40, key: 0x10002, layout: { ret: { offset: 48, size: 8 } } } } as const;
  kernel(): number {
    return LEAF_EXIT;
  }
}

const quoteModule = new ContainerModule(({ bind }) => {
  bind(LEAF_PLUGIN).to(QuoteLeaf).inSingletonScope();
});
const acmeModule = new ContainerModule(({ bind }) => {
  bind(LEAF_PLUGIN).to(OtherQuoteLeaf).inSingletonScope();
});

function coded(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (e) {
    if (SeamkitError.is(e)) return e;
    throw e;
  }
  throw new Error('nothing thrown');
}

describe(createVmm, () => {
  describe('having no hypervisor module', () => {
    it('should throw SEAMKIT_ERR_VMM_NO_HYPERVISOR', () => {
      expect(coded(() => createVmm({ modules: [quoteModule] })).code).toBe('SEAMKIT_ERR_VMM_NO_HYPERVISOR');
      expect(coded(() => createVmm({ modules: [] })).code).toBe('SEAMKIT_ERR_VMM_NO_HYPERVISOR');
    });
  });

  describe('having a hypervisor and plugins', () => {
    it('should register every bound plugin and freeze the registry', () => {
      const vmm = createVmm({ modules: [hypervisorModule(), quoteModule] });
      expect(vmm.registry.frozen).toBe(true);
      expect(vmm.registry.plugins().map((p) => p.meta.name)).toEqual(['tdx.get-quote']);
      expect(vmm.registry.ghci(0x10002)?.plugin).toBe(vmm.container.get(LEAF_PLUGIN));
      expect(vmm.registry.shape(40)).toBe(TDX_SHAPE);
    });

    it('should build with no plugins and no exit shapes bound', () => {
      const vmm = createVmm({ modules: [new ContainerModule(({ bind }) => { bind(HYPERVISOR).toConstantValue(new FakeHypervisor()); })] });
      expect(vmm.registry.plugins()).toEqual([]);
      expect(vmm.registry.shape(40)).toBeUndefined();
    });

    it('should refuse any registration after it is built with SEAMKIT_ERR_REGISTRY_FROZEN', () => {
      const vmm = createVmm({ modules: [hypervisorModule(), quoteModule] });
      const late: LeafPlugin = { meta: { name: 'late', namespace: 'ghci', leaf: 0x10099 }, kernel: () => 0 };
      const e = coded(() => vmm.registry.register(late));
      expect(e.code).toBe('SEAMKIT_ERR_REGISTRY_FROZEN');
      expect(e.message).toContain('late');
      expect(coded(() => vmm.registry.registerAll([late])).code).toBe('SEAMKIT_ERR_REGISTRY_FROZEN');
      expect(vmm.registry.ghci(0x10099)).toBeUndefined();
    });

    it('should throw SEAMKIT_ERR_LEAF_DUPLICATE at build time for the same leaf in two modules', () => {
      const e = coded(() => createVmm({ modules: [hypervisorModule(), quoteModule, acmeModule] }));
      expect(e.code).toBe('SEAMKIT_ERR_LEAF_DUPLICATE');
      expect(e.message).toContain('tdx.get-quote');
      expect(e.message).toContain('acme.get-quote');
    });

    it('should replace a default leaf with `without`', () => {
      const vmm = createVmm({ modules: [hypervisorModule(), quoteModule, acmeModule], without: ['tdx.get-quote'] });
      expect(vmm.registry.ghci(0x10002)?.plugin.meta.name).toBe('acme.get-quote');
      expect(vmm.registry.plugins()).toHaveLength(1);
    });

    it('should leave a leaf out entirely with `without`, so the guest gets SUBFUNC_UNSUPPORTED', () => {
      const h = new FakeHypervisor();
      h.nextLeaf = 0x10002n;
      const vmm = createVmm({ modules: [hypervisorModule(h), quoteModule], without: ['tdx.get-quote'] });
      expect(vmm.registry.ghci(0x10002)).toBeUndefined();
      const td = vmm.createTd({ guest });
      const reasons: number[] = [];
      td.runners[0]!.onUserExit = (_i, r) => reasons.push(r);
      td.runners[0]!.run();
      expect(reasons).toEqual([8]);
      expect(td.vcpus[0]!.dispatcher.ctx.regs.get(10)).toBe(0x8000000000000003n);
    });

    it('should inherit bindings from a parent container', () => {
      const parent = new Container();
      parent.bind(HYPERVISOR).toConstantValue(new FakeHypervisor());
      parent.bind(EXIT_SHAPES).toConstantValue([TDX_SHAPE]);
      const vmm = createVmm({ modules: [quoteModule], parent });
      expect(vmm.registry.ghci(0x10002)?.plugin.meta.name).toBe('tdx.get-quote');
    });

    it('should report a plugin with invalid metadata as SEAMKIT_ERR_PLUGIN_INVALID', () => {
      const bad = new ContainerModule(({ bind }) => {
        bind(LEAF_PLUGIN).toConstantValue({ meta: { name: 'bad', namespace: 'ghci', leaf: -4 }, kernel: () => 0 });
      });
      expect(coded(() => createVmm({ modules: [hypervisorModule(), bad] })).code).toBe('SEAMKIT_ERR_PLUGIN_INVALID');
    });

    it('should report a missing dependency as SEAMKIT_ERR_PLUGIN_DEPENDENCY', () => {
      const needy = new ContainerModule(({ bind }) => {
        bind(LEAF_PLUGIN).toConstantValue({ meta: { name: 'needy', namespace: 'ghci', leaf: 0x10004, dependencies: ['tdx.get-quote'] }, kernel: () => 0 });
      });
      expect(coded(() => createVmm({ modules: [hypervisorModule(), needy] })).code).toBe('SEAMKIT_ERR_PLUGIN_DEPENDENCY');
      expect(createVmm({ modules: [hypervisorModule(), needy, quoteModule] }).registry.plugins()).toHaveLength(2);
    });

    it('should refuse to leave out a plugin no module binds (SEAMKIT_ERR_PLUGIN_UNKNOWN), naming what is bound', () => {
      const e = coded(() => createVmm({ modules: [hypervisorModule(), quoteModule], without: ['tdx.get-qoute'] }));
      expect(e.code).toBe('SEAMKIT_ERR_PLUGIN_UNKNOWN');
      expect(e.message).toContain('tdx.get-qoute');
      expect(e.message).toContain('tdx.get-quote');
    });

    it('should give two VMMs in one process different plugin sets over one shared hypervisor', () => {
      const parent = new Container();
      const h = new FakeHypervisor();
      parent.bind(HYPERVISOR).toConstantValue(h);
      parent.bind(EXIT_SHAPES).toConstantValue([TDX_SHAPE]);
      const withQuote = createVmm({ modules: [quoteModule], parent });
      const bare = createVmm({ modules: [], parent });
      h.nextLeaf = 0x10002n;
      const a = withQuote.createTd({ guest });
      const b = bare.createTd({ guest });
      expect(h.calls.map((c) => c.registry)).toEqual([withQuote.registry, bare.registry]);
      const reasonsA: number[] = [];
      a.runners[0]!.onUserExit = (_i, r) => reasonsA.push(r);
      a.runners[0]!.run();
      expect(reasonsA).toEqual([40, 8]); // GetQuote exits to userspace in the VMM that registered it
      const reasonsB: number[] = [];
      b.runners[0]!.onUserExit = (_i, r) => reasonsB.push(r);
      b.runners[0]!.run();
      expect(reasonsB).toEqual([8]); // ...and is answered in the kernel (no exit) in the other
      expect(b.vcpus[0]!.dispatcher.ctx.regs.get(10)).toBe(0x8000000000000003n);
    });
  });
});

describe('Vmm', () => {
  describe('.createTd', () => {
    it('should hand the hypervisor the TD config, the frozen registry and its event sink, and build one runner per vCPU', () => {
      const h = new FakeHypervisor();
      const vmm = createVmm({ modules: [hypervisorModule(h), quoteModule] });
      const td = vmm.createTd({ guest, vcpus: 3, memoryBytes: 1 << 20 });
      expect(h.calls).toHaveLength(1);
      expect(h.calls[0]?.registry).toBe(vmm.registry);
      expect(h.calls[0]?.config).toMatchObject({ guest, vcpus: 3, memoryBytes: 1 << 20 });
      expect(td.vcpus).toHaveLength(3);
      expect(td.runners).toHaveLength(3);
      expect(td.runners.every((r) => r.state === VcpuRunState.PAUSED)).toBe(true);
      expect(td.memory).toBe(memory);
      expect(td.sharedBit).toBe(2 ** 47);
    });

    it('should install the hooks on every vCPU dispatcher', () => {
      const vmm = createVmm({ modules: [hypervisorModule(), quoteModule] });
      const hooks = { onDispatch: vi.fn() };
      const td = vmm.createTd({ guest, vcpus: 2, hooks });
      expect(td.vcpus.map((v) => v.dispatcher.hooks)).toEqual([hooks, hooks]);
    });

    it('should route exits no plugin owns to the handlers given for the TD', () => {
      const vmm = createVmm({ modules: [hypervisorModule(), quoteModule] });
      const shutdown = vi.fn(() => VcpuEmulation.INTERRUPTED);
      const td = vmm.createTd({ guest, handlers: { 8: shutdown } });
      expect(td.runners[0]!.run()).toBe(VcpuRunState.PAUSED);
      expect(shutdown).toHaveBeenCalledOnce();
    });
  });

  describe('.on', () => {
    it('should deliver events from plugins to every listener until unsubscribed', () => {
      const h = new FakeHypervisor();
      h.nextLeaf = 0x10002n;
      const throwing = new ContainerModule(({ bind }) => {
        bind(LEAF_PLUGIN).toConstantValue({ meta: { name: 'thrower', namespace: 'ghci', leaf: 0x10002 }, kernel: () => { throw new Error('k'); } });
      });
      const vmm = createVmm({ modules: [hypervisorModule(h), throwing] });
      const a: VmmEvent[] = [];
      const b: VmmEvent[] = [];
      vmm.on((e) => a.push(e));
      const offB = vmm.on((e) => b.push(e));
      offB();
      const td = vmm.createTd({ guest, vcpus: 1 });
      td.runners[0]!.run();
      expect(a).toHaveLength(1);
      expect(a[0]).toMatchObject({ type: 'plugin-error', plugin: 'thrower', half: 'kernel' });
      expect(b).toEqual([]);
      expect(td.vcpus[0]!.dispatcher.ctx.regs.get(10)).toBe(0x8000000000000000n);
    });
  });
});
