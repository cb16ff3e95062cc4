/**
 * seamkit: the reference VMM and command line, built only on the public APIs of the @seamkit
 * packages. Importable to run scenarios and benchmarks from code.
 * @packageDocumentation
 */
export { runBenchmarks, TARGETS } from './bench/benchmarks.js';
export type { BenchLine, BenchOptions } from './bench/benchmarks.js';
export { kernelFloor, userspaceFloor } from './bench/floors.js';
export { measure, stopGcObserver } from './bench/measure.js';
export type { BenchResult } from './bench/measure.js';
export { CliError } from './CliError.js';
export { main, MAIN_HELP } from './main.js';
export { memoryOutput, processOutput, paint } from './Output.js';
export type { Output } from './Output.js';
export { runScenario } from './runScenario.js';
export type { RunScenarioOptions, RunScenarioResult } from './runScenario.js';
export { SCENARIOS, basic } from './scenarios/index.js';
export type { Scenario } from './scenarios/index.js';
export { BASIC_IMAGE, BASIC_QUOTE_BUFFER, BASIC_UNKNOWN_LEAF } from './scenarios/basic.js';
export { formatRecord, Tracer } from './Tracer.js';
export type { TraceRecord } from './Tracer.js';
export { exitName, hex, leafName, statusName, LEAF_NAMES } from './names.js';
