/**
 * Metadata field identifiers (TDH.SYS.RD, TDH.MNG.RD/WR, TDH.VP.RD/WR, TDG.VM.RD/WR, TDG.SYS.RD):
 * the bit layout of a field id, the context and class codes, and the ids of the fields the
 * simulated module implements. Constants only.
 *
 * Sources: TDX module 1.5 include/tdx_api_defs.h (`md_field_id_t`), src/common/metadata_handlers/
 * metadata_generic.{c,h} (`is_null_field_id`, `md_check_as_single_element_id`),
 * include/auto_gen/global_sys_fields_lookup.c, tdr_tdcs_fields_lookup.c, tdvps_fields_lookup.c,
 * td_vmcs_fields_lookup.c (field ids as the module's tables spell them); Linux
 * arch/x86/virt/vmx/tdx/tdx_global_metadata.c (global ids Linux reads), arch/x86/kvm/vmx/tdx_arch.h
 * (`BUILD_TDX_FIELD`, TDVPS classes, TD_VCPU_PEND_NMI), arch/x86/include/asm/shared/tdx.h
 * (TDCS_NOTIFY_ENABLES, TDCS_CONFIG_FLAGS, TDCS_TD_CTLS, TDCS_TOPOLOGY_ENUM_CONFIGURED),
 * arch/x86/include/asm/vmx.h (VMCS encodings).
 *
 * Layout of a field id: bits 23:0 field code, 31:24 reserved, 33:32 element size code
 * (0 = 1 byte .. 3 = 8 bytes), 37:34 last element in field, 46:38 last field in sequence,
 * 49:47 reserved, 50 inc_size, 51 write_mask_valid, 54:52 context code, 55 reserved,
 * 61:56 class code, 62 reserved, 63 non-architectural. For a single-element access the module
 * ignores the context, size, inc_size and write_mask_valid bits and bit 63, requires the reserved
 * bits and the two "last" counters to be 0, and finds the field by class and field code.
 * @module
 */

/** The null field id ("MD_FIELD_ID_NA", all ones); with any context code it asks for the first field. */
export const MD_FIELD_ID_NA = 0xffff_ffff_ffff_ffffn;

/** Mask of the field code (bits 23:0). */
export const MD_FIELD_CODE_MASK = 0xff_ffffn;
/** Bit position of the element size code (bits 33:32). */
export const MD_ELEMENT_SIZE_SHIFT = 32n;
/** Bit position of LAST_ELEMENT_IN_FIELD (bits 37:34). */
export const MD_LAST_ELEMENT_SHIFT = 34n;
/** Bit position of LAST_FIELD_IN_SEQUENCE (bits 46:38). */
export const MD_LAST_FIELD_SHIFT = 38n;
/** INC_SIZE (bit 50): element stride 2 (VMCS fields). */
export const MD_INC_SIZE = 1n << 50n;
/** WRITE_MASK_VALID (bit 51). */
export const MD_WRITE_MASK_VALID = 1n << 51n;
/** Bit position of the context code (bits 54:52). */
export const MD_CONTEXT_SHIFT = 52n;
/** Mask of the context code bits (54:52). */
export const MD_CONTEXT_MASK = 7n << MD_CONTEXT_SHIFT;
/** Bit position of the class code (bits 61:56). */
export const MD_CLASS_SHIFT = 56n;
/** Mask of the class code bits (61:56). */
export const MD_CLASS_MASK = 0x3fn << MD_CLASS_SHIFT;
/** Non-architectural field (bit 63). */
export const MD_NON_ARCH = 1n << 63n;
/**
 * Bits a single-element field id must have clear: reserved 31:24, last element 37:34, last field
 * 46:38, reserved 49:47, 55 and 62 (`md_check_as_single_element_id`).
 */
export const MD_SINGLE_ELEMENT_MUST_BE_ZERO = 0xff00_0000n | (0xfn << 34n) | (0x1ffn << 38n) | (7n << 47n) | (1n << 55n) | (1n << 62n);

