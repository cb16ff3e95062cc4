import { describe, expect, it } from 'vitest';
import { SeamkitError } from '@seamkit/seam-cpu';
import type { ExitShape } from './ExitShape.js';
import { LEAF_EXIT, type LeafExit, type LeafMeta, type LeafPlugin } from './LeafPlugin.js';
import { LeafRegistry } from './LeafRegistry.js';

// Exit shapes written from the reference (kvm-tdx-abi.md 1.2), independent of @seamkit/kvm:
// KVM_EXIT_TDX 40 {flags@32, nr@40, union@48}; KVM_EXIT_SYSTEM_EVENT 24 {type u32@32, ndata@36};
// KVM_EXIT_HYPERCALL 3 {nr@32, args@40}.
const TDX_SHAPE: ExitShape = { reason: 40, name: 'KVM_EXIT_TDX', headerEnd: 48, keyOffset: 40, keySize: 8 };
const SYSTEM_EVENT_SHAPE: ExitShape = { reason: 24, name: 'KVM_EXIT_SYSTEM_EVENT', headerEnd: 36, keyOffset: 32, keySize: 4 };
const HYPERCALL_SHAPE: ExitShape = { reason: 3, name: 'KVM_EXIT_HYPERCALL', headerEnd: 40, keyOffset: 32, keySize: 8 };
const SHAPES = [TDX_SHAPE, SYSTEM_EVENT_SHAPE, HYPERCALL_SHAPE];

const tdxExit = (key: number): LeafExit => ({ reason: 40, key, layout: { ret: { offset: 48, size: 8 }, gpa: { offset: 56, size: 8 } } });

function plugin(meta: LeafMeta, halves: Partial<Pick<LeafPlugin, 'complete' | 'user'>> = {}): LeafPlugin {
  return { meta, kernel: () => LEAF_EXIT, ...halves };
}

