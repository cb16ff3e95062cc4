import { ContainerModule } from 'inversify';
import { LEAF_PLUGIN } from '@seamkit/core';
import { ReportFatalErrorLeaf } from './ReportFatalErrorLeaf.js';

/** DI module of @seamkit/plugin-fatal: registers the ReportFatalError leaf. */
export const fatalModule = new ContainerModule(({ bind }) => {
  bind(LEAF_PLUGIN).to(ReportFatalErrorLeaf).inSingletonScope();
});
