/**
 * Thrown inside guest code by {@link GuestMemory} when a guest access has no valid EPT mapping.
 * The CPU turns it into a VM exit with reason EPT_VIOLATION (48), the GPA and the access kind;
 * it never reaches host code.
 */
export class EptViolation extends Error {
  /** Faulting guest physical address, including the shared bit. */
  readonly gpa: number;
  /** True for a write access. */
  readonly write: boolean;

  /**
   * @param gpa - faulting GPA
   * @param write - whether the access was a write
   */
  constructor(gpa: number, write: boolean) {
    super(`EPT violation at GPA 0x${gpa.toString(16)} (${write ? 'write' : 'read'})`);
    this.name = 'EptViolation';
    this.gpa = gpa;
    this.write = write;
  }
}
