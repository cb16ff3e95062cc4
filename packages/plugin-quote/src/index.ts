/**
 * @seamkit/plugin-quote: attestation for seamkit VMMs. The GetQuote (0x10002) and
 * SetupEventNotifyInterrupt (0x10004) TDVMCALL leaves (KVM's kernel halves, QEMU's userspace
 * halves), the QGS wire protocol QEMU speaks (client over a Unix socket or in-process, and a
 * service), and a quote generation service producing DCAP version 4 TD quotes certified by a
 * test PKI it generates, with the collateral a DCAP verifier needs.
 * @packageDocumentation
 */
// @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';

export * from './abi/dcapQuote.js';
export * from './abi/getQuote.js';
export * from './abi/qgs.js';
export { encodeGetQuoteRequest, encodeGetQuoteResponse } from './qgs/qgsMessages.js';
export { QgsResponseReader } from './qgs/QgsResponseReader.js';
export type { QgsReadDone, QgsReadError, QgsReadMore, QgsReadResult } from './qgs/QgsResponseReader.js';
export * from './abi/tdReport.js';
export { checkTdReport, DcapQuoteGenerator, TD_REPORT_BODY_MAP, tdReportBody } from './dcap/DcapQuoteGenerator.js';
export type { DcapQuoteGeneratorOptions } from './dcap/DcapQuoteGenerator.js';
export { parseDcapQuote, parseEnclaveReport } from './dcap/parseDcapQuote.js';
export type { EnclaveReport, ParsedTdQuote, QuoteHeader, TdQuoteBody } from './dcap/parseDcapQuote.js';
export { CRL_URLS, DEFAULT_PLATFORM, PKI_NAMES, SGX_OID, sgxExtensionValue, TestPki } from './dcap/TestPki.js';
export type { DcapCollateral, PlatformTcb, TestPkiOptions } from './dcap/TestPki.js';
export { parsePckExtension, pemCertificates, verifyDcapQuote } from './dcap/verifyDcapQuote.js';
export type { PckExtension, VerifiedQuote } from './dcap/verifyDcapQuote.js';
export { QUOTE_ERRORS, quoteError } from './errors.js';
export type { QuoteErrorCode } from './errors.js';
export {
  APIC_DM_FIXED, EventNotifier, eventNotifyMsi, MSI_ADDR_DEST_ID_SHIFT, MSI_DATA_DELIVERY_MODE_SHIFT, MSI_INJECTOR, vmMsiInjector,
} from './EventNotifier.js';
export type { EventNotifyRegistration, KvmMsi, MsiInjector } from './EventNotifier.js';
export { GetQuoteLeaf } from './GetQuoteLeaf.js';
export { QgsClient } from './qgs/QgsClient.js';
export { QGS_MAX_REQUEST, QgsServer } from './qgs/QgsServer.js';
export type { GenerateQuote, QgsServerStats } from './qgs/QgsServer.js';
export { duplexPair, inProcessTransport, unixSocketTransport } from './qgs/transport.js';
export type { InProcessQgs, QgsTransport } from './qgs/transport.js';
export { quoteModule, quoteServiceModule } from './quoteModule.js';
export { QUOTE_SERVICE } from './QuoteService.js';
export type { QuoteRequestOptions, QuoteService } from './QuoteService.js';
export { SetupEventNotifyInterruptLeaf, TDG_VP_VMCALL_SUBFUNC_SET_EVENT_NOTIFY_INTERRUPT } from './SetupEventNotifyInterruptLeaf.js';
