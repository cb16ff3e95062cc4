import { attest } from './attest.js';
import { basic } from './basic.js';
import { debugTd } from './debugTd.js';
import { ioMmio } from './ioMmio.js';
import { mapGpa } from './mapGpa.js';
import { multiVcpu } from './multiVcpu.js';
import { panic } from './panic.js';
import type { Scenario } from './Scenario.js';
import { vendorLeaf } from './vendorLeaf.js';

/** Built-in scenarios by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  basic,
  attest,
  panic,
  'io-mmio': ioMmio,
  'map-gpa': mapGpa,
  'vendor-leaf': vendorLeaf,
  'multi-vcpu': multiVcpu,
  'debug-td': debugTd,
};

export { attest, basic, debugTd, ioMmio, mapGpa, multiVcpu, panic, vendorLeaf };
export type { Scenario };
