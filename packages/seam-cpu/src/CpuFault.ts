import { SeamkitError } from './SeamkitError.js';
import { VECTOR_GP, VECTOR_UD } from './abi/vmx.js';

/**
 * A CPU exception raised by an instruction executed in the wrong mode or with bad operands:
 * #UD (vector 6) or #GP (vector 13). Host code that executes SEAMCALL from the wrong mode gets
 * this thrown, as real hardware would raise it; Linux's exception fixup turns it into
 * TDX_SEAMCALL_UD / TDX_SEAMCALL_GP, which the tdx-module host wrappers do too.
 */
export class CpuFault extends SeamkitError {
  /** Exception vector: 6 (#UD) or 13 (#GP). */
  readonly vector: number;

  /**
   * @param vector - exception vector
   * @param message - what faulted
   */
  constructor(vector: number, message: string) {
    super(vector === VECTOR_UD ? 'SEAMKIT_ERR_CPU_FAULT_UD' : 'SEAMKIT_ERR_CPU_FAULT_GP', message);
    this.name = 'CpuFault';
    this.vector = vector;
  }

  /** True if the fault is #UD. */
  get isUD(): boolean {
    return this.vector === VECTOR_UD;
  }

  /** True if the fault is #GP. */
  get isGP(): boolean {
    return this.vector === VECTOR_GP;
  }
}
