import { createHash, type Hash } from 'node:crypto';
import type { GuestMemory, GuestProgram } from '@seamkit/seam-cpu';
import { OP_STATE_UNINITIALIZED, TD_HKID_ASSIGNED } from '../abi/states.js';
import type { SecureEpt } from './SecureEpt.js';

/**
 * A trust domain as the TDX module tracks it: the TDR (life cycle, HKID, key configuration),
 * the TDCS (operational state, TD_PARAMS values, measurement) and its secure EPT.
 */
export class Td {
  /** Physical address of the TDR page (the TD's handle). */
  readonly tdrPa: number;
  /** Private HKID. */
  readonly hkid: number;
  /** TDR.LIFECYCLE_STATE (TD_*). */
  lifecycle = TD_HKID_ASSIGNED;
  /** Packages on which TDH.MNG.KEY.CONFIG has run. */
  readonly keyConfiguredPackages = new Set<number>();
  /** TDR.fatal. */
  fatal = false;
  /** TDCS pages added by TDH.MNG.ADDCX. */
  readonly tdcsPages: number[] = [];
  /** Number of pages (TDCX, TDVPR, TDVPS, SEPT, guest pages) owned by this TD. */
  childCount = 0;
  /** TDCS.OP_STATE. */
  opState = OP_STATE_UNINITIALIZED;
  /** TD_PARAMS.ATTRIBUTES. */
  attributes = 0n;
  /** TD_PARAMS.XFAM. */
  xfam = 0n;
  /** TD_PARAMS.MAX_VCPUS. */
  maxVcpus = 0;
  /** vCPUs initialized so far (TDH.VP.INIT hands out indexes in order). */
  numVcpus = 0;
  /** TD_PARAMS.CONFIG_FLAGS. */
  configFlags = 0n;
  /** TD_PARAMS.TSC_FREQUENCY (units of 25 MHz). */
  tscFrequency = 0;
  /** Guest physical address width: 48 or 52. */
  gpaw = 48;
  /** NO_RBP_MOD config flag. */
  noRbpMod = false;
  /** DEBUG attribute. */
  debug = false;
  /** vCPUs currently associated with an LP. */
  numAssocVcpus = 0;
  /**
   * TDCS.TD_EPOCH: TLB-tracking epoch, advanced by TDH.MEM.TRACK. An entry blocked in epoch E is
   * TLB-tracked once TD_EPOCH > E (no vCPU can still run in epoch E in this synchronous model).
   */
  tdEpoch = 1;
  /**
   * TDCS CPUID values computed by TDH.MNG.INIT from TD_PARAMS.CPUID_CONFIG: EAX, EBX, ECX, EDX of
   * each leaf of the module's CPUID table (`SIM_CPUID_LOOKUP` order); undefined before.
   */
  cpuidValues: Uint32Array | undefined;
  /** MRCONFIGID, MROWNER, MROWNERCONFIG (48 bytes each). */
  readonly mrConfigId = new Uint8Array(48);
  /** MROWNER. */
  readonly mrOwner = new Uint8Array(48);
  /** MROWNERCONFIG. */
  readonly mrOwnerConfig = new Uint8Array(48);
  /** Running SHA-384 of the build-time measurement; undefined once finalized. */
  mrtdHash: Hash | undefined = createHash('sha384');
  /** MRTD, valid after TDH.MR.FINALIZE. */
  readonly mrtd = new Uint8Array(48);
  /** RTMR[0..3]. */
  readonly rtmr: Uint8Array[] = [0, 1, 2, 3].map(() => new Uint8Array(48));
  /** Secure EPT; created by TDH.MNG.INIT once the GPAW is known. */
  sept: SecureEpt | undefined;
  /** The TD's guest-physical memory view; created by TDH.MNG.INIT. */
  memory: GuestMemory | undefined;
  /** The guest program that stands in for the TD image (see TdxModule.bindGuestProgram). */
  program: GuestProgram | undefined;
  /** TDCS.NOTIFY_ENABLES (a Linux guest clears it at boot with TDG.VM.WR). */
  notifyEnables = 0n;
  /**
   * TDCS.TD_CTLS once the guest has written it with TDG.VM.WR; undefined means the initial value
   * (PENDING_VE_DISABLE = ATTRIBUTES.SEPT_VE_DISABLE).
   */
  tdCtls: bigint | undefined = undefined;

  /**
   * @param tdrPa - TDR page address
   * @param hkid - private HKID
   */
  constructor(tdrPa: number, hkid: number) {
    this.tdrPa = tdrPa;
    this.hkid = hkid;
  }

  /** Bit position of the shared bit: GPAW - 1. */
  get sharedBitPosition(): number {
    return this.gpaw - 1;
  }
}
