// The reference VMM from code: run a built-in scenario (or your own Scenario object) with
// runScenarioAsync and get the same records `seamkit run --json` prints, as objects.
import { formatRecord, mapGpa, runScenarioAsync, type TraceRecord } from 'seamkit';

export async function mapGpaHypercalls(): Promise<{ lines: string[]; failures: readonly string[] }> {
  const lines: string[] = [];
  const result = await runScenarioAsync(mapGpa, {
    onRecord: (r: TraceRecord) => {
      if (r.reasonName === 'KVM_EXIT_HYPERCALL') lines.push(formatRecord(r));
    },
  });
  return { lines, failures: result.failures };
}
