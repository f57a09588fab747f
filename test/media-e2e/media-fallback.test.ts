import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { utcDay } from '../../src/lib/archive/index.js';
import { archiveOf, lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, startMediaStack } from './support.js';

/**
 * A media-mode call whose media WebSocket ACS cannot open (MediaStreamingFailed, 8581). The call must
 * not stay silent: it goes on over recognize/play (the Cognitive Services link is configured), and
 * the fallback is audited and counted in analytics.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startMediaStack({}, { env: { LOG_LEVEL: 'error', COGNITIVE_SERVICES_ENDPOINT: 'https://speech.example.cognitiveservices.azure.com/' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('a media call whose stream fails to open', () => {
  it('falls back to recognize and play, converses, and is audited and counted', { timeout: 30_000 }, async () => {
    // Prepare
    stack.acs.faults.failMediaConnections(1);

    // Act
    const call = await stack.acs.placeCall(
      { from: '+15550107101', to: APP_NUMBER, steps: [{ waitFor: 'greeting', timeoutMs: 10_000 }, { say: 'What are your opening hours?' }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: greeted and answered over recognize, after the stream failed.
    expect(call.eventTypes).toContain('MediaStreamingFailed');
    expect(call.operations.slice(0, 3)).toEqual(['answerCall', 'recognize', 'recognize']);
    expect(call.heardText[0]).toBe(greetingPrompt(undefined));
    expect(call.said.map((s) => [s.text, s.via])).toEqual([['What are your opening hours?', 'recognize']]);
    expect(output.turnsArchived).toBe(3);
    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    expect((await archive.audit.list(callId)).map((a) => a.action)).toContain('media_failed');
    const rollup = await archive.analytics.dailyRollup(utcDay('test', new Date().toISOString()));
    expect(rollup.mediaFallbacks).toBeGreaterThanOrEqual(1);
  });
});
