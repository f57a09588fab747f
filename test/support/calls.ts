import { vi } from 'vitest';
import type { EmulatedCall } from '../../emulators/acs/index.js';

/**
 * Waits for the first call the ACS emulator holds that was not among `known` (the call ids before the
 * test placed its call) and on which the app has asked for speech: a call that has been greeted.
 */
export function greetedCall(acs: { readonly calls: ReadonlyMap<string, EmulatedCall> }, known: ReadonlySet<string>, timeoutMs = 15_000): Promise<EmulatedCall> {
  return vi.waitFor(
    () => {
      const call = [...acs.calls.values()].find((c) => !known.has(c.callConnectionId) && c.requests.some((r) => r.operation === 'recognize'));
      if (!call) throw new Error('the call has not been greeted yet');
      return call;
    },
    { timeout: timeoutMs },
  );
}
