import { errorFactory } from '@seamkit/seam-cpu';

/**
 * Error codes of @seamkit/tdx-module (host-side misuse of simulator APIs; everything a real
 * module would answer with a status is a status, not an error). Documented in docs/errors.md.
 */
export const MODULE_ERRORS = {
  /** `TdxModule.bindGuestProgram` with an address that is not the TDR of a TD. */
  SEAMKIT_ERR_MODULE_NO_TD: 'no TD has its TDR at %s',
  /** Reserved for host APIs that need a loaded TDX module; not thrown yet. */
  SEAMKIT_ERR_MODULE_NOT_INSTALLED: 'the CPU has no TDX module loaded',
  /** `parseTdReport` or `TdxModule.verifyReportMac` with a buffer that is not 1024 bytes long. */
  SEAMKIT_ERR_MODULE_TDREPORT_SIZE: 'a TDREPORT_STRUCT is 1024 bytes, got %s',
} as const;

/** A code of {@link MODULE_ERRORS}. */
export type ModuleErrorCode = keyof typeof MODULE_ERRORS;

/** Creates a coded error of this package. */
export const moduleError = errorFactory(MODULE_ERRORS);
