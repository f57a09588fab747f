/**
 * The call sessions repository: its transitions write the same hash fields (names and JSON values)
 * the callbacks, the relay and the lifecycle have always read, and a stored session that does not
 * match the schema is refused with a typed error rather than cast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallSessions, InvalidCallSessionError, type CallSession } from '../../src/lib/state/index.js';
import { openSharedStore, randomId, type StoreHandle } from './support/store.js';

let h: StoreHandle;
let sessions: CallSessions;
beforeAll(async () => {
  h = await openSharedStore();
  sessions = new CallSessions(h.store);
});
afterAll(async () => {
  await h?.close();
});

const inbound: CallSession = { state: 'answering', direction: 'inbound', startedAt: '2026-01-01T00:00:00.000Z', serverCallId: 'server-1', callerMasked: '+1•••••0100' };

describe('call sessions', () => {
  it('walks a call through its transitions, each one the hash fields it always wrote, with the session TTL', async () => {
    // Prepare
    const callId = randomId();
    const key = h.keys.call(callId, 'session');

    // Act
    const { created } = await sessions.create(callId, inbound);
    const again = await sessions.create(callId, { ...inbound, state: 'placing' });
    await sessions.answered(callId, { callConnectionId: 'conn-1' });
    await sessions.mediaShardAssigned(callId, 2);
    await sessions.connected(callId, 'conn-1', '2026-01-01T00:00:01.000Z');
    await sessions.mediaConnected(callId, 'media-1');
    await sessions.step(callId, { state: 'ending', outcome: 'caller_silent' });
    await sessions.disconnected(callId, '2026-01-01T00:01:00.000Z');

    // Assess
    expect(created).toBe(true);
    expect(again.created).toBe(false);
    const raw = await h.raw.hgetall(key);
    expect(raw).toMatchObject({
      state: '"disconnected"',
      direction: '"inbound"',
      callConnectionId: '"conn-1"',
      connectedAt: '"2026-01-01T00:00:01.000Z"',
      mediaShard: '2',
      mediaState: '"connected"',
      mediaConnectionId: '"media-1"',
      outcome: '"caller_silent"',
      endedAt: '"2026-01-01T00:01:00.000Z"',
    });
    expect(await sessions.get(callId)).toEqual({
      ...inbound,
      state: 'disconnected',
      callConnectionId: 'conn-1',
      connectedAt: '2026-01-01T00:00:01.000Z',
      mediaShard: 2,
      mediaState: 'connected',
      mediaConnectionId: 'media-1',
      outcome: 'caller_silent',
      endedAt: '2026-01-01T00:01:00.000Z',
    });
    const ttl = await h.raw.ttl(key);
    expect(ttl).toBeGreaterThan(h.keys.ttl('call', 'session') - 10);
  });

  it('answers undefined for no session, and for a hash without a state (what a late write leaves after cleanup)', async () => {
    // Prepare
    const fragment = randomId();
    await sessions.mediaDisconnected(fragment);

    // Act
    const missing = await sessions.get(randomId());
    const view = await sessions.mediaView(fragment);
    await sessions.mediaConnected(fragment, 'media-late');
    const later = await sessions.mediaView(fragment);

    // Assess
    expect(missing).toBeUndefined();
    expect(view).toEqual({ session: undefined, mediaConnectionId: undefined });
    expect(later).toEqual({ session: undefined, mediaConnectionId: 'media-late' });
  });

  it('refuses a stored session that does not match the schema, naming the fields and not their values', async () => {
    // Prepare
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'singing', direction: 'inbound', startedAt: 42, callerMasked: '+1•••••0100' });

    // Act
    const read = sessions.get(callId);

    // Assess
    await expect(read).rejects.toBeInstanceOf(InvalidCallSessionError);
    const error = (await read.catch((err: unknown) => err)) as InvalidCallSessionError;
    expect(error.fields).toEqual(['state', 'startedAt']);
    expect(error.code).toBe('invalid_call_session');
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain('singing');
  });

  it('refuses to write a session or a recorded step outside the vocabulary, before anything reaches Redis', async () => {
    // Prepare
    const callId = randomId();

    // Act
    const create = sessions.create(callId, { ...inbound, direction: 'sideways' } as unknown as CallSession);
    const step = sessions.step(callId, { state: 'ending', outcome: 'bored' } as never);

    // Assess
    await expect(create).rejects.toBeInstanceOf(InvalidCallSessionError);
    await expect(step).rejects.toBeInstanceOf(InvalidCallSessionError);
    expect(await h.raw.exists(h.keys.call(callId, 'session'))).toBe(0);
  });
});
