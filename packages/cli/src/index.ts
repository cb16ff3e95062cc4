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
export { QGS_HELP, qgsCommand } from './commands/qgsCommand.js';
export { QUOTE_BUFFER, QUOTE_BUFFER_SIZE, QUOTE_HELP, QUOTE_IMAGE, QUOTE_NOTIFY_VECTOR, quoteCommand, runAttestation } from './commands/quoteCommand.js';
export type { AttestationOptions, AttestationResult } from './commands/quoteCommand.js';
export { memoryOutput, processOutput, paint } from './Output.js';
export type { Output } from './Output.js';
export { PLUGIN_MODULES, runScenario } from './runScenario.js';
export type { RunScenarioOptions, RunScenarioResult } from './runScenario.js';
export { SCENARIOS, basic, multiVcpu, panic, vendorLeaf } from './scenarios/index.js';
export { DemoDigestLeaf, demoVendorModule, DEMO_VENDOR_LEAF, KVM_EXIT_SEAMKIT_DEMO } from './scenarios/vendorLeaf.js';
export { PANIC_INFO_PAGE } from './scenarios/panic.js';
export { htmlReport, leafStats, LATENCY_BUCKETS_US } from './htmlReport.js';
export type { LeafStats } from './htmlReport.js';
export { loadGuestModule } from './loadGuestModule.js';
export { parseSize } from './commands/runCommand.js';
export type { Scenario } from './scenarios/index.js';
export { BASIC_IMAGE, BASIC_QUOTE_BUFFER, BASIC_UNKNOWN_LEAF } from './scenarios/basic.js';
export { formatRecord, Tracer } from './Tracer.js';
export type { TraceRecord } from './Tracer.js';
export { exitName, hex, leafName, statusName, LEAF_NAMES } from './names.js';
