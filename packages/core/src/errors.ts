import { errorFactory } from '@seamkit/seam-cpu';

/**
 * Error codes of @seamkit/core: plugin contract, registry and composition. Each is documented in
 * docs/errors.md.
 */
export const CORE_ERRORS = {
  SEAMKIT_ERR_PLUGIN_INVALID: 'plugin %s is invalid: %s',
  SEAMKIT_ERR_LEAF_DUPLICATE: 'plugin %s claims %s leaf 0x%s, already registered by %s',
  SEAMKIT_ERR_EXIT_DUPLICATE: 'plugin %s claims exit %s, already claimed by %s',
  SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN: 'plugin %s declares exit reason %s with a key, but the hypervisor has no such exit shape',
  SEAMKIT_ERR_EXIT_LAYOUT: 'plugin %s: exit field %s %s',
  SEAMKIT_ERR_PLUGIN_DEPENDENCY: 'plugin %s depends on %s, which is not registered',
  SEAMKIT_ERR_REGISTRY_FROZEN: 'cannot register plugin %s: the registry is frozen (the VMM is built)',
  SEAMKIT_ERR_VMM_NO_HYPERVISOR: 'no hypervisor is bound: load a hypervisor module (e.g. kvmModule from @seamkit/kvm)',
  SEAMKIT_ERR_VMM_STATE: 'cannot %s: the vCPU runner is %s',
} as const;

/** A code of {@link CORE_ERRORS}. */
export type CoreErrorCode = keyof typeof CORE_ERRORS;

/** Creates a coded error of this package. */
export const coreError = errorFactory(CORE_ERRORS);
