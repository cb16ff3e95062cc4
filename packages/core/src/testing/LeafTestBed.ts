import 'reflect-metadata';
import { Container, type ContainerModule, type Newable } from 'inversify';
import { RegisterFile } from '@seamkit/seam-cpu';
import { R10, R11, REGISTER_NAMES, TDVMCALL_EXPOSE_REGS_MASK, type RegisterName } from '@seamkit/seam-cpu/abi';
import { coreError } from '../errors.js';
import { ExitBuffer } from '../ExitBuffer.js';
import type { ExitShape } from '../ExitShape.js';
import { LeafDispatcher } from '../LeafDispatcher.js';
import type { LeafPlugin } from '../LeafPlugin.js';
import { LeafRegistry } from '../LeafRegistry.js';
import { EXIT_SHAPES, LEAF_PLUGIN } from '../tokens.js';
import type { UserExitContext } from '../UserExitContext.js';
import type { VmmEvent } from '../VmmEvent.js';
import { TestMemory } from './TestMemory.js';

/** Options of {@link LeafTestBed}. */
export interface LeafTestBedOptions {
  /**
   * DI modules to load first: the plugin's dependencies, overrides of them (e.g. a fake quote
   * service), and the exit shapes (`kvmModule()` from @seamkit/kvm binds Linux's). Plugins these
   * modules bind are registered too, so dependencies between plugins resolve.
   */
  readonly modules?: readonly ContainerModule[];
  /** Exit shapes, if no module binds them (e.g. `LINUX_EXIT_SHAPES` from @seamkit/kvm). */
  readonly shapes?: readonly ExitShape[];
  /** Guest physical address width: 48 (default, shared bit 47) or 52 (shared bit 51). */
  readonly gpaw?: 48 | 52;
  /** Shared memory for the userspace half (default: 1 MiB at GPA 0). */
  readonly memory?: TestMemory;
  /** vCPU index the plugin sees (default 0). */
  readonly vcpuIndex?: number;
}

/** Register values a test puts in the exposed GPRs, by name (`r12`, `rdx`, ...). */
export type TestRegisters = Partial<Record<RegisterName, bigint | number>>;

/** What one TDVMCALL did in the kernel half. */
export interface KernelOutcome {
  /** KVM_EXIT_* reason of the exit to userspace, or 0 if the guest was answered in the kernel. */
  readonly exitReason: number;
  /** The exit struct, decoded through the plugin's declared layout (empty without an exit). */
  readonly exit: Readonly<Record<string, bigint | bigint[]>>;
  /** When answered in the kernel: the registers the guest gets back (bitmap-selected only). */
  readonly guest: GuestView | undefined;
}

/** The GPRs a guest gets back after a TDVMCALL: only those its RCX bitmap selected. */
export type GuestView = Readonly<Partial<Record<RegisterName, bigint>>>;

/**
 * Unit-tests one leaf plugin in isolation: no VM, no TDX module, no test framework dependency
 * (works under vitest, jest and node:test). The bed builds the plugin through DI (with your
 * overrides), registers it in a real {@link LeafRegistry}, and drives it through the same
 * {@link LeafDispatcher} the kernel model uses:
 *
 * 1. {@link tdvmcall}: the guest's exposed registers in, the kernel half runs; you get the exit
 *    (decoded by the plugin's declared layout) or, if answered in the kernel, what the guest sees;
 * 2. play userspace: {@link user} runs the plugin's own userspace half against {@link memory},
 *    or {@link reply} writes exit fields yourself;
 * 3. {@link complete}: the completion runs and you get what the guest sees.
 */
export class LeafTestBed<P extends LeafPlugin = LeafPlugin> {
  /** The plugin under test, as DI built it. */
  readonly plugin: P;
  /** The registry (the plugin and whatever the modules bound), frozen. */
  readonly registry: LeafRegistry;
  /** The argument block: exposed GPRs in, reply registers out. */
  readonly regs = new RegisterFile();
  /** The kvm_run buffer. */
  readonly run = new ExitBuffer();
  /** Shared memory the userspace half sees. */
  readonly memory: TestMemory;
  /** Events the plugin emitted (panics, plugin errors). */
  readonly events: VmmEvent[] = [];
  /** Value of the shared GPA bit. */
  readonly sharedBit: number;
  /** The DI container. */
  readonly container: Container;
  readonly #dispatcher: LeafDispatcher;
  readonly #user: UserExitContext;
  #bitmap = TDVMCALL_EXPOSE_REGS_MASK;
  #exitReason = 0;
  #completion = 0;

  /**
   * @param plugin - the plugin class (built through DI) or an instance
   * @param options - modules, shapes, GPAW, memory
   * @throws any registration error of the plugin (invalid metadata, unknown shape, ...)
   */
  constructor(plugin: Newable<P> | P, options: LeafTestBedOptions = {}) {
    const c = new Container({ defaultScope: 'Singleton' });
    if (options.modules) c.load(...options.modules);
    let instance: P;
    if (typeof plugin === 'function') {
      if (!c.isBound(plugin)) c.bind(plugin).toSelf().inSingletonScope();
      instance = c.get(plugin);
    } else {
      instance = plugin;
    }
    const others = c.isBound(LEAF_PLUGIN) ? c.getAll(LEAF_PLUGIN).filter((p) => p !== instance) : [];
    const shapes = options.shapes ?? (c.isBound(EXIT_SHAPES) ? c.get(EXIT_SHAPES) : []);
    this.registry = new LeafRegistry(shapes);
    this.registry.registerAll([instance, ...others.filter((o) => o.meta?.leaf !== instance.meta?.leaf || o.meta?.namespace !== instance.meta?.namespace)]);
    this.registry.freeze();
    this.plugin = instance;
    this.container = c;
    const gpaw = options.gpaw ?? 48;
    this.sharedBit = 2 ** (gpaw - 1);
    this.memory = options.memory ?? new TestMemory();
    const emit = (e: VmmEvent): void => void this.events.push(e);
    this.#dispatcher = new LeafDispatcher(this.registry, { regs: this.regs, run: this.run, sharedBit: this.sharedBit, gpaw, vcpuIndex: options.vcpuIndex ?? 0 }, emit);
    this.#user = { run: this.run, vcpuIndex: options.vcpuIndex ?? 0, memory: this.memory, emit, registry: this.registry };
  }

