import { ContainerModule } from 'inversify';
import { LEAF_PLUGIN } from '@seamkit/core';
import { EventNotifier } from './EventNotifier.js';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';
import { QUOTE_SERVICE, type QuoteService } from './QuoteService.js';
import { SetupEventNotifyInterruptLeaf } from './SetupEventNotifyInterruptLeaf.js';

/**
 * DI module of @seamkit/plugin-quote: registers GetQuote (0x10002) and
 * SetupEventNotifyInterrupt (0x10004), sharing one {@link EventNotifier} (the per-TD
 * notification vector and APIC ID). Bind a {@link QuoteService} to {@link QUOTE_SERVICE} (for
 * example with {@link quoteServiceModule}) to produce quotes; bind {@link MSI_INJECTOR} to change
 * how the notification reaches a TD.
 */
export const quoteModule = new ContainerModule(({ bind }) => {
  bind(EventNotifier).toSelf().inSingletonScope();
  bind(GetQuoteLeaf).toSelf().inSingletonScope();
  bind(SetupEventNotifyInterruptLeaf).toSelf().inSingletonScope();
  bind(LEAF_PLUGIN).toService(GetQuoteLeaf);
  bind(LEAF_PLUGIN).toService(SetupEventNotifyInterruptLeaf);
});

/**
 * A DI module binding `service` as the {@link QuoteService} GetQuote uses, for example
 * `quoteServiceModule(new QgsClient(unixSocketTransport('/var/run/tdx-qgs/qgs.socket')))`.
 */
export function quoteServiceModule(service: QuoteService): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(QUOTE_SERVICE).toConstantValue(service);
  });
}
