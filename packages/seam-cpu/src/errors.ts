import { errorFactory } from './SeamkitError.js';

/**
 * Error codes of @seamkit/seam-cpu. Each is documented in docs/errors.md.
 */
export const CPU_ERRORS = {
  SEAMKIT_ERR_CPU_FAULT_UD: '#UD: %s is not allowed in CPU mode %s',
  SEAMKIT_ERR_CPU_FAULT_GP: '#GP: %s',
  SEAMKIT_ERR_CPU_MODULE_LOADED: 'a SEAM module is already loaded on this CPU',
  SEAMKIT_ERR_CPU_BAD_LP: 'logical processor %s does not exist (the CPU has %s)',
  SEAMKIT_ERR_CPU_BAD_ADDRESS: 'physical address %s is not a valid %s',
  SEAMKIT_ERR_CPU_NO_SEAMRET: 'the SEAM module returned without SEAMRET',
} as const;

/** A code of {@link CPU_ERRORS}. */
export type CpuErrorCode = keyof typeof CPU_ERRORS;

/** Creates a coded error of this package. */
export const cpuError = errorFactory(CPU_ERRORS);
