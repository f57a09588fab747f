/**
 * A relay killed while the caller speaks (RELAY_STANDBY): frames published to `call.<id>.in` while no
 * relay is in the group are gone, so without a standby the utterance the dead owner had not persisted
 * is lost; with one, the standby takes the call over and replays the caller audio after the last
 * persisted caller turn into the new agent session. The realtime emulator is in its realistic mode: a
 * session that hears only the tail of an utterance does not transcribe it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerStep } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import type { Relay } from '../../src/lib/media/relay.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { APP_NUMBER, ask, startMediaStack, wholeCall } from './support.js';

const Q = ['What are your opening hours', 'Can I change my address please'];
/** The second question is long, so a relay can be killed well inside it. */
const SECOND_MS = 2_000;

/** A two-relay media stack (standby on or off) that reports agent turns and the owner's transcription frames. */
function standbyStack(standby: boolean) {
  let stack: OfflineStack | undefined;
  const agentTurns = new Map<string, number>();
  const transcribed: Array<{ callId: string; text: string }> = [];
  beforeAll(async () => {
    stack = await startMediaStack(
      {
        relays: 2,
        heartbeatTtlSeconds: 5,
        relay: {
          logger: consoleLogger(process.env.RELAY_DEBUG ? 'info' : 'error', { component: 'relay' }),
          onTurn: (callId, turn) => void (turn.role === 'agent' && agentTurns.set(callId, (agentTurns.get(callId) ?? 0) + 1)),
          // The emulator's text channel, as the stack wires it, and a note of when the owner got it.
          onCallerTranscription: (callId, text, utteranceId) => {
            transcribed.push({ callId, text });
            stack!.media!.realtime.utterances.say(text, callId, utteranceId);
          },
        },
      },
      { env: { LOG_LEVEL: 'error', RELAY_STANDBY: String(standby) } },
    );
  });
  afterAll(async () => {
    await stack?.close();
  });
  return { stack: () => stack!, agentTurns, transcribed };
}

function script(): CallerStep[] {
  return [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask(Q[0]!), { pause: 300 }, { say: Q[1]!, audioMs: SECOND_MS }, { waitFor: 'agentSilence', quietMs: 1_500, timeoutMs: 15_000 }, { hangUp: true }];
}

type Moment = 'mid-utterance' | 'just after the utterance' | 'once its caller turn is persisted, before the answer';

/** Places the call, kills its owner at `moment` of the second question, and returns the archive's turns. */
async function killOwner(fixture: ReturnType<typeof standbyStack>, phone: string, moment: Moment): Promise<{ turns: string[][]; survivor: Relay; callId: string }> {
  const stack = fixture.stack();
  fixture.agentTurns.clear();
  const placed = stack.acs.placeCall({ from: phone, to: APP_NUMBER, steps: script() }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 50_000 });
  const callId = await eventually('the greeting and the first answer', () => [...fixture.agentTurns].find(([, n]) => n >= 2)?.[0], 20_000);
  const owner = stack.media!.relays.find((r) => r.calls().includes(callId))!;
  const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId && !s.closed)!;
  if (moment === 'mid-utterance') {
    await eventually('the caller speaking the second question', () => session.callerSpeaking || undefined, 10_000);
    await new Promise((resolve) => setTimeout(resolve, SECOND_MS / 3));
    expect(session.callerSpeaking).toBe(true);
  } else if (moment === 'once its caller turn is persisted, before the answer') {
    // The owner wrote the caller's turn; the model's answer is still to come (or streaming).
    await eventually('the second question said', () => fixture.transcribed.some((t) => t.callId === callId && t.text === Q[1]) || undefined, 10_000);
    const persistedBefore = owner.stats().perCall.get(callId)!.turnsPersisted;
    await eventually('the second question persisted', () => (owner.stats().perCall.get(callId)!.turnsPersisted > persistedBefore ? true : undefined), 10_000);
    expect(fixture.agentTurns.get(callId)).toBe(2);
  } else {
    // The owner has the whole utterance (its transcription frame follows the last audio frame); the
    // model's end of speech comes 500 ms later, so nothing of it is persisted yet.
    await eventually('the second question said', () => fixture.transcribed.some((t) => t.callId === callId && t.text === Q[1]) || undefined, 10_000);
  }
  await owner.terminate();
  const survivor = await eventually('a relay that took the call', () => stack.media!.relays.find((r) => r !== owner && r.calls().includes(callId)), 10_000);
  const call = await placed;
  await lifecycleOf(stack, call.callConnectionId);
  expect(call.notes).toEqual([]);
  const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
  // A replacement, so two relays run for the next test.
  await stack.media!.startRelay();
  return { turns: transcript!.turns.map((t) => [t.role, t.content]), survivor, callId };
}

