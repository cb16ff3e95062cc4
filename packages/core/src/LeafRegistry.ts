import { KVM_RUN_EXIT_UNION, KVM_RUN_EXIT_UNION_SIZE } from './abi/kvmRun.js';
import { coreError } from './errors.js';
import type { ExitShape } from './ExitShape.js';
import { HYPERCALL_LEAF_MAX, HYPERCALL_LEAF_MIN, VENDOR_LEAF_MAX, VENDOR_LEAF_MIN, type LeafPlugin } from './LeafPlugin.js';

/** A registered plugin with its exit header resolved at registration (nothing is looked up per exit). */
export interface CompiledLeaf {
  /** The plugin. */
  readonly plugin: LeafPlugin;
  /** Exit reason, or -1 for a kernel-only leaf. */
  readonly reason: number;
  /** End of the header the kernel model zeroes before the plugin fills its fields. */
  readonly headerEnd: number;
  /** Offset of the key field, or -1. */
  readonly keyOffset: number;
  /** Key size (4 or 8). */
  readonly keySize: number;
  /** Key value. */
  readonly key: number;
  /** Bits 31:0 of the key, as int32 (what the exit header gets, computed once). */
  readonly keyLo: number;
  /** Bits 63:32 of the key, as int32 (written when the key is 8 bytes). */
  readonly keyHi: number;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/i;

/**
 * The allow-list of TDVMCALL leaves: the only place a leaf can be given a userspace exit.
 *
 * Registration checks every plugin (complete metadata, a unique name, a unique leaf per
 * namespace, a unique exit reason and key, fields inside the 256-byte exit union and clear of
 * the exit header) and throws a coded error naming the plugin. {@link freeze} closes the list:
 * the VMM freezes it when it is built, and nothing can register afterwards.
 */
export class LeafRegistry {
  readonly #shapes = new Map<number, ExitShape>();
  readonly #ghci = new Map<number, CompiledLeaf>();
  /**
   * Dense copies of {@link #ghci} for the hot path: index = leaf for the VMX exit reasons
   * (0..255), index = 256 + (leaf - 0x10000) for the TDX-specific leaves 0x10000..0x100FF.
   */
  readonly #ghciDense: (CompiledLeaf | undefined)[] = new Array<CompiledLeaf | undefined>(512).fill(undefined);
  readonly #hypercall = new Map<number, CompiledLeaf>();
  readonly #byName = new Map<string, CompiledLeaf>();
  readonly #exits = new Map<number, Map<number, CompiledLeaf>>();
  #frozen = false;

  /** @param shapes - the exit shapes the hypervisor supports (KVM_EXIT_TDX, SYSTEM_EVENT, ...) */
  constructor(shapes: readonly ExitShape[] = []) {
    for (const s of shapes) this.#shapes.set(s.reason, s);
  }

  /** True once {@link freeze} was called. */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** Closes the registry. Idempotent. */
  freeze(): void {
    this.#frozen = true;
  }

