import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { failurePrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, phoneNumber, startE2eStack } from './support.js';
import { greetedCall } from '../support/calls.js';

/**
 * A call session that lost its identifiers (a write replayed onto a key Redis had lost leaves only the
 * fields written later). The callback handler cannot check the events against it, so it treats the
 * call's state as lost: audited, and the caller hears the recovery prompt instead of a 500 and dead air.
 */
let stack: OfflineStack;
beforeAll(async () => {
  stack = await startE2eStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('a call session left without its identifiers', () => {
  it('is handled as lost state: audited, and the call ends with the recovery prompt', { timeout: 40_000 }, async () => {
    // Prepare: a greeted call whose session is replaced by a hash holding only a later field.
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(7401), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { pause: 1500 }, { say: 'Where is my order?' }, { pause: 3000 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const live = await greetedCall(stack.acs, known);
    const callId = callIdForIncoming(live.serverCallId);
    const store = await stack.runtime.store();
    const raw = (await stack.runtime.redis()).client;
    const key = stack.runtime.keys.call(callId, 'session');

    // Act
    await raw.del(key);
    await raw.hset(key, 'state', '"connected"');
    store.memory.clear();
    const call = await recording;

    // Assess
    expect(call.heardText.at(-1)).toBe(failurePrompt());
    expect(call.endedBy).toBe('app');
    expect(call.requests.every((r) => r.status < 500)).toBe(true);
    const audit = await (await stack.runtime.archive()).audit.list(callId);
    expect(audit.map((a) => a.action)).toContain('state_lost');
  });
});
