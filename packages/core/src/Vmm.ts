import type { Container } from 'inversify';
import type { ExitHandlers } from './handleExit.js';
import type { Hypervisor, HypervisorTd, TdConfig } from './Hypervisor.js';
import type { LeafHooks } from './LeafHooks.js';
import type { LeafRegistry } from './LeafRegistry.js';
import { VcpuRunner } from './VcpuRunner.js';
import type { EventSink, VmmEvent } from './VmmEvent.js';

/** A TD built by a {@link Vmm}, with a run loop per vCPU. */
export interface VmmTd extends HypervisorTd {
  /** One userspace run loop per vCPU. */
  readonly runners: readonly VcpuRunner[];
}

/** Options of {@link Vmm.createTd}. */
export interface CreateTdOptions extends TdConfig {
  /** Handlers for exits no plugin owns (IO, MMIO, SHUTDOWN, ...), by KVM_EXIT_* reason. */
  readonly handlers?: ExitHandlers;
  /** Leaf-path observation hooks, installed on every vCPU. */
  readonly hooks?: LeafHooks;
}

/**
 * A VMM assembled by {@link createVmm}: a frozen leaf registry, the hypervisor, and an event
 * channel. Build TDs with {@link createTd} and drive their vCPUs with the runners.
 */
export class Vmm {
  /** The DI container the VMM was assembled from. */
  readonly container: Container;
  /** The frozen allow-list of leaves. */
  readonly registry: LeafRegistry;
  readonly #hypervisor: Hypervisor;
  readonly #listeners = new Set<EventSink>();
  readonly #emit: EventSink = (e: VmmEvent) => {
    for (const l of this.#listeners) l(e);
  };

  /**
   * @param container - the container
   * @param registry - the frozen registry
   * @param hypervisor - the kernel
   */
  constructor(container: Container, registry: LeafRegistry, hypervisor: Hypervisor) {
    this.container = container;
    this.registry = registry;
    this.#hypervisor = hypervisor;
  }

  /** Subscribes to VMM events (guest panics, plugin errors); returns the unsubscribe function. */
  on(listener: EventSink): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Builds, measures and finalizes a TD, and creates a run loop per vCPU. */
  createTd(options: CreateTdOptions): VmmTd {
    const td = this.#hypervisor.createTd(options, this.registry, this.#emit);
    if (options.hooks !== undefined) for (const v of td.vcpus) v.dispatcher.hooks = options.hooks;
    const runners = td.vcpus.map((v) => new VcpuRunner(v, this.registry, td.memory, this.#emit, options.handlers));
    return { vcpus: td.vcpus, memory: td.memory, sharedBit: td.sharedBit, mrtd: td.mrtd, runners };
  }
}