const WHOLE_CALL = wholeCall(Q);

describe('relay killed while the caller speaks, with a standby relay', () => {
  const fixture = standbyStack(true);

  it('has the other relay stand by as soon as the owner has claimed the call, not at its next beat', { timeout: 30_000 }, async () => {
    const stack = fixture.stack();
    const placed = stack.acs.placeCall({ from: '+15550107200', to: APP_NUMBER, steps: [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, { hangUp: true }] }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    const owner = await eventually('a relay owning the call', () => stack.media!.relays.find((r) => r.calls().length > 0), 10_000);
    const claimedAt = performance.now();
    const standby = await eventually('a relay standing by', () => stack.media!.relays.find((r) => r !== owner && (r.stats().standby?.calls ?? 0) > 0), 5_000);
    // The relays beat every 1.7 s here (5 s heartbeats): standing by at once means well before that.
    expect(performance.now() - claimedAt).toBeLessThan(600);
    await placed;
    await eventually('the standby let the ended call go', () => (standby.stats().standby!.calls === 0 ? true : undefined), 10_000);
  });

  it.each<[Moment, string]>([
    ['mid-utterance', '+15550107201'],
    ['just after the utterance', '+15550107202'],
  ])('archives the utterance exactly once and answers it when the owner dies %s', { timeout: 60_000 }, async (moment, phone) => {
    const { turns, survivor } = await killOwner(fixture, phone, moment);
    expect(turns).toEqual(WHOLE_CALL);
    expect(survivor.stats().standby).toMatchObject({ replays: 1 });
    expect(survivor.stats().standby!.framesReplayed).toBeGreaterThan(SECOND_MS / 20);
  });

  it('answers the caller turn the owner persisted but died before answering, and does not replay it', { timeout: 60_000 }, async () => {
    const { turns, survivor } = await killOwner(fixture, '+15550107205', 'once its caller turn is persisted, before the answer');
    expect(turns).toEqual(WHOLE_CALL);
    expect(survivor.stats().standby).toMatchObject({ replays: 1 });
    expect(survivor.stats().standby!.framesReplayed).toBeLessThan(SECOND_MS / 20);
  });
});

describe('relay killed while the caller speaks, without a standby relay', () => {
  const fixture = standbyStack(false);

  it('loses the utterance when the owner dies mid-utterance: the survivor hears only its tail, which the model cannot transcribe', { timeout: 60_000 }, async () => {
    const { turns, callId } = await killOwner(fixture, '+15550107203', 'mid-utterance');
    // Server VAD still answers the speech it heard; the emulator's responder answers no words so.
    expect(turns).toEqual([...WHOLE_CALL.slice(0, 3), ['assistant', 'Hello, how can I help you today?']]);
    const sessions = [...fixture.stack().media!.realtime.sessions.values()].filter((s) => s.correlationId === callId);
    expect(sessions.at(-1)!.unintelligibleTurns).toBe(1);
  });

  it('loses the utterance when the owner dies just after it: the survivor hears only silence', { timeout: 60_000 }, async () => {
    const { turns } = await killOwner(fixture, '+15550107204', 'just after the utterance');
    expect(turns).toEqual(WHOLE_CALL.slice(0, 3));
  });
});