  /**
   * Registers one plugin.
   * @throws SEAMKIT_ERR_REGISTRY_FROZEN after {@link freeze}
   * @throws SEAMKIT_ERR_PLUGIN_INVALID for missing or malformed metadata or halves
   * @throws SEAMKIT_ERR_LEAF_DUPLICATE when the leaf (or name) is taken
   * @throws SEAMKIT_ERR_EXIT_DUPLICATE when the exit reason + key is taken
   * @throws SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN / SEAMKIT_ERR_EXIT_LAYOUT for a bad exit declaration
   */
  register(plugin: LeafPlugin): void {
    const meta = (plugin as Partial<LeafPlugin> | undefined)?.meta;
    const label = typeof meta?.name === 'string' ? meta.name : '<unnamed>';
    if (this.#frozen) throw coreError('SEAMKIT_ERR_REGISTRY_FROZEN', [label]);
    const compiled = this.#compile(plugin, label);
    const table = compiled.plugin.meta.namespace === 'ghci' ? this.#ghci : this.#hypercall;
    const m = compiled.plugin.meta;
    const clash = table.get(m.leaf);
    if (clash !== undefined) {
      throw coreError('SEAMKIT_ERR_LEAF_DUPLICATE', [label, m.namespace, m.leaf.toString(16), clash.plugin.meta.name]);
    }
    const named = this.#byName.get(m.name);
    if (named !== undefined) {
      throw coreError('SEAMKIT_ERR_LEAF_DUPLICATE', [label, 'name', m.leaf.toString(16), named.plugin.meta.name]);
    }
    if (compiled.reason >= 0) {
      const byKey = this.#exits.get(compiled.reason);
      const other = byKey?.get(compiled.key);
      if (other !== undefined && !(m.exit?.shared === true && other.plugin.meta.exit?.shared === true)) {
        throw coreError('SEAMKIT_ERR_EXIT_DUPLICATE', [label, `${compiled.reason}/0x${compiled.key.toString(16)}`, other.plugin.meta.name]);
      }
    }
    // All checks passed: only now change state.
    table.set(m.leaf, compiled);
    if (table === this.#ghci) {
      const d = denseIndex(m.leaf);
      if (d >= 0) this.#ghciDense[d] = compiled;
    }
    this.#byName.set(m.name, compiled);
    if (compiled.reason >= 0) {
      let byKey = this.#exits.get(compiled.reason);
      if (byKey === undefined) {
        byKey = new Map();
        this.#exits.set(compiled.reason, byKey);
      }
      // A shared exit stays with the plugin that registered it first.
      if (!byKey.has(compiled.key)) byKey.set(compiled.key, compiled);
    }
  }

  /**
   * Registers several plugins, then checks every declared dependency. All or nothing: if any
   * plugin fails, none of them stays registered.
   * @throws SEAMKIT_ERR_PLUGIN_DEPENDENCY when a dependency is not registered
   */
  registerAll(plugins: readonly LeafPlugin[]): void {
    const before = [...this.#byName.values()];
    try {
      for (const p of plugins) this.register(p);
      for (const p of plugins) {
        for (const dep of p.meta.dependencies ?? []) {
          if (!this.#byName.has(dep)) throw coreError('SEAMKIT_ERR_PLUGIN_DEPENDENCY', [p.meta.name, dep]);
        }
      }
    } catch (err) {
      this.#ghci.clear();
      this.#ghciDense.fill(undefined);
      this.#hypercall.clear();
      this.#byName.clear();
      this.#exits.clear();
      const frozen = this.#frozen;
      this.#frozen = false;
      for (const c of before) this.register(c.plugin);
      this.#frozen = frozen;
      throw err;
    }
  }

  /** The plugin for standard TDVMCALL leaf `leaf` (R11), if registered. */
  ghci(leaf: number): CompiledLeaf | undefined {
    const d = denseIndex(leaf);
    return d >= 0 ? this.#ghciDense[d] : this.#ghci.get(leaf);
  }

  /** The plugin for R10 = `nr` != 0 (a KVM hypercall or a vendor leaf), if registered. */
  hypercall(nr: number): CompiledLeaf | undefined {
    return this.#hypercall.get(nr);
  }

  /** The plugin that owns exit `reason` with `key` (0 for exits without a key). */
  exitOwner(reason: number, key: number): CompiledLeaf | undefined {
    return this.#exits.get(reason)?.get(key);
  }

  /** The exit shape of `reason`, if the hypervisor declared one. */
  shape(reason: number): ExitShape | undefined {
    return this.#shapes.get(reason);
  }

  /** Every registered plugin, in registration order. */
  plugins(): LeafPlugin[] {
    return [...this.#byName.values()].map((c) => c.plugin);
  }

  /** OR of the GetTdVmCallInfo leaf 1 R11 bits of every plugin that exits to userspace. */
  userTdvmcallInfoR11(): number {
    let bits = 0;
    for (const c of this.#byName.values()) if (c.reason >= 0) bits |= c.plugin.meta.tdvmcallInfoR11 ?? 0;
    return bits;
  }

  #compile(plugin: LeafPlugin, label: string): CompiledLeaf {
    const invalid = (why: string): Error => coreError('SEAMKIT_ERR_PLUGIN_INVALID', [label, why]);
    if (typeof plugin !== 'object' || plugin === null) throw invalid('it is not an object');
    const meta = plugin.meta;
    if (typeof meta !== 'object' || meta === null) throw invalid('meta is missing');
    if (typeof meta.name !== 'string' || !NAME_RE.test(meta.name)) throw invalid('meta.name must be a non-empty name of letters, digits, ".", "_" or "-"');
    if (meta.namespace !== 'ghci' && meta.namespace !== 'hypercall' && meta.namespace !== 'vendor') {
      throw invalid(`meta.namespace must be "ghci", "hypercall" or "vendor", not ${String(meta.namespace)}`);
    }
    if (!Number.isInteger(meta.leaf) || meta.leaf < 0 || meta.leaf > 0xffff_ffff) throw invalid('meta.leaf must be an integer in 0..0xFFFFFFFF');
    if (meta.namespace === 'hypercall' && (meta.leaf < HYPERCALL_LEAF_MIN || meta.leaf > HYPERCALL_LEAF_MAX)) {
      throw invalid(`a hypercall leaf is a KVM hypercall number in ${HYPERCALL_LEAF_MIN}..0x${HYPERCALL_LEAF_MAX.toString(16)} (R10 = 0 is a standard TDVMCALL)`);
    }
    if (meta.namespace === 'vendor' && (meta.leaf < VENDOR_LEAF_MIN || meta.leaf > VENDOR_LEAF_MAX)) {
      throw invalid(`a vendor leaf is an R10 value in 0x${VENDOR_LEAF_MIN.toString(16)}..0x${VENDOR_LEAF_MAX.toString(16)}`);
    }
    if (typeof plugin.kernel !== 'function') throw invalid('kernel half (kernel(ctx)) is missing');
    if (meta.dependencies !== undefined && !Array.isArray(meta.dependencies)) throw invalid('meta.dependencies must be an array of plugin names');
    const exit = meta.exit;
    if (exit === undefined) {
      if (plugin.complete !== undefined || plugin.user !== undefined) throw invalid('complete/user halves need a declared exit (meta.exit)');
      return { plugin, reason: -1, headerEnd: 0, keyOffset: -1, keySize: 0, key: 0, keyLo: 0, keyHi: 0 };
    }
    if (!Number.isInteger(exit.reason) || exit.reason <= 0 || exit.reason > 0xffff) throw invalid('exit.reason must be a positive KVM_EXIT_* number');
    if (plugin.complete !== undefined && typeof plugin.complete !== 'function') throw invalid('complete must be a function');
    if (plugin.user !== undefined && typeof plugin.user !== 'function') throw invalid('user must be a function');
    const shape = this.#shapes.get(exit.reason);
    let headerEnd = KVM_RUN_EXIT_UNION;
    let keyOffset = -1;
    let keySize = 0;
    if (exit.key !== undefined) {
      if (shape === undefined || shape.keyOffset < 0) throw coreError('SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN', [label, exit.reason]);
      if (!Number.isInteger(exit.key) || exit.key < 0 || exit.key > (shape.keySize === 4 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER)) {
        throw invalid('exit.key does not fit the key field');
      }
      headerEnd = shape.headerEnd;
      keyOffset = shape.keyOffset;
      keySize = shape.keySize;
    } else if (shape !== undefined) {
      throw invalid(`exit reason ${exit.reason} (${shape.name}) needs a key`);
    }
    const end = KVM_RUN_EXIT_UNION + KVM_RUN_EXIT_UNION_SIZE;
    if (typeof exit.layout !== 'object' || exit.layout === null) throw invalid('exit.layout is missing');
    for (const [field, f] of Object.entries(exit.layout)) {
      if (!Number.isInteger(f?.offset) || !Number.isInteger(f?.size) || f.size <= 0) {
        throw coreError('SEAMKIT_ERR_EXIT_LAYOUT', [label, field, 'needs an integer offset and a positive size']);
      }
      if (f.offset < headerEnd) throw coreError('SEAMKIT_ERR_EXIT_LAYOUT', [label, field, `overlaps the exit header (fields start at ${headerEnd})`]);
      if (f.offset + f.size > end) throw coreError('SEAMKIT_ERR_EXIT_LAYOUT', [label, field, `runs past the 256-byte exit union (ends at ${end})`]);
    }
    const key = exit.key ?? 0;
    return { plugin, reason: exit.reason, headerEnd, keyOffset, keySize, key, keyLo: key | 0, keyHi: Math.floor(key / 0x1_0000_0000) | 0 };
  }
}

/** Index of `leaf` in the dense GHCI table, or -1 if the leaf lives only in the map. */
function denseIndex(leaf: number): number {
  // Integer-only arithmetic: `leaf` is a 32-bit register half.
  const page = leaf >>> 8;
  if (page === 0) return leaf & 0xff;
  return page === 0x100 ? 256 + (leaf & 0xff) : -1;
}