/** Context code of global (platform) metadata. */
export const MD_CTX_SYS = 0;
/** Context code of TD-scope metadata (TDR and TDCS). */
export const MD_CTX_TD = 1;
/** Context code of vCPU-scope metadata (TDVPS and TD VMCS). */
export const MD_CTX_VP = 2;

/** TD class: TDR TD management. */
export const MD_TDR_TD_MANAGEMENT_CLASS = 0;
/** TD class: TDR key management. */
export const MD_TDR_KEY_MANAGEMENT_CLASS = 1;
/** TD class: TDCS TD management. */
export const MD_TDCS_TD_MANAGEMENT_CLASS = 16;
/** TD class: TDCS execution controls (Linux `TD_CLASS_EXECUTION_CONTROLS`). */
export const MD_TDCS_EXECUTION_CONTROLS_CLASS = 17;
/** TD class: TDCS measurement (MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMRs). */
export const MD_TDCS_MEASUREMENT_CLASS = 19;
/** vCPU class: TD VMCS (field code = VMCS encoding; Linux `TDVPS_CLASS_VMCS`). */
export const MD_TDVPS_VMCS_CLASS = 0;
/** vCPU class: guest GPR state, field n = GPR n (RAX = 0 .. R15 = 15; Linux `TDVPS_CLASS_GUEST_GPR`). */
export const MD_TDVPS_GUEST_GPR_CLASS = 16;
/** vCPU class: other guest state (Linux `TDVPS_CLASS_OTHER_GUEST`). */
export const MD_TDVPS_OTHER_GUEST_CLASS = 17;
/** vCPU class: vCPU management (Linux `TDVPS_CLASS_MANAGEMENT`). */
export const MD_TDVPS_MANAGEMENT_CLASS = 32;

/**
 * Builds a field id (without the counters). `sizeCode` 0..3 = 1, 2, 4, 8 bytes.
 * @param classCode - class code (0..63)
 * @param fieldCode - field code (0..2^24-1)
 * @param context - context code (MD_CTX_*)
 * @param sizeCode - element size code
 * @param nonArch - set bit 63
 */
export function mdFieldId(classCode: number, fieldCode: number, context = 0, sizeCode = 0, nonArch = false): bigint {
  return (nonArch ? MD_NON_ARCH : 0n) | (BigInt(classCode) << MD_CLASS_SHIFT) | (BigInt(context) << MD_CONTEXT_SHIFT)
    | (BigInt(sizeCode) << MD_ELEMENT_SIZE_SHIFT) | BigInt(fieldCode);
}

// ---- Global metadata (TDH.SYS.RD, TDG.SYS.RD), ids as in global_sys_fields_lookup.c ----

