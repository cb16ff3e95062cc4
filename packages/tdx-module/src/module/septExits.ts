import { PAGE_SIZE } from '@seamkit/seam-cpu/abi';
import { TD_CTLS_PENDING_VE_DISABLE } from '../abi/metadata.js';
import { EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION, SEPT_PENDING } from '../abi/states.js';
import { tdCtlsOf } from './metadataLeaves.js';
import type { Td } from './Td.js';

/**
 * Extended exit qualification of an EPT-violation TD exit caused by a guest access at `gpa`
 * (the module's `tdx_ept_violation_exit_to_vmm` path): type PENDING_EPT_VIOLATION (6, bits 3:0)
 * when the GPA is private, its SEPT leaf is PENDING (guest-acceptable) and the TD has
 * TD_CTLS.PENDING_VE_DISABLE; 0 otherwise.
 *
 * Without PENDING_VE_DISABLE the real module injects a #VE into the guest instead of exiting;
 * #VE delivery is not modelled, so that access exits to the host with type 0.
 */
export function pendingExtExitQual(td: Td, gpa: number): bigint {
  const sept = td.sept;
  if (sept === undefined || gpa >= 2 ** (td.gpaw - 1)) return 0n;
  const leaf = sept.leaves.get(Math.floor(gpa / PAGE_SIZE));
  if (leaf === undefined || leaf.state !== SEPT_PENDING) return 0n;
  return (tdCtlsOf(td) & TD_CTLS_PENDING_VE_DISABLE) !== 0n ? BigInt(EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION) : 0n;
}
