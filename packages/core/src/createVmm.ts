import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { coreError } from './errors.js';
import { LeafRegistry } from './LeafRegistry.js';
import { EXIT_SHAPES, HYPERVISOR, LEAF_PLUGIN } from './tokens.js';
import { Vmm } from './Vmm.js';

/** Options of {@link createVmm}. */
export interface CreateVmmOptions {
  /** ContainerModules to load, in order: the hypervisor's (e.g. `kvmModule`), plugins', yours. */
  readonly modules: readonly ContainerModule[];
  /** Names of plugins to leave out (e.g. to replace a default leaf with your own). */
  readonly without?: readonly string[];
  /** A parent container to inherit bindings from (scoping several VMMs in one process). */
  readonly parent?: Container;
}

/**
 * The composition root: loads the modules into a fresh container, resolves every
 * {@link LEAF_PLUGIN}, registers them (all checks apply), freezes the registry and returns the
 * VMM. Everything is resolved here, so running a vCPU makes no container lookups.
 * @throws SEAMKIT_ERR_VMM_NO_HYPERVISOR when no module binds {@link HYPERVISOR}
 * @throws SEAMKIT_ERR_PLUGIN_UNKNOWN when `without` names a plugin no module binds
 * @throws any registry error (duplicate leaf, invalid plugin, missing dependency, ...)
 */
export function createVmm(options: CreateVmmOptions): Vmm {
  const container = new Container({ defaultScope: 'Singleton', ...(options.parent ? { parent: options.parent } : {}) });
  container.load(...options.modules);
  if (!container.isBound(HYPERVISOR)) throw coreError('SEAMKIT_ERR_VMM_NO_HYPERVISOR');
  const shapes = container.isBound(EXIT_SHAPES) ? container.get(EXIT_SHAPES) : [];
  const bound = container.isBound(LEAF_PLUGIN) ? container.getAll(LEAF_PLUGIN) : [];
  const names = new Set(bound.map((p) => p.meta?.name));
  for (const name of options.without ?? []) {
    if (!names.has(name)) throw coreError('SEAMKIT_ERR_PLUGIN_UNKNOWN', [name, [...names].join(', ') || 'none']);
  }
  const without = new Set(options.without ?? []);
  const plugins = bound.filter((p) => !without.has(p.meta?.name));
  const registry = new LeafRegistry(shapes);
  registry.registerAll(plugins);
  registry.freeze();
  return new Vmm(container, registry, container.get(HYPERVISOR));
}
