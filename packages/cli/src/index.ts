/**
 * seamkit: the reference VMM and command line, built only on the public APIs of the @seamkit
 * packages. Importable to run scenarios and benchmarks from code.
 * @packageDocumentation
 */
export { MAX_ERGONOMIC_SLOWDOWN, MAX_SLOWDOWN_VS_FLOOR, runBenchmarks, TARGETS } from './bench/benchmarks.js';
export type { BenchLine, BenchOptions } from './bench/benchmarks.js';
export { kernelFloor, userspaceFloor } from './bench/floors.js';
export { measure, stopGcObserver } from './bench/measure.js';
export type { BenchResult } from './bench/measure.js';
export { CliError } from './CliError.js';
export { main, MAIN_HELP } from './main.js';
export { QGS_HELP, qgsCommand } from './commands/qgsCommand.js';
export {
  attestationGuest, newAttestationSteps, QUOTE_BUFFER, QUOTE_BUFFER_SIZE, QUOTE_HELP, QUOTE_IMAGE, QUOTE_NOTIFY_VECTOR, quoteCommand, quoteStatusName,
  runAttestation,
} from './commands/quoteCommand.js';
export type { AttestationOptions, AttestationResult, AttestationSteps } from './commands/quoteCommand.js';
export { memoryOutput, processOutput, paint } from './Output.js';
export type { Output } from './Output.js';
export { PLUGIN_MODULES, REFERENCE_HANDLERS, runScenario, runScenarioAsync } from './runScenario.js';
export type { RunScenarioOptions, RunScenarioResult } from './runScenario.js';
export { SCENARIOS, attest, basic, debugTd, ioMmio, mapGpa, multiVcpu, panic, vendorLeaf } from './scenarios/index.js';
export { ATTEST_FAILED_STEPS, ATTEST_REPORT_DATA } from './scenarios/attest.js';
export { DEBUG_TD_BITMAP, DEBUG_TD_BREAKPOINT, DEBUG_TD_GUEST_REGS, DEBUG_TD_VMM_REGS } from './scenarios/debugTd.js';
export {
  IO_MMIO_CMOS, IO_MMIO_CMOS_CENTURY, IO_MMIO_DEVICE, IO_MMIO_DEVICE_ID, IO_MMIO_SCRATCH, IO_MMIO_UART, IO_MMIO_UART_LSR,
} from './scenarios/ioMmio.js';
export { MAP_GPA_CHECKPOINTS, MAP_GPA_MARKS, MAP_GPA_MISALIGNED, MAP_GPA_PATTERNS, MAP_GPA_RANGE, MAP_GPA_SIZE } from './scenarios/mapGpa.js';
export {
  answerIn, answerMmioRead, bytesHex, kvmVmOf, mapGpaRange, mmioAccess, portAccess, report, REPORT_FAILED, REPORT_OK, REPORT_PORT,
} from './scenarios/protocol.js';
export type { MmioAccess, PortAccess } from './scenarios/protocol.js';
export { DemoDigestLeaf, demoVendorModule, DEMO_VENDOR_LEAF, KVM_EXIT_SEAMKIT_DEMO } from './scenarios/vendorLeaf.js';
export { PANIC_INFO_PAGE } from './scenarios/panic.js';
export { htmlReport, leafStats, LATENCY_BUCKETS_US } from './htmlReport.js';
export type { LeafStats } from './htmlReport.js';
export { loadGuestModule } from './loadGuestModule.js';
export { parseSize, RUN_HELP, toJson } from './commands/runCommand.js';
export { ABI_HELP } from './commands/abiCommand.js';
export type { Scenario } from './scenarios/index.js';
export type { ScenarioHost, ScenarioNoteData, ScenarioRun, ScenarioVmm } from './scenarios/Scenario.js';
export { BASIC_IMAGE, BASIC_QUOTE_BUFFER, BASIC_UNKNOWN_LEAF } from './scenarios/basic.js';
export { describeExit, formatRecord, Tracer } from './Tracer.js';
export type { TraceRecord } from './Tracer.js';
export { exitName, hex, leafName, statusName, systemEventName, vmxExitName, LEAF_NAMES } from './names.js';
