import { ContainerModule } from 'inversify';
import { LEAF_PLUGIN } from '@seamkit/core';
import { GetQuoteLeaf } from './GetQuoteLeaf.js';

/** DI module of @seamkit/plugin-quote: registers the GetQuote leaf. */
export const quoteModule = new ContainerModule(({ bind }) => {
  bind(GetQuoteLeaf).toSelf().inSingletonScope();
  bind(LEAF_PLUGIN).toService(GetQuoteLeaf);
});