/** VENDOR_ID (4 bytes, 0x8086). */
export const MD_SYS_VENDOR_ID = 0x0800_0002_0000_0000n;
/** BUILD_DATE (4 bytes, YYYYMMDD). */
export const MD_SYS_BUILD_DATE = 0x8800_0002_0000_0001n;
/** BUILD_NUM (2 bytes). */
export const MD_SYS_BUILD_NUM = 0x8800_0001_0000_0002n;
/** MINOR_VERSION (2 bytes). */
export const MD_SYS_MINOR_VERSION = 0x0800_0001_0000_0003n;
/** MAJOR_VERSION (2 bytes). */
export const MD_SYS_MAJOR_VERSION = 0x0800_0001_0000_0004n;
/** UPDATE_VERSION (2 bytes). */
export const MD_SYS_UPDATE_VERSION = 0x0800_0001_0000_0005n;
/** INTERNAL_VERSION (2 bytes). */
export const MD_SYS_INTERNAL_VERSION = 0x0800_0001_0000_0006n;
/** MODULE_HV: handoff version this module produces (2 bytes). */
export const MD_SYS_MODULE_HV = 0x8900_0001_0000_0000n;
/** MIN_UPDATE_HV: lowest handoff version TDH.SYS.SHUTDOWN accepts (2 bytes). */
export const MD_SYS_MIN_UPDATE_HV = 0x8900_0001_0000_0001n;
/** NO_DOWNGRADE (1 byte). */
export const MD_SYS_NO_DOWNGRADE = 0x8900_0000_0000_0002n;
/** SYS_ATTRIBUTES (4 bytes). */
export const MD_SYS_ATTRIBUTES = 0x0a00_0002_0000_0000n;
/** NUM_TDX_FEATURES (1 byte). */
export const MD_SYS_NUM_TDX_FEATURES = 0x0a00_0000_0000_0001n;
/** TDX_FEATURES0 (8 bytes). */
export const MD_SYS_TDX_FEATURES0 = 0x0a00_0003_0000_0008n;
/** NUM_CMRS (2 bytes). */
export const MD_SYS_NUM_CMRS = 0x9000_0001_0000_0000n;
/** CMR_BASE[i] = this + i (8 bytes, 32 fields). */
export const MD_SYS_CMR_BASE = 0x9000_0003_0000_0080n;
/** CMR_SIZE[i] = this + i (8 bytes, 32 fields). */
export const MD_SYS_CMR_SIZE = 0x9000_0003_0000_0100n;
/** MAX_TDMRS (2 bytes). */
export const MD_SYS_MAX_TDMRS = 0x9100_0001_0000_0008n;
/** MAX_RESERVED_PER_TDMR (2 bytes). */
export const MD_SYS_MAX_RESERVED_PER_TDMR = 0x9100_0001_0000_0009n;
/** PAMT_4K_ENTRY_SIZE (2 bytes). */
export const MD_SYS_PAMT_4K_ENTRY_SIZE = 0x9100_0001_0000_0010n;
/** PAMT_2M_ENTRY_SIZE (2 bytes). */
export const MD_SYS_PAMT_2M_ENTRY_SIZE = 0x9100_0001_0000_0011n;
/** PAMT_1G_ENTRY_SIZE (2 bytes). */
export const MD_SYS_PAMT_1G_ENTRY_SIZE = 0x9100_0001_0000_0012n;
/** TDR_BASE_SIZE in bytes (2 bytes). */
export const MD_SYS_TDR_BASE_SIZE = 0x9800_0001_0000_0000n;
/** TDCS_BASE_SIZE in bytes (2 bytes); Linux: TDCS pages = this / 4096. */
export const MD_SYS_TDCS_BASE_SIZE = 0x9800_0001_0000_0100n;
/** TDVPS_BASE_SIZE in bytes (2 bytes); Linux: TDVPS pages = this / 4096. */
export const MD_SYS_TDVPS_BASE_SIZE = 0x9800_0001_0000_0200n;
/** ATTRIBUTES_FIXED0 (8 bytes): a TD attribute bit that is 0 here must be 0. */
export const MD_SYS_ATTRIBUTES_FIXED0 = 0x1900_0003_0000_0000n;
/** ATTRIBUTES_FIXED1 (8 bytes): a TD attribute bit that is 1 here must be 1. */
export const MD_SYS_ATTRIBUTES_FIXED1 = 0x1900_0003_0000_0001n;
/** XFAM_FIXED0 (8 bytes). */
export const MD_SYS_XFAM_FIXED0 = 0x1900_0003_0000_0002n;
/** XFAM_FIXED1 (8 bytes). */
export const MD_SYS_XFAM_FIXED1 = 0x1900_0003_0000_0003n;
/** NUM_CPUID_CONFIG (2 bytes). */
export const MD_SYS_NUM_CPUID_CONFIG = 0x9900_0001_0000_0004n;
/** CONFIG_FLAGS_FIXED0 (8 bytes). */
export const MD_SYS_CONFIG_FLAGS_FIXED0 = 0x9900_0003_0000_0006n;
/** CONFIG_FLAGS_FIXED1 (8 bytes). */
export const MD_SYS_CONFIG_FLAGS_FIXED1 = 0x9900_0003_0000_0007n;
/** MAX_VCPUS_PER_TD (2 bytes). */
export const MD_SYS_MAX_VCPUS_PER_TD = 0x9900_0001_0000_0008n;
/**
 * CPUID_CONFIG_LEAVES[i] = this + i (8 bytes, NUM_CPUID_CONFIG fields): leaf in bits 31:0, subleaf
 * in bits 63:32 (0xFFFFFFFF: no subleaf). Linux reads it as `cpuid_config_leaves[i]`.
 */
