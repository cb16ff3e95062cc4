/**
 * @seamkit/core/testing: unit-test one leaf plugin without a VM ({@link LeafTestBed}).
 * @packageDocumentation
 */
export { LeafTestBed } from './LeafTestBed.js';
export type { GuestView, KernelOutcome, LeafTestBedOptions, TestRegisters } from './LeafTestBed.js';
export { TestMemory } from './TestMemory.js';
