import { errorFactory } from '@seamkit/seam-cpu';

/**
 * Error codes of @seamkit/core: plugin contract, registry and composition. Each is documented in
 * docs/errors.md.
 */
export const CORE_ERRORS = {
  /**
   * A leaf plugin with missing or malformed metadata, halves or exit declaration (checked at
   * registration).
   */
  SEAMKIT_ERR_PLUGIN_INVALID: 'plugin %s is invalid: %s',
  /** A second plugin for the same leaf number in the same namespace, or with the same name. */
  SEAMKIT_ERR_LEAF_DUPLICATE: 'plugin %s claims %s leaf 0x%s, already registered by %s',
  /** A second plugin claiming the same exit reason and key. */
  SEAMKIT_ERR_EXIT_DUPLICATE: 'plugin %s claims exit %s, already claimed by %s',
  /** An exit with a key for a reason the hypervisor declared no exit shape (with a key field) for. */
  SEAMKIT_ERR_EXIT_SHAPE_UNKNOWN: 'plugin %s declares exit reason %s with a key, but the hypervisor has no such exit shape',
  /** An exit field that is malformed, overlaps the exit header or runs past the 256-byte exit union. */
  SEAMKIT_ERR_EXIT_LAYOUT: 'plugin %s: exit field %s %s',
  /** A plugin whose declared dependency is not registered (`registerAll`, hence `createVmm`). */
  SEAMKIT_ERR_PLUGIN_DEPENDENCY: 'plugin %s depends on %s, which is not registered',
  /** Registering a plugin after the registry was frozen (the VMM is built). */
  SEAMKIT_ERR_REGISTRY_FROZEN: 'cannot register plugin %s: the registry is frozen (the VMM is built)',
  /** `createVmm` without a module that binds the hypervisor. */
  SEAMKIT_ERR_VMM_NO_HYPERVISOR: 'no hypervisor is bound: load a hypervisor module (e.g. kvmModule from @seamkit/kvm)',
  /** `VcpuRunner.run` while the runner is running or finished. */
  SEAMKIT_ERR_VMM_STATE: 'cannot %s: the vCPU runner is %s',
  /** `createVmm({ without })` names a plugin that no module binds. */
  SEAMKIT_ERR_PLUGIN_UNKNOWN: 'cannot leave out plugin %s: no module binds a plugin of that name (bound: %s)',
  /** `TestMemory` (core/testing): an access outside the test memory. */
  SEAMKIT_ERR_TESTBED_MEMORY: 'test bed: GPA %s (%s bytes) is outside the test memory',
  /** `LeafTestBed` (core/testing): an unknown register name or exit field. */
  SEAMKIT_ERR_TESTBED_REGISTER: 'test bed: unknown register or field %s',
  /** `LeafTestBed.user()` / `.complete()` (core/testing) with no outstanding exit, or no userspace half. */
  SEAMKIT_ERR_TESTBED_NO_EXIT: 'test bed: %s needs an outstanding exit from a plugin with that half',
} as const;

/** A code of {@link CORE_ERRORS}. */
export type CoreErrorCode = keyof typeof CORE_ERRORS;

/** Creates a coded error of this package. */
export const coreError = errorFactory(CORE_ERRORS);
