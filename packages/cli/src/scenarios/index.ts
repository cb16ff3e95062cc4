import { basic } from './basic.js';
import { multiVcpu } from './multiVcpu.js';
import { panic } from './panic.js';
import type { Scenario } from './Scenario.js';
import { vendorLeaf } from './vendorLeaf.js';

/** Built-in scenarios by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  basic,
  panic,
  'vendor-leaf': vendorLeaf,
  'multi-vcpu': multiVcpu,
};

export { basic, multiVcpu, panic, vendorLeaf };
export type { Scenario };