  /**
   * The guest issues the plugin's TDVMCALL: every GPR not given is 0, R10 = 0 and R11 = the
   * leaf (for a hypercall plugin R10 = its number), the given registers on top, RAX = 77 and
   * RCX = the bitmap as the TDX module leaves them. Registers outside `bitmap` are zeroed, as
   * the module does. Then the kernel half runs.
   */
  tdvmcall(registers: TestRegisters = {}, bitmap = TDVMCALL_EXPOSE_REGS_MASK): KernelOutcome {
    const r = this.regs;
    r.clear();
    const m = this.plugin.meta;
    if (m.namespace === 'ghci') r.setNumber(R11, m.leaf);
    else r.setNumber(R10, m.leaf);
    for (const [name, value] of Object.entries(registers)) {
      const i = REGISTER_NAMES.indexOf(name as RegisterName);
      if (i < 0 || i > 15) throw coreError('SEAMKIT_ERR_TESTBED_REGISTER', [name]);
      r.set(i, BigInt(value));
    }
    for (let i = 2; i < 16; i++) if (((bitmap >>> i) & 1) === 0 && i !== 4 && i !== 5) r.set(i, 0n);
    r.set(0, 77n);
    r.set(1, BigInt(bitmap));
    this.#bitmap = bitmap;
    const reason = m.namespace === 'ghci' ? this.#dispatcher.dispatch() : this.#dispatcher.dispatchHypercall();
    this.#exitReason = reason;
    return { exitReason: reason, exit: reason === 0 ? {} : this.exitFields(), guest: reason === 0 ? this.#guestView() : undefined };
  }

  /** The current exit struct decoded through the plugin's layout (8-byte fields as BigInt, arrays of u64). */
  exitFields(): Record<string, bigint | bigint[]> {
    const out: Record<string, bigint | bigint[]> = {};
    for (const [name, f] of Object.entries(this.plugin.meta.exit?.layout ?? {})) {
      if (f.size === 8) out[name] = this.run.getU64(f.offset);
      else if (f.size <= 4) out[name] = BigInt(f.size === 4 ? this.run.view.getUint32(f.offset, true) : f.size === 2 ? this.run.view.getUint16(f.offset, true) : this.run.bytes[f.offset]!);
      else out[name] = Array.from({ length: Math.floor(f.size / 8) }, (_, k) => this.run.getU64(f.offset + 8 * k));
    }
    return out;
  }

  /**
   * Plays the VMM with the plugin's own userspace half.
   * @returns the VcpuEmulation value it returned
   * @throws SEAMKIT_ERR_TESTBED_NO_EXIT when the last TDVMCALL did not exit, or the plugin has no userspace half
   */
  user(): number {
    if (this.#exitReason === 0 || this.plugin.user === undefined) throw coreError('SEAMKIT_ERR_TESTBED_NO_EXIT', ['user()']);
    return this.plugin.user(this.#user);
  }

  /** Plays the VMM by hand: writes the named exit fields (numbers or BigInts). */
  reply(fields: Readonly<Record<string, bigint | number>>): void {
    const layout = this.plugin.meta.exit?.layout ?? {};
    for (const [name, value] of Object.entries(fields)) {
      const f = layout[name];
      if (f === undefined) throw coreError('SEAMKIT_ERR_TESTBED_REGISTER', [`exit field ${name}`]);
      const v = BigInt(value);
      if (f.size === 8) this.run.setU64(f.offset, v);
      else if (f.size === 4) this.run.view.setUint32(f.offset, Number(v & 0xffff_ffffn), true);
      else if (f.size === 2) this.run.view.setUint16(f.offset, Number(v & 0xffffn), true);
      else this.run.bytes[f.offset] = Number(v & 0xffn);
    }
  }

  /**
   * The next KVM_RUN: the completion runs. If it exits to userspace again (a completion returning
   * LEAF_EXIT, e.g. the next MapGPA chunk), that exit is now outstanding: see {@link exitReason}
   * and {@link exitFields}, reply, and call `complete()` again.
   * @returns what the guest sees (bitmap-selected GPRs) so far
   * @throws SEAMKIT_ERR_TESTBED_NO_EXIT when no exit is outstanding
   */
  complete(): GuestView {
    if (this.#exitReason === 0) throw coreError('SEAMKIT_ERR_TESTBED_NO_EXIT', ['complete()']);
    const again = this.#dispatcher.complete();
    this.#exitReason = again > 0 ? again : 0;
    this.#completion = again;
    return this.#guestView();
  }

  /** KVM_EXIT_* reason of the outstanding exit, 0 when none (the guest was answered). */
  get exitReason(): number {
    return this.#exitReason;
  }

  /**
   * What the last {@link complete} decided: 0 enter the guest, > 0 exit to userspace again,
   * < 0 (-errno) KVM_RUN fails because the completion rejected userspace's reply.
   */
  get lastCompletion(): number {
    return this.#completion;
  }

  #guestView(): GuestView {
    const out: Partial<Record<RegisterName, bigint>> = {};
    for (let i = 2; i < 16; i++) if ((this.#bitmap >>> i) & 1) out[REGISTER_NAMES[i]!] = this.regs.get(i);
    return out;
  }
}