/** Runs `fn`, which must throw a SeamkitError, and returns that error. */
function thrown(fn: () => unknown): SeamkitError {
  try {
    fn();
  } catch (error) {
    if (SeamkitError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a SeamkitError, nothing was thrown');
}

const quote = (): LeafPlugin => plugin({ name: 'tdx.get-quote', namespace: 'ghci', leaf: 0x10002, exit: tdxExit(0x10002) });

describe(LeafRegistry, () => {
  describe('.register', () => {
    describe('having a valid plugin', () => {
      it('should make it the owner of its leaf, its name and its exit', () => {
        const r = new LeafRegistry(SHAPES);
        const p = quote();
        r.register(p);
        expect(r.ghci(0x10002)?.plugin).toBe(p);
        expect(r.hypercall(0x10002)).toBeUndefined();
        expect(r.exitOwner(40, 0x10002)?.plugin).toBe(p);
        expect(r.exitOwner(40, 0x10003)).toBeUndefined();
        expect(r.plugins()).toEqual([p]);
      });

      it('should resolve the exit header from the hypervisor shape at registration', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(quote());
        expect(r.ghci(0x10002)).toMatchObject({ reason: 40, headerEnd: 48, keyOffset: 40, keySize: 8, key: 0x10002 });
      });

      it('should give a kernel-only plugin no exit (reason -1)', () => {
        const r = new LeafRegistry(SHAPES);
        r.register({ meta: { name: 'k', namespace: 'ghci', leaf: 10 }, kernel: () => 0 });
        expect(r.ghci(10)).toMatchObject({ reason: -1, keyOffset: -1 });
      });

      it('should give a keyless exit of the plugin\'s own the whole union (header ends at 32) and key 0', () => {
        const r = new LeafRegistry(SHAPES);
        const p = plugin({ name: 'own', namespace: 'ghci', leaf: 0x20000, exit: { reason: 0x1234, layout: { x: { offset: 32, size: 8 } } } });
        r.register(p);
        expect(r.ghci(0x20000)).toMatchObject({ reason: 0x1234, headerEnd: 32, keyOffset: -1, key: 0 });
        expect(r.exitOwner(0x1234, 0)?.plugin).toBe(p);
      });

      it('should route a vendor leaf (R10 in the vendor range) next to the KVM hypercalls', () => {
        const r = new LeafRegistry(SHAPES);
        const v = plugin({ name: 'acme.attest', namespace: 'vendor', leaf: 0x4143_0001, exit: { reason: 0x1000, layout: { ret: { offset: 32, size: 8 } } } });
        r.register(v);
        expect(r.hypercall(0x4143_0001)?.plugin).toBe(v);
        expect(r.ghci(0x4143_0001)).toBeUndefined();
        expect(r.exitOwner(0x1000, 0)?.plugin).toBe(v);
      });

      it('should keep ghci and hypercall leaves in separate namespaces', () => {
        const r = new LeafRegistry(SHAPES);
        const a = plugin({ name: 'a', namespace: 'ghci', leaf: 12 });
        const b = plugin({ name: 'b', namespace: 'hypercall', leaf: 12, exit: { reason: 3, key: 12, layout: { args: { offset: 40, size: 48 } } } });
        r.register({ meta: a.meta, kernel: () => 0 });
        r.register(b);
        expect(r.ghci(12)?.plugin.meta.name).toBe('a');
        expect(r.hypercall(12)?.plugin).toBe(b);
      });
    });

    describe('having invalid metadata', () => {
      const cases: [string, unknown, string][] = [
        ['no meta', { kernel: () => 0 }, '<unnamed>'],
        ['a null meta', { meta: null, kernel: () => 0 }, '<unnamed>'],
        ['no name', { meta: { namespace: 'ghci', leaf: 1 }, kernel: () => 0 }, '<unnamed>'],
        ['an empty name', { meta: { name: '', namespace: 'ghci', leaf: 1 }, kernel: () => 0 }, 'meta.name'],
        ['a name with spaces', { meta: { name: 'my leaf', namespace: 'ghci', leaf: 1 }, kernel: () => 0 }, 'my leaf'],
        ['no namespace', { meta: { name: 'nons', leaf: 1 }, kernel: () => 0 }, 'nons'],
        ['an unknown namespace', { meta: { name: 'badns', namespace: 'acme', leaf: 1 }, kernel: () => 0 }, 'badns'],
        ['a vendor leaf below the vendor range (it would be a KVM hypercall number)', { meta: { name: 'vlow', namespace: 'vendor', leaf: 12 }, kernel: () => 0 }, 'vlow'],
        ['a hypercall number above 0xFFFF (that is the vendor range)', { meta: { name: 'hchigh', namespace: 'hypercall', leaf: 0x10000 }, kernel: () => 0 }, 'hchigh'],
        ['no kernel half', { meta: { name: 'nokernel', namespace: 'ghci', leaf: 1 } }, 'nokernel'],
        ['a kernel half that is not a function', { meta: { name: 'kobj', namespace: 'ghci', leaf: 1 }, kernel: 1 }, 'kobj'],
        ['a negative leaf', { meta: { name: 'neg', namespace: 'ghci', leaf: -1 }, kernel: () => 0 }, 'neg'],
        ['a fractional leaf', { meta: { name: 'frac', namespace: 'ghci', leaf: 1.5 }, kernel: () => 0 }, 'frac'],
        ['a leaf above 32 bits', { meta: { name: 'big', namespace: 'ghci', leaf: 2 ** 32 }, kernel: () => 0 }, 'big'],
        ['a NaN leaf', { meta: { name: 'nan', namespace: 'ghci', leaf: Number.NaN }, kernel: () => 0 }, 'nan'],
        ['hypercall number 0 (that is a standard TDVMCALL)', { meta: { name: 'hc0', namespace: 'hypercall', leaf: 0 }, kernel: () => 0 }, 'hc0'],
        ['a user half without an exit', { meta: { name: 'nouserexit', namespace: 'ghci', leaf: 1 }, kernel: () => 0, user: () => 0 }, 'nouserexit'],
        ['a completion without an exit', { meta: { name: 'nocompexit', namespace: 'ghci', leaf: 1 }, kernel: () => 0, complete: () => undefined }, 'nocompexit'],
        ['dependencies that are not an array', { meta: { name: 'deps', namespace: 'ghci', leaf: 1, dependencies: 'x' }, kernel: () => 0 }, 'deps'],
        ['exit reason 0', { meta: { name: 'r0', namespace: 'ghci', leaf: 1, exit: { reason: 0, layout: {} } }, kernel: () => 0 }, 'r0'],
        ['an exit of a shaped reason without a key', { meta: { name: 'nokey', namespace: 'ghci', leaf: 1, exit: { reason: 40, layout: {} } }, kernel: () => 0 }, 'nokey'],
        ['a key too large for a 4-byte key field', { meta: { name: 'key4', namespace: 'ghci', leaf: 1, exit: { reason: 24, key: 2 ** 32, layout: {} } }, kernel: () => 0 }, 'key4'],
        ['a missing exit layout', { meta: { name: 'nolayout', namespace: 'ghci', leaf: 1, exit: { reason: 40, key: 1 } }, kernel: () => 0 }, 'nolayout'],
        ['a user half that is not a function', { meta: { name: 'userobj', namespace: 'ghci', leaf: 1, exit: tdxExit(1) }, kernel: () => 0, user: 3 }, 'userobj'],
      ];
      it.each(cases)('should throw SEAMKIT_ERR_PLUGIN_INVALID for %s, naming the plugin', (_what, bad, name) => {
        const r = new LeafRegistry(SHAPES);
        const e = thrown(() => r.register(bad as LeafPlugin));
        expect(e.code).toBe('SEAMKIT_ERR_PLUGIN_INVALID');
        expect(e.message).toContain(name);
        expect(r.plugins()).toEqual([]);
      });

      it('should throw SEAMKIT_ERR_PLUGIN_INVALID for something that is not an object', () => {
        const e = thrown(() => new LeafRegistry().register(null as unknown as LeafPlugin));
        expect(e.code).toBe('SEAMKIT_ERR_PLUGIN_INVALID');
      });
    });

    describe('having a leaf or name already taken', () => {
      it('should throw SEAMKIT_ERR_LEAF_DUPLICATE for the same ghci leaf, naming both plugins and the leaf', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(quote());
        const e = thrown(() => r.register(plugin({ name: 'my.quote', namespace: 'ghci', leaf: 0x10002 })));
        expect(e.code).toBe('SEAMKIT_ERR_LEAF_DUPLICATE');
        expect(e.message).toContain('my.quote');
        expect(e.message).toContain('tdx.get-quote');
        expect(e.message).toContain('0x10002');
        expect(r.ghci(0x10002)?.plugin.meta.name).toBe('tdx.get-quote');
        expect(r.plugins()).toHaveLength(1);
      });

      it('should throw SEAMKIT_ERR_LEAF_DUPLICATE for the same hypercall number', () => {
        const r = new LeafRegistry(SHAPES);
        r.register({ meta: { name: 'hc.a', namespace: 'hypercall', leaf: 12 }, kernel: () => 0 });
        const e = thrown(() => r.register({ meta: { name: 'hc.b', namespace: 'hypercall', leaf: 12 }, kernel: () => 0 }));
        expect(e.code).toBe('SEAMKIT_ERR_LEAF_DUPLICATE');
        expect(e.message).toContain('hc.b');
        expect(e.message).toContain('hc.a');
      });

      it('should throw SEAMKIT_ERR_LEAF_DUPLICATE for a duplicate name on another leaf', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(quote());
        const e = thrown(() => r.register({ meta: { name: 'tdx.get-quote', namespace: 'ghci', leaf: 0x10009 }, kernel: () => 0 }));
        expect(e.code).toBe('SEAMKIT_ERR_LEAF_DUPLICATE');
        expect(e.message).toContain('tdx.get-quote');
        expect(r.ghci(0x10009)).toBeUndefined();
      });
    });

    describe('having an exit reason and key already claimed', () => {
      it('should throw SEAMKIT_ERR_EXIT_DUPLICATE naming both plugins, and register nothing', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(quote());
        const e = thrown(() => r.register(plugin({ name: 'thief', namespace: 'ghci', leaf: 0x10100, exit: tdxExit(0x10002) })));
        expect(e.code).toBe('SEAMKIT_ERR_EXIT_DUPLICATE');
        expect(e.message).toContain('thief');
        expect(e.message).toContain('tdx.get-quote');
        expect(r.ghci(0x10100)).toBeUndefined();
        expect(r.exitOwner(40, 0x10002)?.plugin.meta.name).toBe('tdx.get-quote');
      });

      it('should throw SEAMKIT_ERR_EXIT_DUPLICATE for two keyless exits of the same reason', () => {
        const r = new LeafRegistry(SHAPES);
        const own = (name: string, leaf: number): LeafPlugin => plugin({ name, namespace: 'ghci', leaf, exit: { reason: 0x777, layout: {} } });
        r.register(own('first', 0x20001));
        expect(thrown(() => r.register(own('second', 0x20002))).code).toBe('SEAMKIT_ERR_EXIT_DUPLICATE');
      });

      it('should let plugins that all declare the exit shared register it, the first one owning it for userspace', () => {
        const r = new LeafRegistry(SHAPES);
        const exit = { reason: 3, key: 12, layout: { args: { offset: 40, size: 48 } }, shared: true } as const;
        const ghci = plugin({ name: 'map-gpa', namespace: 'ghci', leaf: 0x10001, exit });
        const hc = plugin({ name: 'map-gpa-range', namespace: 'hypercall', leaf: 12, exit });
        r.register(ghci);
        r.register(hc);
        expect(r.exitOwner(3, 12)?.plugin).toBe(ghci);
        expect(r.hypercall(12)?.plugin).toBe(hc);
        // One side not declaring it shared is still a duplicate.
        const e = thrown(() => r.register(plugin({ name: 'other', namespace: 'ghci', leaf: 0x10009, exit: { reason: 3, key: 12, layout: {} } })));
        expect(e.code).toBe('SEAMKIT_ERR_EXIT_DUPLICATE');
      });

      it('should accept the same key under two different exit reasons', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(plugin({ name: 'a', namespace: 'ghci', leaf: 0x10003, exit: { reason: 24, key: 7, layout: {} } }));
        r.register(plugin({ name: 'b', namespace: 'ghci', leaf: 0x10007, exit: tdxExit(7) }));
        expect(r.exitOwner(24, 7)?.plugin.meta.name).toBe('a');
        expect(r.exitOwner(40, 7)?.plugin.meta.name).toBe('b');
      });
    });

    describe('having a key for a reason the hypervisor has no shape for', () => {
      it('should throw SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN naming the plugin and the reason', () => {
        const r = new LeafRegistry(SHAPES);
        const e = thrown(() => r.register(plugin({ name: 'shapeless', namespace: 'ghci', leaf: 1, exit: { reason: 77, key: 1, layout: {} } })));
        expect(e.code).toBe('SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN');
        expect(e.message).toContain('shapeless');
        expect(e.message).toContain('77');
      });

      it('should throw SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN when the registry has no shapes at all', () => {
        expect(thrown(() => new LeafRegistry().register(quote())).code).toBe('SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN');
      });
    });

    describe('having exit fields outside the plugin area', () => {
      const withField = (name: string, reason: number, key: number | undefined, offset: number, size: number): LeafPlugin =>
        plugin({ name, namespace: 'ghci', leaf: 0x30000, exit: { reason, ...(key !== undefined ? { key } : {}), layout: { f: { offset, size } } } });

      it.each([
        ['tdx.nr (40) in the KVM_EXIT_TDX header', 40, 0x30000, 40, 8],
        ['tdx.flags (32) in the KVM_EXIT_TDX header', 40, 0x30000, 32, 8],
        ['a field straddling the header end (44..52)', 40, 0x30000, 44, 8],
        ['system_event.type (32) in the SYSTEM_EVENT header', 24, 9, 32, 4],
        ['hypercall.nr (32) in the HYPERCALL header', 3, 99, 32, 8],
        ['exit_reason (8), before the union of a keyless exit', 0x999, undefined, 8, 4],
        ['a negative offset', 0x999, undefined, -8, 8],
      ])('should throw SEAMKIT_ERR_EXIT_LAYOUT for %s', (_what, reason, key, offset, size) => {
        const r = new LeafRegistry(SHAPES);
        const e = thrown(() => r.register(withField('overlapper', reason, key, offset, size)));
        expect(e.code).toBe('SEAMKIT_ERR_EXIT_LAYOUT');
        expect(e.message).toContain('overlapper');
        expect(e.message).toContain('overlaps the exit header');
      });

      it.each([
        ['a field ending at 289', 281, 8],
        ['a field starting at 288 (kvm_valid_regs)', 288, 8],
        ['a 257-byte field from 32', 32, 257],
      ])('should throw SEAMKIT_ERR_EXIT_LAYOUT for %s, past the 256-byte union', (_what, offset, size) => {
        const r = new LeafRegistry(SHAPES);
        const e = thrown(() => r.register(withField('runner', 0x999, undefined, offset, size)));
        expect(e.code).toBe('SEAMKIT_ERR_EXIT_LAYOUT');
        expect(e.message).toContain('runner');
        expect(e.message).toContain('288');
      });

      it.each([
        ['a zero size', 48, 0],
        ['a fractional offset', 48.5, 8],
      ])('should throw SEAMKIT_ERR_EXIT_LAYOUT for %s', (_what, offset, size) => {
        expect(thrown(() => new LeafRegistry(SHAPES).register(withField('weird', 40, 0x30000, offset, size))).code).toBe('SEAMKIT_ERR_EXIT_LAYOUT');
      });

      it('should accept fields exactly at the header end and exactly up to byte 288', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(plugin({ name: 'edges', namespace: 'ghci', leaf: 0x30001, exit: { reason: 40, key: 0x30001, layout: { first: { offset: 48, size: 8 }, last: { offset: 280, size: 8 } } } }));
        r.register(plugin({ name: 'whole', namespace: 'ghci', leaf: 0x30002, exit: { reason: 0x999, layout: { all: { offset: 32, size: 256 } } } }));
        expect(r.plugins().map((p) => p.meta.name)).toEqual(['edges', 'whole']);
      });
    });

    describe('after freeze', () => {
      it('should throw SEAMKIT_ERR_REGISTRY_FROZEN naming the plugin, and register nothing', () => {
        const r = new LeafRegistry(SHAPES);
        r.freeze();
        expect(r.frozen).toBe(true);
        const e = thrown(() => r.register(quote()));
        expect(e.code).toBe('SEAMKIT_ERR_REGISTRY_FROZEN');
        expect(e.message).toContain('tdx.get-quote');
        expect(r.ghci(0x10002)).toBeUndefined();
      });

      it('should refuse even an invalid plugin with REGISTRY_FROZEN first', () => {
        const r = new LeafRegistry(SHAPES);
        r.freeze();
        r.freeze();
        expect(thrown(() => r.register({} as LeafPlugin)).code).toBe('SEAMKIT_ERR_REGISTRY_FROZEN');
      });
    });
  });

  describe('.registerAll', () => {
    const a = (): LeafPlugin => plugin({ name: 'a', namespace: 'ghci', leaf: 0x40001, exit: tdxExit(0x40001), dependencies: ['b'] });
    const b = (): LeafPlugin => plugin({ name: 'b', namespace: 'ghci', leaf: 0x40002, exit: tdxExit(0x40002) });

    it('should accept a dependency registered in the same batch, in any order', () => {
      const r = new LeafRegistry(SHAPES);
      r.registerAll([a(), b()]);
      expect(r.plugins().map((p) => p.meta.name)).toEqual(['a', 'b']);
    });

    it('should accept a dependency registered earlier', () => {
      const r = new LeafRegistry(SHAPES);
      r.register(b());
      r.registerAll([a()]);
      expect(r.ghci(0x40001)?.plugin.meta.name).toBe('a');
    });

    it('should throw SEAMKIT_ERR_PLUGIN_DEPENDENCY naming the plugin and the missing dependency', () => {
      const r = new LeafRegistry(SHAPES);
      const e = thrown(() => r.registerAll([a()]));
      expect(e.code).toBe('SEAMKIT_ERR_PLUGIN_DEPENDENCY');
      expect(e.message).toContain('plugin a depends on b');
    });

    describe('when one plugin fails', () => {
      /** Everything observable about a registry's contents. */
      function state(r: LeafRegistry): unknown {
        return {
          names: r.plugins().map((p) => p.meta.name),
          leaves: [48, 0x10002, 0x10005, 0x40001, 0x40002, 0x40003].map((l) => r.ghci(l)?.plugin.meta.name),
          exits: [0x10002, 0x40001, 0x40002, 0x40003].map((k) => r.exitOwner(40, k)?.plugin.meta.name),
          hc: r.hypercall(5)?.plugin.meta.name,
          bits: r.userTdvmcallInfoR11(),
        };
      }

      it.each([
        ['a duplicate leaf', (): LeafPlugin[] => [b(), plugin({ name: 'c', namespace: 'ghci', leaf: 0x10002 })], 'SEAMKIT_ERR_LEAF_DUPLICATE'],
        // Standard GHCI leaves (exit reasons, 0x100xx) live in the registry's dense table too.
        ['a duplicate after two standard leaves', (): LeafPlugin[] => [
          plugin({ name: 'mmio', namespace: 'ghci', leaf: 48 }), plugin({ name: 'svc', namespace: 'ghci', leaf: 0x10005 }),
          plugin({ name: 'c', namespace: 'ghci', leaf: 0x10002 }),
        ], 'SEAMKIT_ERR_LEAF_DUPLICATE'],
        ['an invalid plugin', (): LeafPlugin[] => [b(), { meta: { name: 'c' } } as LeafPlugin], 'SEAMKIT_ERR_PLUGIN_INVALID'],
        ['a missing dependency', (): LeafPlugin[] => [plugin({ name: 'c', namespace: 'ghci', leaf: 0x40003, exit: tdxExit(0x40003), tdvmcallInfoR11: 4 }), a()], 'SEAMKIT_ERR_PLUGIN_DEPENDENCY'],
      ])('should leave the registry exactly as before for %s', (_what, batch, code) => {
        const r = new LeafRegistry(SHAPES);
        const q = plugin({ name: 'tdx.get-quote', namespace: 'ghci', leaf: 0x10002, exit: tdxExit(0x10002), tdvmcallInfoR11: 1 });
        r.register(q);
        r.register({ meta: { name: 'hc', namespace: 'hypercall', leaf: 5 }, kernel: () => 0 });
        const before = state(r);
        expect(thrown(() => r.registerAll(batch())).code).toBe(code);
        expect(state(r)).toEqual(before);
        expect(r.ghci(0x10002)?.plugin).toBe(q);
        // Nothing of the failed batch is reserved: its plugins can be registered afterwards.
        r.registerAll([b()]);
        expect(r.ghci(0x40002)?.plugin.meta.name).toBe('b');
      });

      it('should keep a frozen registry frozen and intact', () => {
        const r = new LeafRegistry(SHAPES);
        r.register(quote());
        r.freeze();
        expect(thrown(() => r.registerAll([b()])).code).toBe('SEAMKIT_ERR_REGISTRY_FROZEN');
        expect(r.frozen).toBe(true);
        expect(r.plugins().map((p) => p.meta.name)).toEqual(['tdx.get-quote']);
        expect(thrown(() => r.register(b())).code).toBe('SEAMKIT_ERR_REGISTRY_FROZEN');
      });
    });
  });

  describe('.userTdvmcallInfoR11', () => {
    it('should be 0 with nothing registered', () => {
      expect(new LeafRegistry(SHAPES).userTdvmcallInfoR11()).toBe(0);
    });

    it('should OR the bits of the leaves that exit to userspace, and ignore kernel-only leaves', () => {
      const r = new LeafRegistry(SHAPES);
      r.register(plugin({ name: 'notify', namespace: 'ghci', leaf: 0x10004, exit: tdxExit(0x10004), tdvmcallInfoR11: 1 << 1 }));
      r.register({ meta: { name: 'kernel-only', namespace: 'ghci', leaf: 0x10008, tdvmcallInfoR11: 1 << 5 }, kernel: () => 0 });
      expect(r.userTdvmcallInfoR11()).toBe(0b10);
      r.register(plugin({ name: 'other', namespace: 'ghci', leaf: 0x10009, exit: tdxExit(0x10009), tdvmcallInfoR11: 1 << 3 }));
      expect(r.userTdvmcallInfoR11()).toBe(0b1010);
    });
  });

  describe('.shape', () => {
    it('should return the hypervisor shape by reason', () => {
      const r = new LeafRegistry(SHAPES);
      expect(r.shape(24)).toBe(SYSTEM_EVENT_SHAPE);
      expect(r.shape(2)).toBeUndefined();
    });
  });
});
