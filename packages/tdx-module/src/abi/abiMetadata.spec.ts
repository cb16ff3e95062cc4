import { describe, expect, it } from 'vitest';
import * as M from './metadata.js';
import * as S from './status.js';
import * as R from './tdreport.js';

describe('abi/tdreport.ts against the reference (tdx-module-abi.md §8)', () => {
  it('should place every TDREPORT_STRUCT field at its absolute offset', () => {
    expect([R.TDREPORT_SIZE, R.TDREPORT_REPORTDATA_SIZE, R.TDREPORT_REPORTMACSTRUCT_SIZE, R.TDREPORT_TDINFO_SIZE]).toEqual([1024, 64, 256, 512]);
    expect([R.TDREPORT_CPUSVN, R.TDREPORT_TEE_TCB_INFO_HASH, R.TDREPORT_TEE_INFO_HASH, R.TDREPORT_REPORTDATA, R.TDREPORT_MAC]).toEqual([16, 32, 80, 128, 224]);
    expect([R.TDREPORT_TEE_TCB_INFO, R.TDREPORT_TEE_TCB_VALID, R.TDREPORT_TEE_TCB_SVN, R.TDREPORT_MRSEAM, R.TDREPORT_MRSIGNERSEAM, R.TDREPORT_SEAM_ATTRIBUTES]).toEqual([256, 256, 264, 280, 328, 376]);
    expect([R.TDREPORT_TDINFO, R.TDREPORT_TD_ATTRIBUTES, R.TDREPORT_XFAM, R.TDREPORT_MRTD, R.TDREPORT_MRCONFIGID, R.TDREPORT_MROWNER, R.TDREPORT_MROWNERCONFIG, R.TDREPORT_RTMR0, R.TDREPORT_SERVTD_HASH])
      .toEqual([512, 512, 520, 528, 576, 624, 672, 720, 912]);
    expect(R.TDX_REPORT_TYPE).toBe(0x81);
    // DCAP tee_info_t offsets are TDINFO-relative: attributes 0, xfam 8, mr_td 16, mr_config_id 64, mr_owner 112, mr_owner_config 160, rt_mr 208.
    expect([R.TDREPORT_MRTD, R.TDREPORT_MRCONFIGID, R.TDREPORT_MROWNER, R.TDREPORT_MROWNERCONFIG, R.TDREPORT_RTMR0].map((o) => o - R.TDREPORT_TDINFO)).toEqual([16, 64, 112, 160, 208]);
  });
});

describe('abi/metadata.ts and the new statuses against the reference and Linux', () => {
  it('should have the §5.2 metadata and report statuses and the §5.3 operand ids', () => {
    expect([S.TDX_METADATA_FIELD_ID_INCORRECT, S.TDX_METADATA_FIELD_NOT_WRITABLE, S.TDX_METADATA_FIELD_NOT_READABLE, S.TDX_METADATA_FIELD_VALUE_NOT_VALID])
      .toEqual([0xc0000c0000000000n, 0xc0000c0100000000n, 0xc0000c0200000000n, 0xc0000c0300000000n]);
    expect(S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT).toBe(0x00000c0b00000000n);
    expect([S.TDX_INVALID_CPUSVN, S.TDX_INVALID_REPORTMACSTRUCT, S.TDX_NO_VALID_VE_INFO]).toEqual([0xc000100000000000n, 0xc000100100000000n, 0xc000070400000000n]);
    expect([S.TDX_OPERAND_ID_RTMR, S.TDX_OPERAND_ID_METADATA_FIELD]).toEqual([168n, 176n]);
  });

  it('should spell the Linux guest and KVM field ids as Linux does', () => {
    expect(M.TDCS_NOTIFY_ENABLES).toBe(0x9100000000000010n);
    expect(M.TDCS_CONFIG_FLAGS).toBe(0x1110000300000016n);
    expect(M.TDCS_TD_CTLS).toBe(0x1110000300000017n);
    expect(M.TDCS_TOPOLOGY_ENUM_CONFIGURED).toBe(0x9100000000000019n);
    // BUILD_TDX_FIELD(class, field) = class << 56 | field
    expect(M.TDCS_EXEC_TSC_OFFSET).toBe((17n << 56n) | 10n);
    expect(M.mdFieldId(M.MD_TDVPS_MANAGEMENT_CLASS, M.TD_VCPU_PEND_NMI)).toBe((32n << 56n) | 11n);
    expect(M.mdFieldId(M.MD_TDVPS_GUEST_GPR_CLASS, 15, M.MD_CTX_VP, 3)).toBe(M.MD_TDVPS_GPR_BASE + 15n);
    expect(M.TDX_FEATURES0_NO_RBP_MOD).toBe(1n << 18n);
  });

  it('should decode a field id\'s bit layout (§2.2)', () => {
    const id = M.MD_TDCS_ATTRIBUTES; // 0x1110000300000000
    expect((id & M.MD_CLASS_MASK) >> M.MD_CLASS_SHIFT).toBe(17n);
    expect((id & M.MD_CONTEXT_MASK) >> M.MD_CONTEXT_SHIFT).toBe(BigInt(M.MD_CTX_TD));
    expect((id >> M.MD_ELEMENT_SIZE_SHIFT) & 3n).toBe(3n);
    expect(M.MD_SINGLE_ELEMENT_MUST_BE_ZERO & (M.MD_CLASS_MASK | M.MD_CONTEXT_MASK | M.MD_FIELD_CODE_MASK | M.MD_NON_ARCH | M.MD_INC_SIZE | M.MD_WRITE_MASK_VALID | (3n << 32n))).toBe(0n);
  });
});
