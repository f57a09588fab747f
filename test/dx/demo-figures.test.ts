import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { archivedResult, narrate } from '../../emulators/call-narrator.js';
import { answerLatencies, lastVoicedMs, playMediaDemoCall, VAD_SILENCE_MS } from '../../emulators/demo-media.js';
import { speechLikePcm } from '../../emulators/acs/index.js';
import { startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { utcDay } from '../../src/lib/archive/index.js';

const plain = (line: string) => line.replace(/\x1b\[[0-9;]*m/g, '');

describe('what the demo prints', () => {
  let stack: OfflineStack;
  beforeAll(async () => {
    stack = await startOfflineStack({ redis: { host: inject('redisHost'), port: inject('redisPort') }, acs: { speechMsPerChar: 8 } });
  });
  afterAll(async () => stack?.close());

  it('prints the transfer when the app transfers the call (the operation the ACS emulator records)', async () => {
    const lines: string[] = [];
    const narrator = narrate(stack, new Set(), (line) => lines.push(plain(line)));
    const recording = await stack.acs.placeCall(
      { from: '+15550100456', to: '+15550100000', steps: [{ waitFor: 'greeting' }, { say: 'I would like to speak to a human, please.' }, { waitFor: 'agentSilence', timeoutMs: 10_000 }] },
      { eventGridUrl: stack.eventGridUrl, maxDurationMs: 30_000 },
    );
    narrator.stop();
    expect(recording.operations).toContain('transferToParticipant');
    expect(lines.some((l) => /system: transfer to \+1•+999$/.test(l.trim()))).toBe(true);
  }, 60_000);

  it('reports the analytics duration of a call as it lasted, not rounded to whole seconds', async () => {
    const recording = await stack.acs.placeCall(
      { from: '+15550100123', to: '+15550100000', steps: [{ waitFor: 'greeting' }, { say: 'What are your opening hours?' }, { say: 'Thanks, goodbye!' }] },
      { eventGridUrl: stack.eventGridUrl, maxDurationMs: 30_000 },
    );
    const callId = callIdForIncoming(recording.serverCallId);
    const lines: string[] = [];
    const result = await archivedResult(stack, 'call', callId, recording.callConnectionId, (line) => lines.push(plain(line)));
    expect(result.archived).toBe(true);
    const archive = await stack.runtime.archive();
    const header = (await archive.transcripts.read(callId))!.header;
    const analytics = (await archive.analytics.get(callId, utcDay('dev', header.startedAt)))!;
    const lasted = Date.parse(header.endedAt) - Date.parse(header.startedAt);
    expect(analytics.durationMs).toBe(lasted);
    // The call lasted under the emulator's own measure (which counts the ring before the answer too).
    expect(analytics.durationMs).toBeLessThanOrEqual(recording.durationMs);
    expect(lines.find((l) => l.includes('analytics'))).toContain(`${(lasted / 1000).toFixed(1)} s`);
  }, 60_000);
});

describe('the media demo latency figure', () => {
  it('measures from the last voiced audio, so no answer is faster than the end-of-speech window', async () => {
    const result = await playMediaDemoCall({ redis: { host: inject('redisHost'), port: inject('redisPort') }, print: () => {} });
    expect(result.answerLatenciesMs.length).toBeGreaterThanOrEqual(3);
    for (const latency of result.answerLatenciesMs) expect(latency).toBeGreaterThanOrEqual(VAD_SILENCE_MS);
  }, 90_000);

  it('finds the voice ending before the audio does (the synthetic speech fades out)', () => {
    const pcm = speechLikePcm(1_200, 24_000, 2);
    const voiced = lastVoicedMs(pcm, 24_000);
    expect(voiced).toBeGreaterThan(600);
    expect(voiced).toBeLessThanOrEqual(1_200);
    expect(lastVoicedMs(Buffer.alloc(960 * 10), 24_000)).toBe(0);
  });

  it('has no latency for a call without media', () => {
    expect(answerLatencies({ heard: [], said: [], media: undefined } as never)).toEqual([]);
  });
});
