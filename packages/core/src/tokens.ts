import type { ServiceIdentifier } from 'inversify';
import type { ExitShape } from './ExitShape.js';
import type { Hypervisor } from './Hypervisor.js';
import type { LeafPlugin } from './LeafPlugin.js';

/** Multi-binding of every {@link LeafPlugin} a VMM registers. */
export const LEAF_PLUGIN: ServiceIdentifier<LeafPlugin> = Symbol.for('@seamkit/core/LeafPlugin');
/** The exit shapes the hypervisor supports (bound by the hypervisor's module). */
export const EXIT_SHAPES: ServiceIdentifier<readonly ExitShape[]> = Symbol.for('@seamkit/core/ExitShapes');
/** The hypervisor implementation (bound by e.g. `kvmModule` from @seamkit/kvm). */
export const HYPERVISOR: ServiceIdentifier<Hypervisor> = Symbol.for('@seamkit/core/Hypervisor');
