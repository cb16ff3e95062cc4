import { describe, expect, it } from 'vitest';
import { LEAF, OPERAND, REF, TDG } from '../testing/reference.js';
import * as L from './leaves.js';
import * as S from './status.js';
import * as T from './structures.js';

// The package's exported tables against the values of ../shared/reference/tdx-module-abi.md.
describe('tdx-module ABI tables', () => {
  it('should export the status codes of TDX module 1.5.01 and Linux\'s software codes', () => {
    const exported = S as unknown as Record<string, bigint>;
    for (const [name, value] of Object.entries(REF)) expect(`${name}=${exported[name]?.toString(16)}`).toBe(`${name}=${value.toString(16)}`);
  });

  it('should export the operand ids of the reference', () => {
    expect([
      S.TDX_OPERAND_ID_RAX, S.TDX_OPERAND_ID_RCX, S.TDX_OPERAND_ID_RDX, S.TDX_OPERAND_ID_R8, S.TDX_OPERAND_ID_R9,
      S.TDX_OPERAND_ID_ATTRIBUTES, S.TDX_OPERAND_ID_XFAM, S.TDX_OPERAND_ID_EPTP_CONTROLS, S.TDX_OPERAND_ID_MAX_VCPUS,
      S.TDX_OPERAND_ID_TSC_FREQUENCY, S.TDX_OPERAND_ID_TDR, S.TDX_OPERAND_ID_TDCX, S.TDX_OPERAND_ID_TDVPR, S.TDX_OPERAND_ID_OP_STATE,
      S.TDX_OPERAND_ID_SYS,
    ]).toEqual([
      OPERAND.RAX, OPERAND.RCX, OPERAND.RDX, OPERAND.R8, OPERAND.R9, OPERAND.ATTRIBUTES, OPERAND.XFAM, OPERAND.EPTP_CONTROLS,
      OPERAND.MAX_VCPUS, OPERAND.TSC_FREQUENCY, OPERAND.TDR, OPERAND.TDCX, OPERAND.TDVPR, OPERAND.OP_STATE, OPERAND.SYS,
    ]);
  });

  it('should export the SEAMCALL leaf numbers of the reference', () => {
    const exported = L as unknown as Record<string, number>;
    for (const [name, value] of Object.entries(LEAF)) expect(`${name}=${exported[name]}`).toBe(`${name}=${value}`);
  });

  it('should export the TDCALL leaf numbers of the reference', () => {
    expect([L.TDG_VP_VMCALL, L.TDG_VP_INFO, L.TDG_MR_REPORT, L.TDG_VM_RD, L.LEAF_VERSION_SHIFT]).toEqual([TDG.VP_VMCALL, TDG.VP_INFO, TDG.MR_REPORT, TDG.VM_RD, 16]);
  });

  it('should lay out TD_PARAMS as the reference does', () => {
    expect({
      size: T.TD_PARAMS_SIZE, attributes: T.TD_PARAMS_ATTRIBUTES, xfam: T.TD_PARAMS_XFAM, maxVcpus: T.TD_PARAMS_MAX_VCPUS,
      eptp: T.TD_PARAMS_EPTP_CONTROLS, flags: T.TD_PARAMS_CONFIG_FLAGS, tsc: T.TD_PARAMS_TSC_FREQUENCY,
      mrConfigId: T.TD_PARAMS_MRCONFIGID, mrOwner: T.TD_PARAMS_MROWNER, mrOwnerConfig: T.TD_PARAMS_MROWNERCONFIG, cpuid: T.TD_PARAMS_CPUID_CONFIG,
    }).toEqual({
      size: 1024, attributes: 0, xfam: 8, maxVcpus: 16, eptp: 24, flags: 32, tsc: 40, mrConfigId: 80, mrOwner: 128, mrOwnerConfig: 176, cpuid: 256,
    });
  });
});
