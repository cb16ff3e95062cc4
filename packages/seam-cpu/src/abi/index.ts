/**
 * @seamkit/seam-cpu/abi: the CPU-level ABI constants alone (register slots, VMX exit reasons,
 * GHCI leaf numbers and status codes), with no classes. The same names are exported from
 * `@seamkit/seam-cpu`; this entry exists so hot paths can have them compiled in as immediate
 * values (seamkit's own packages bundle it; see docs/performance.md).
 * @packageDocumentation
 */
export * from './registers.js';
export * from './vmx.js';
export * from './ghci.js';
