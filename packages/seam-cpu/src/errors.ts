import { errorFactory } from './SeamkitError.js';

/**
 * Error codes of @seamkit/seam-cpu. Each is documented in docs/errors.md.
 */
export const CPU_ERRORS = {
  /**
   * #UD: SEAMCALL outside VMX root, SEAMRET or TD entry outside SEAM root, TDCALL outside a TD
   * (thrown as a {@link CpuFault}).
   */
  SEAMKIT_ERR_CPU_FAULT_UD: '#UD: %s is not allowed in CPU mode %s',
  /** #GP (a {@link CpuFault} with vector 13); no instruction of the model raises it yet. */
  SEAMKIT_ERR_CPU_FAULT_GP: '#GP: %s',
  /** `SeamCpu.loadSeamModule` (or `TdxModule.install`) on a CPU that already has a SEAM module. */
  SEAMKIT_ERR_CPU_MODULE_LOADED: 'a SEAM module is already loaded on this CPU',
  /** A CPU shape with no LPs, or more packages than LPs (a package would have no LP). */
  SEAMKIT_ERR_CPU_TOPOLOGY: 'a CPU needs at least one logical processor per package (got %s LPs, %s packages)',
  /** `SeamCpu.lp(index)` with an index that is not a logical processor of the CPU. */
  SEAMKIT_ERR_CPU_BAD_LP: 'logical processor %s does not exist (the CPU has %s)',
  /**
   * Physical memory access outside the address space, a misaligned page address, a range crossing a
   * page, or no free page left.
   */
  SEAMKIT_ERR_CPU_BAD_ADDRESS: 'physical address %s is not a valid %s',
  /** The SEAM module returned from a SEAMCALL without executing SEAMRET (a module bug). */
  SEAMKIT_ERR_CPU_NO_SEAMRET: 'the SEAM module returned without SEAMRET',
} as const;

/** A code of {@link CPU_ERRORS}. */
export type CpuErrorCode = keyof typeof CPU_ERRORS;

/** Creates a coded error of this package. */
export const cpuError = errorFactory(CPU_ERRORS);
