import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { userIdFromPhoneNumber, utcDay } from '../../src/lib/archive/index.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { TTL_POLICIES } from '../../src/lib/state/keys.js';
import { APP_NUMBER, archiveOf, lifecycleOf, operationContextOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * A whole inbound call through Event Grid, the dev host, the ACS emulator, real Redis and the embedded
 * Cosmos server: what ACS was asked to do, what the caller heard, and what is left once the lifecycle
 * has finished (archive, analytics, audit, profile, and a Redis holding only the 7-day summary).
 */

const CALLER = phoneNumber(1001);
const QUESTIONS = [
  'Hi there',
  'What are your opening hours?',
  'Where is my order?',
  'I have a question about my bill',
  'Thanks, goodbye',
];

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack();
});

afterAll(async () => {
  await stack?.close();
});

describe('a five-turn inbound call', () => {
  it('answers, converses turn by turn, hangs up, archives the transcript and leaves only the summary in Redis', async () => {
    // Prepare
    const script = { from: CALLER, to: APP_NUMBER, steps: [{ waitFor: 'greeting' as const }, ...QUESTIONS.map((say) => ({ say }))] };

    // Act
    const call = await stack.acs.placeCall(script, { eventGridUrl: stack.eventGridUrl });
    const { status, output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the REST calls, in order — answer, the greeting and four replies each played inside a
    // recognize, the goodbye as a plain play, then the hang-up for everyone (terminate).
    expect(call.incomingCallStatus).toBe(200);
    expect(call.operations).toEqual(['answerCall', 'recognize', 'recognize', 'recognize', 'recognize', 'recognize', 'play', 'terminateCall']);
    expect(call.requests.filter((r) => r.operation === 'recognize').map(operationContextOf)).toEqual(['greeting', 'turn', 'turn', 'turn', 'turn']);
    expect(call.requests.every((r) => r.status >= 200 && r.status < 300)).toBe(true);
    expect(call.said.map((s) => [s.text, s.via])).toEqual(QUESTIONS.map((q) => [q, 'recognize']));
    expect(call.endedBy).toBe('app');
    expect(call.notes).toEqual([]);

    // The complete transcript in Cosmos: the greeting, then every caller turn and the agent's answer, in order.
    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    const transcript = await archive.transcripts.read(callId);
    expect(transcript).toBeDefined();
    const turns = transcript!.turns.map((t) => [t.role, t.content]);
    const expected: [string, string][] = [['assistant', call.heardText[0]!]];
    QUESTIONS.forEach((question, i) => expected.push(['user', question], ['assistant', call.heardText[i + 1]!]));
    expect(turns).toEqual(expected);
    expect(call.heardText).toHaveLength(QUESTIONS.length + 1);
    expect(call.heardText.at(-1)).toMatch(/goodbye/i);
    expect(new Set(transcript!.turns.map((t) => t.id)).size).toBe(transcript!.turns.length);
    // The caller is keyed with the configured salt, not the unkeyed fallback an enumerator could recompute.
    const userId = userIdFromPhoneNumber(CALLER, stack.config.archive.userIdSalt);
    expect(stack.config.archive.userIdSalt).toBeDefined();
    expect(userId).not.toBe(userIdFromPhoneNumber(CALLER));
    expect(transcript!.header).toMatchObject({ callId, caller: userId, outcome: 'completed', turnCount: 11 });
    expect(JSON.stringify(transcript)).not.toContain(CALLER);

    // The lifecycle's own account agrees with the archive.
    expect(status.input).toMatchObject({ callId, callConnectionId: call.callConnectionId, direction: 'inbound', callerUserId: userId });
    expect(output).toMatchObject({ endReason: 'disconnected', hungUpByLifecycle: false, turnCount: 11, turnsArchived: 11, profileUpdated: true, warnings: [] });

    // Analytics: one document in the partition of the call's UTC day.
    const day = utcDay('test', transcript!.header.startedAt);
    const analytics = await archive.analytics.get(callId, day);
    expect(analytics).toMatchObject({ callId, day, type: 'call', turns: 11, outcome: 'completed', bargeIns: 0, userId });
    expect(analytics!.durationMs).toBe(transcript!.header.durationMs);
    expect(analytics!.latency.agent?.count).toBe(QUESTIONS.length);
    expect(analytics!.latency.turn?.count).toBe(QUESTIONS.length);
    // The turn is the caller's wait from the ACS event's time, so it holds the reply time beside it.
    expect(analytics!.latency.reply?.count).toBe(QUESTIONS.length);
    expect(analytics!.latency.turn!.maxMs!).toBeGreaterThanOrEqual(analytics!.latency.reply!.maxMs!);

    // Audit: answered by call control, ended by the lifecycle.
    const audit = await archive.audit.list(callId);
    expect(audit.map((a) => a.action)).toEqual(['answered', 'ended']);
    expect(audit[1]!.details).toMatchObject({ endReason: 'disconnected', turnCount: 11 });

    // The caller's profile counted this call.
    const profile = await archive.profiles.get(userId);
    expect(profile).toMatchObject({ userId, callCount: 1, lastOutcome: 'completed', recentCallIds: [callId] });

    // Redis: everything of the call is gone except its summary, which lives at most 7 days.
    const redis = (await stack.runtime.redis()).client;
    const summaryKey = stack.runtime.keys.call(callId, 'summary');
    expect(await redisKeysOf(stack, callId)).toEqual([summaryKey]);
    const ttlSeconds = await redis.ttl(summaryKey);
    expect(ttlSeconds).toBeGreaterThan(0);
    expect(ttlSeconds).toBeLessThanOrEqual(TTL_POLICIES.call_summary.defaultSeconds);
    expect(JSON.parse((await redis.get(summaryKey))!)).toMatchObject({ callId, outcome: 'completed', turnCount: 11 });
  });

  it('greets a caller who called before with "welcome back"', async () => {
    // Prepare: a first call from a new number, archived (the profile is written by the lifecycle).
    const caller = phoneNumber(1002);
    const first = await stack.acs.placeCall({ from: caller, to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { say: 'Thanks, goodbye' }] }, { eventGridUrl: stack.eventGridUrl });
    await lifecycleOf(stack, first.callConnectionId);

    // Act
    const second = await stack.acs.placeCall({ from: caller, to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { say: 'Thanks, goodbye' }] }, { eventGridUrl: stack.eventGridUrl });
    await lifecycleOf(stack, second.callConnectionId);

    // Assess
    expect(first.heardText[0]).not.toMatch(/welcome back/i);
    expect(second.heardText[0]).toMatch(/welcome back/i);
    const profile = await (await archiveOf(stack)).profiles.get(userIdFromPhoneNumber(caller, stack.config.archive.userIdSalt));
    expect(profile?.callCount).toBe(2);
    expect(profile?.recentCallIds).toEqual([callIdForIncoming(first.serverCallId), callIdForIncoming(second.serverCallId)]);
  });
});