export const MD_SYS_CPUID_CONFIG_LEAVES = 0x9900_0003_0000_0400n;
/**
 * CPUID_CONFIG_VALUES[i][j] = this + 2 * i + j (8 bytes, NUM_CPUID_CONFIG fields of 2 elements):
 * element 0 = EBX:EAX, element 1 = EDX:ECX, the bits the host VMM may configure. Linux reads it
 * as `cpuid_config_values[i][j]`.
 */
export const MD_SYS_CPUID_CONFIG_VALUES = 0x9900_0003_0000_0500n;

/** TDX_FEATURES0 bit 18: NO_RBP_MOD supported (Linux `TDX_FEATURES0_NO_RBP_MOD`; KVM requires it). */
export const TDX_FEATURES0_NO_RBP_MOD = 1n << 18n;

// ---- TD-scope metadata (TDH.MNG.RD/WR, TDG.VM.RD/WR), ids as in tdr_tdcs_fields_lookup.c ----

/** TDR FATAL (1 byte). */
export const MD_TDR_FATAL = 0x8010_0000_0000_0001n;
/** TDR NUM_TDCX (4 bytes). */
export const MD_TDR_NUM_TDCX = 0x8010_0002_0000_0002n;
/** TDR CHLDCNT (8 bytes). */
export const MD_TDR_CHLDCNT = 0x8010_0003_0000_0004n;
/** TDR LIFECYCLE_STATE (4 bytes). */
export const MD_TDR_LIFECYCLE_STATE = 0x8010_0002_0000_0005n;
/** TDR TDCX_PA[i] = this + i (8 bytes, 9 fields). */
export const MD_TDR_TDCX_PA = 0x8010_0003_0000_0010n;
/** TDR HKID (2 bytes). */
export const MD_TDR_HKID = 0x8110_0001_0000_0001n;
/** TDCS NUM_VCPUS (4 bytes). */
export const MD_TDCS_NUM_VCPUS = 0x9010_0002_0000_0001n;
/** TDCS NUM_ASSOC_VCPUS (4 bytes). */
export const MD_TDCS_NUM_ASSOC_VCPUS = 0x9010_0002_0000_0002n;
/** TDCS OP_STATE (4 bytes). */
export const MD_TDCS_OP_STATE = 0x9010_0002_0000_0004n;
/** TDCS ATTRIBUTES (8 bytes). */
export const MD_TDCS_ATTRIBUTES = 0x1110_0003_0000_0000n;
/** TDCS XFAM (8 bytes). */
export const MD_TDCS_XFAM = 0x1110_0003_0000_0001n;
/** TDCS MAX_VCPUS (4 bytes). */
export const MD_TDCS_MAX_VCPUS = 0x1110_0002_0000_0002n;
/** TDCS GPAW (1 byte): 1 if the TD has MAX_GPAW (GPAW 52), 0 for GPAW 48. */
export const MD_TDCS_GPAW = 0x1110_0000_0000_0003n;
/** TDCS EPTP (8 bytes). */
export const MD_TDCS_EPTP = 0x1110_0003_0000_0004n;
/** TDCS TSC_OFFSET (8 bytes); KVM reads it as TDCS_EXEC(TD_TDCS_EXEC_TSC_OFFSET). */
export const MD_TDCS_TSC_OFFSET = 0x1110_0003_0000_000an;
/** TDCS TSC_MULTIPLIER (8 bytes); KVM reads it as TDCS_EXEC(TD_TDCS_EXEC_TSC_MULTIPLIER). */
export const MD_TDCS_TSC_MULTIPLIER = 0x1110_0003_0000_000bn;
/** TDCS TSC_FREQUENCY (2 bytes, units of 25 MHz). */
export const MD_TDCS_TSC_FREQUENCY = 0x1110_0001_0000_000cn;
/** TDCS NOTIFY_ENABLES (8 bytes; guest-writable bit 0). */
export const MD_TDCS_NOTIFY_ENABLES = 0x9110_0003_0000_0010n;
/** TDCS CONFIG_FLAGS (8 bytes). */
export const MD_TDCS_CONFIG_FLAGS = 0x9110_0003_0000_0016n;
/** TDCS TD_CTLS (8 bytes; guest-writable bits 2:0). */
export const MD_TDCS_TD_CTLS = 0x9110_0003_0000_0017n;
/** TDCS TOPOLOGY_ENUM_CONFIGURED (1 byte). */
export const MD_TDCS_TOPOLOGY_ENUM_CONFIGURED = 0x9110_0000_0000_0019n;
/** TDCS MRTD element e = this + e (6 x 8 bytes). */
export const MD_TDCS_MRTD = 0x1310_0003_0000_0000n;
/** TDCS MRCONFIGID element e = this + e. */
export const MD_TDCS_MRCONFIGID = 0x1310_0003_0000_0010n;
/** TDCS MROWNER element e = this + e. */
export const MD_TDCS_MROWNER = 0x1310_0003_0000_0018n;
/** TDCS MROWNERCONFIG element e = this + e. */
export const MD_TDCS_MROWNERCONFIG = 0x1310_0003_0000_0020n;
/** TDCS RTMR[i] element e = this + 6 * i + e (4 fields x 6 elements; not host-readable in a non-debug TD). */
export const MD_TDCS_RTMR = 0x1310_0003_0000_0040n;

