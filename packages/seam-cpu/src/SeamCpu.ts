import { cpuError } from './errors.js';
import { LogicalProcessor } from './LogicalProcessor.js';
import { PhysicalMemory } from './PhysicalMemory.js';
import type { SeamModule } from './SeamModule.js';

/** Options of a simulated CPU. */
export interface SeamCpuOptions {
  /** Number of logical processors (default 2). */
  readonly logicalProcessors?: number;
  /** Number of packages the LPs are spread over (default 1). */
  readonly packages?: number;
  /** Physical address space in bytes (default 64 GiB, sparse). */
  readonly memoryBytes?: number;
}

/**
 * A SEAM-capable CPU: logical processors, host physical memory, and the SEAM range into which
 * one SEAM module (the TDX module) can be loaded.
 */
export class SeamCpu {
  /** The logical processors, index = LP id. */
  readonly lps: readonly LogicalProcessor[];
  /** Host physical memory. */
  readonly memory: PhysicalMemory;
  /** Number of packages. */
  readonly packages: number;
  #module: SeamModule | undefined;

  /** @param options - CPU shape */
  constructor(options: SeamCpuOptions = {}) {
    const n = options.logicalProcessors ?? 2;
    this.packages = options.packages ?? 1;
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(this.packages) || this.packages < 1 || this.packages > n) {
      throw cpuError('SEAMKIT_ERR_CPU_TOPOLOGY', [n, this.packages]);
    }
    const find = (): SeamModule | undefined => this.#module;
    // Contiguous, balanced blocks: every package gets at least one LP when packages <= LPs.
    const packageOf = (i: number): number => Math.floor((i * this.packages) / n);
    this.lps = Array.from({ length: n }, (_, i) => new LogicalProcessor(i, packageOf(i), find));
    this.memory = new PhysicalMemory(options.memoryBytes);
  }

  /** The loaded SEAM module, if any. */
  get seamModule(): SeamModule | undefined {
    return this.#module;
  }

  /**
   * Loads a SEAM module into the SEAM range (what the P-SEAMLDR does). Until this is done,
   * SEAMCALL fails with VMfailInvalid.
   * @throws SEAMKIT_ERR_CPU_MODULE_LOADED if one is already loaded
   */
  loadSeamModule(module: SeamModule): void {
    if (this.#module !== undefined) throw cpuError('SEAMKIT_ERR_CPU_MODULE_LOADED');
    this.#module = module;
  }

  /**
   * Logical processor `index`.
   * @throws SEAMKIT_ERR_CPU_BAD_LP for an index out of range
   */
  lp(index: number): LogicalProcessor {
    const lp = this.lps[index];
    if (lp === undefined) throw cpuError('SEAMKIT_ERR_CPU_BAD_LP', [index, this.lps.length]);
    return lp;
  }
}
