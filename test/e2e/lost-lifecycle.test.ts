import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EmulatedCall } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * Every answered call has its lifecycle. A lifecycle instance that is missing when the caller hangs
 * up (lost, or never started because the answer's start did not land) is started with the end
 * already known, and the call is archived exactly once. The dev host's durable engine loses it on
 * purpose here: the instance is purged while the call runs.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack();
});

afterAll(async () => {
  await stack?.close();
});

async function liveCallAfterGreeting(known: ReadonlySet<string>): Promise<EmulatedCall> {
  return vi.waitFor(
    () => {
      const call = [...stack.acs.calls.values()].find((c) => !known.has(c.callConnectionId) && c.requests.some((r) => r.operation === 'recognize'));
      if (!call) throw new Error('greeting not asked yet');
      return call;
    },
    { timeout: 10_000, interval: 5 },
  );
}

describe('a call whose lifecycle was lost', () => {
  it('is archived exactly once when the caller hangs up', async () => {
    // Prepare: the lifecycle is lost mid-call.
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(8201), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { pause: 300 }, { say: 'What are your opening hours?' }, { pause: 200 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const live = await liveCallAfterGreeting(known);
    expect(await stack.host.durable.purge(live.callConnectionId)).toBe(1);

    // Act
    const call = await recording;
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the hang-up was acknowledged at once, and the call was archived, audited and cleaned once.
    const disconnected = call.events.find((e) => e.type === 'CallDisconnected');
    expect(disconnected?.attempts.map((a) => a.status)).toEqual([200]);
    expect(output).toMatchObject({ endReason: 'disconnected', turnsArchived: 3, warnings: [] });
    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    const transcript = await archive.transcripts.read(callId);
    expect(transcript!.turns.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant']);
    expect((await archive.audit.list(callId)).map((a) => a.action)).toEqual(['answered', 'ended']);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });

  it('is started again by a redelivered IncomingCall while the call runs', async () => {
    // Prepare: the answer's lifecycle start "did not land" (purged), and Event Grid redelivers.
    const incoming = await stack.acs.eventGrid.sendIncomingCall(stack.eventGridUrl, { from: phoneNumber(8202), to: APP_NUMBER });
    let call: EmulatedCall | undefined;
    for (let i = 0; i < 400 && !call?.callConnectionId; i += 1) {
      call = stack.acs.callByServerCallId(incoming.serverCallId);
      await sleep(5);
    }
    await vi.waitFor(async () => expect(await stack.host.durable.status(call!.callConnectionId)).toBeDefined());
    await stack.host.durable.purge(call!.callConnectionId);

    // Act
    const redelivered = await stack.acs.eventGrid.redeliver(stack.eventGridUrl, incoming.eventId);

    // Assess: not answered again, but the lifecycle runs and ends the call when the caller hangs up.
    expect(redelivered.status).toBe(200);
    expect(JSON.parse(redelivered.body)).toEqual({ answered: [] });
    expect((await stack.host.durable.status(call!.callConnectionId))?.runtimeStatus).toMatch(/Pending|Running/);
    call!.hangUpByCaller();
    const { output } = await lifecycleOf(stack, call!.callConnectionId);
    expect(output.endReason).toBe('disconnected');
    const audit = await (await archiveOf(stack)).audit.list(callIdForIncoming(incoming.serverCallId));
    expect(audit.map((a) => a.action)).toEqual(['answered', 'ended']);
  });
});