/** TD class: TDCS CPUID values (the virtualized CPUID the TD sees). */
export const MD_TDCS_CPUID_CLASS = 20;
/**
 * TDCS CPUID_VALUES base id (8 bytes, 2 elements per leaf: EBX:EAX, EDX:ECX; Linux KVM
 * `TD_MD_FIELD_ID_CPUID_VALUES`). The field code of a leaf is {@link cpuidValuesFieldCode}.
 */
export const MD_TDCS_CPUID_VALUES = 0x9410_0003_0000_0000n;

/**
 * Field code (bits 23:0) of element `element` of the TDCS CPUID_VALUES field of `leaf` /
 * `subleaf` (KVM's tdx_read_cpuid): bit 16 = leaf bit 31, bits 15:9 = leaf bits 6:0, bit 8 =
 * SUBLEAF_NA, bits 7:1 = subleaf bits 6:0 (all ones when there is no subleaf), bit 0 = element.
 * Leaf bits 30:7 and subleaf bits 31:7 cannot be expressed (they are implicitly 0).
 * @param leaf - CPUID leaf (EAX input)
 * @param subleaf - CPUID subleaf (ECX input), or undefined for a leaf without subleaves
 * @param element - 0 for EBX:EAX, 1 for EDX:ECX
 */
export function cpuidValuesFieldCode(leaf: number, subleaf: number | undefined, element: 0 | 1): number {
  const l = ((leaf >>> 31) << 16) | ((leaf & 0x7f) << 9);
  return l | (subleaf === undefined ? 0x1fe : (subleaf & 0x7f) << 1) | element;
}

/** TD_CTLS bit 0 PENDING_VE_DISABLE (Linux `TD_CTLS_PENDING_VE_DISABLE`). */
export const TD_CTLS_PENDING_VE_DISABLE = 1n << 0n;
/** TD_CTLS bit 1 ENUM_TOPOLOGY (Linux `TD_CTLS_ENUM_TOPOLOGY`). */
export const TD_CTLS_ENUM_TOPOLOGY = 1n << 1n;
/** TD_CTLS bit 2 (REDUCE_VE in later modules). */
export const TD_CTLS_REDUCE_VE = 1n << 2n;

