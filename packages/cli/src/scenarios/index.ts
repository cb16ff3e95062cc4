import { basic } from './basic.js';
import type { Scenario } from './Scenario.js';

/** Built-in scenarios by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = { basic };

export { basic };
export type { Scenario };