/** Linux guest's spelling of NOTIFY_ENABLES (`TDCS_NOTIFY_ENABLES`, no context or size code). */
export const TDCS_NOTIFY_ENABLES = 0x9100_0000_0000_0010n;
/** Linux guest's spelling of CONFIG_FLAGS (`TDCS_CONFIG_FLAGS`). */
export const TDCS_CONFIG_FLAGS = 0x1110_0003_0000_0016n;
/** Linux guest's spelling of TD_CTLS (`TDCS_TD_CTLS`). */
export const TDCS_TD_CTLS = 0x1110_0003_0000_0017n;
/** Linux guest's spelling of TOPOLOGY_ENUM_CONFIGURED (`TDCS_TOPOLOGY_ENUM_CONFIGURED`). */
export const TDCS_TOPOLOGY_ENUM_CONFIGURED = 0x9100_0000_0000_0019n;
/** KVM's spelling of TSC_OFFSET: `TDCS_EXEC(TD_TDCS_EXEC_TSC_OFFSET)` = BUILD_TDX_FIELD(17, 10). */
export const TDCS_EXEC_TSC_OFFSET = 0x1100_0000_0000_000an;
/** KVM's spelling of TSC_MULTIPLIER: `TDCS_EXEC(TD_TDCS_EXEC_TSC_MULTIPLIER)`. */
export const TDCS_EXEC_TSC_MULTIPLIER = 0x1100_0000_0000_000bn;

// ---- vCPU-scope metadata (TDH.VP.RD/WR), ids as in tdvps_fields_lookup.c / td_vmcs_fields_lookup.c ----

/** TDVPS GPR n = this + n (8 bytes; RAX = 0 .. R15 = 15; debug TDs only; RSP (4) is not accessible here). */
export const MD_TDVPS_GPR_BASE = 0x1020_0003_0000_0000n;
/** TDVPS management VCPU_STATE (1 byte, debug only). */
export const MD_TDVPS_VCPU_STATE = 0xa020_0000_0000_0000n;
/** TDVPS management VCPU_INDEX (4 bytes). */
export const MD_TDVPS_VCPU_INDEX = 0xa020_0002_0000_0002n;
/** TDVPS management CPUID_SUPERVISOR_VE (1 byte). */
export const MD_TDVPS_CPUID_SUPERVISOR_VE = 0xa020_0000_0000_0007n;
/** TDVPS management CPUID_USER_VE (1 byte). */
export const MD_TDVPS_CPUID_USER_VE = 0xa020_0000_0000_0008n;
/** TDVPS management PEND_NMI (1 byte; KVM's `TDVPS_MANAGEMENT(TD_VCPU_PEND_NMI)`). */
export const MD_TDVPS_PEND_NMI = 0x2020_0000_0000_000bn;
/** TDVPS other guest state VCPU_STATE_DETAILS (non-arch, 8 bytes; bit 0 VMXIP). */
export const MD_TDVPS_VCPU_STATE_DETAILS = 0x9120_0003_0000_0100n;

/** Management field TD_VCPU_PEND_NMI (Linux tdx_arch.h). */
export const TD_VCPU_PEND_NMI = 11;
/** Other-guest-state field TD_VCPU_STATE_DETAILS_NON_ARCH (Linux). */
export const TD_VCPU_STATE_DETAILS_NON_ARCH = 0x100;

/** VMCS encoding POSTED_INTR_NV (16-bit). */
export const VMCS_POSTED_INTR_NV = 0x0002;
/** VMCS encoding POSTED_INTR_DESC_ADDR (64-bit). */
export const VMCS_POSTED_INTR_DESC_ADDR = 0x2016;
/** VMCS encoding SHARED_EPT_POINTER (64-bit). */
export const VMCS_SHARED_EPT_POINTER = 0x203c;
/** VMCS encoding PIN_BASED_VM_EXEC_CONTROL (32-bit). */
export const VMCS_PIN_BASED_VM_EXEC_CONTROL = 0x4000;
/** VMCS encoding GUEST_RSP (natural width). */
export const VMCS_GUEST_RSP = 0x681c;
/** VMCS encoding GUEST_RIP (natural width). */
export const VMCS_GUEST_RIP = 0x681e;
/** VMCS encoding GUEST_RFLAGS (natural width). */
export const VMCS_GUEST_RFLAGS = 0x6820;
/** PIN_BASED_VM_EXEC_CONTROL bit 7: process posted interrupts (the only host-writable bit). */
export const PIN_BASED_POSTED_INTR = 0x80;
