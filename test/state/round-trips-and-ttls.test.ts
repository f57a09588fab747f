import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { TTL_POLICIES } from '../../src/lib/state/keys.js';
import { TtsCache } from '../../src/lib/state/tts-cache.js';
import { AuthStates } from '../../src/lib/state/auth-states.js';
import { RedisServer } from '../support/redis-server.js';
import { keysWithTtl, openStore, randomId, type StoreHandle } from './support/store.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** Calls per command since the last CONFIG RESETSTAT, from the server's own counters. */
async function commandCalls(raw: Pick<Redis, 'info'>): Promise<Record<string, number>> {
  const info = await raw.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

describe('one round trip per turn', () => {
  let server: RedisServer;
  let proxy: TcpProxy;
  let h: StoreHandle;
  beforeAll(async () => {
    // A Redis of this file's own: the server's command counters see only this test's traffic.
    server = await RedisServer.start();
    proxy = await TcpProxy.start(server.port);
    h = await openStore(proxy.port, { rawPort: server.port });
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.close();
    await server?.dispose();
  });

  it('flushes a turn (two turns, changed fields, both TTLs) as one MULTI in one round trip, at any history length', async () => {
    // Prepare
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store);
    for (let i = 0; i < 300; i++) cm.appendToHistory('user', `earlier turn ${i}`);
    await cm.flush();
    const perTurn: { roundTrips: number; bytes: number; commands: Record<string, number> }[] = [];

    for (const turn of [1, 2]) {
      await h.raw.call('CONFIG', 'RESETSTAT');
      proxy.resetCounters();
      // Act
      cm.appendToHistory('user', `question ${turn}`);
      cm.appendToHistory('assistant', `answer ${turn}`);
      cm.updateContext({ stage: `stage-${turn}` });
      const result = await cm.flush();
      expect(result.durable).toBe(true);
      const commands = await commandCalls(h.raw);
      delete commands['config|resetstat'];
      delete commands.info;
      perTurn.push({ roundTrips: proxy.roundTrips, bytes: proxy.bytesToServer, commands });
    }

    // Assess
    for (const t of perTurn) {
      expect(t.roundTrips).toBe(1);
      expect(t.commands).toEqual({ multi: 1, rpush: 1, hset: 1, expire: 2, exec: 1 });
    }
    // Bytes do not grow with the history (300 turns earlier): identical sizes turn to turn.
    expect(perTurn[0]?.bytes).toBe(perTurn[1]?.bytes);
  });

  it('loads a conversation (context, hot window, length) in one round trip', async () => {
    // Prepare
    const callId = randomId();
    const writer = await ConversationManager.fromRedis(callId, h.store);
    writer.appendToHistory('user', 'hello');
    writer.updateContext({ a: 1 });
    await writer.flush();
    h.store.memory.clear();
    proxy.resetCounters();
    // Act
    const cm = await ConversationManager.fromRedis(callId, h.store);
    // Assess
    expect(proxy.roundTrips).toBe(1);
    expect(cm.getContext()).toEqual({ a: 1 });
    expect(cm.getHistory().map((t) => t.content)).toEqual(['hello']);
  });
});

describe('TTLs on every key this layer writes', () => {
  let h: StoreHandle;
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
    h = await openStore(server.port);
  });
  afterAll(async () => {
    await h?.close();
    await server?.dispose();
  });

  async function writeEverything(callId: string, workerId: string): Promise<void> {
    const { store } = h;
    await store.createCallSession(callId, { state: 'incoming' });
    await store.updateCallSession(callId, { state: 'connected' });
    await h.fencing.claimEvent(callId, `evt-${callId}`);
    await store.setCallSummary(callId, { outcome: 'resolved' });
    await h.leases.claimAffinity(callId, workerId);
    await h.leases.heartbeat(workerId, { calls: 1 });
    await new TtsCache(store).setTts({ text: `hello ${callId}`, voice: 'v', format: 'pcm' }, Buffer.from([1, 2, 3]));
    await new AuthStates(store).countAttempt(callId, 3);
    const cm = await ConversationManager.fromRedis(callId, store);
    cm.appendToHistory('user', 'hi');
    cm.updateContext({ intent: 'billing' });
    await cm.flush();
  }

  const expectedPolicy: Record<string, keyof typeof TTL_POLICIES> = {
    'call:session': 'call_session',
    'call:events': 'call_session',
    'call:summary': 'call_summary',
    'call:affinity': 'worker_affinity',
    'worker:heartbeat': 'worker_heartbeat',
    'tts:audio': 'tts_cache',
    'auth:state': 'authentication_state',
    'conversation:context': 'conversation_context',
    'conversation:history': 'session_history',
  };

  function policyOf(key: string): keyof typeof TTL_POLICIES {
    const [, , type, , component] = key.split(':');
    const policy = expectedPolicy[`${type}:${component}`];
    if (!policy) throw new Error(`unexpected key kind ${key}`);
    return policy;
  }

  it('sets each key’s policy TTL in the same round trip as the write', async () => {
    // Act
    await writeEverything(randomId(), randomId('w'));
    // Assess
    const ttls = await keysWithTtl(h.raw, h.keys);
    expect(new Set([...ttls.keys()].map((k) => k.split(':').slice(2, 5).filter((_, i) => i !== 1).join(':')))).toEqual(new Set(Object.keys(expectedPolicy)));
    for (const [key, ttl] of ttls) {
      const policy = TTL_POLICIES[policyOf(key)];
      expect(ttl, key).toBeGreaterThan(policy.defaultSeconds - 5);
      expect(ttl, key).toBeLessThanOrEqual(policy.defaultSeconds);
    }
  });

  it('refreshes the TTL on every write (sliding expiry)', async () => {
    // Prepare: write once, then shorten every TTL by hand.
    const callId = randomId();
    const workerId = randomId('w');
    await writeEverything(callId, workerId);
    const before = await keysWithTtl(h.raw, h.keys);
    const mine = [...before.keys()].filter((k) => k.includes(`{${callId}}`) || k.includes(`{${workerId}}`));
    for (const key of mine) await h.raw.expire(key, 3);
    // Act: the same writes again (a claim by the holder renews instead of claiming).
    const { store } = h;
    await store.updateCallSession(callId, { state: 'in-call' });
    await h.fencing.claimEvent(callId, 'another-event');
    await store.setCallSummary(callId, { outcome: 'updated' });
    expect(await h.leases.renewAffinity(callId, workerId)).toBe(true);
    await h.leases.heartbeat(workerId);
    await new AuthStates(store).countAttempt(callId, 3);
    const cm = await ConversationManager.fromRedis(callId, store);
    cm.appendToHistory('assistant', 'again');
    await cm.flush();
    // Assess
    for (const key of mine) {
      if (key.includes(':tts:')) continue;
      const ttl = await h.raw.ttl(key);
      expect(ttl, key).toBeGreaterThan(TTL_POLICIES[policyOf(key)].defaultSeconds - 5);
    }
  });

  it('slides the context TTL even on a flush with no new turns, and refreshCallTtls slides them all', async () => {
    // Prepare
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store);
    cm.appendToHistory('user', 'x');
    await cm.flush();
    await h.store.createCallSession(callId, { s: 1 });
    for (const key of [h.keys.conversation(callId, 'context'), h.keys.conversation(callId, 'history'), h.keys.call(callId, 'session')]) await h.raw.expire(key, 3);
    // Act
    cm.updateContext({ only: 'a field' });
    await cm.flush();
    const afterFlush = await h.raw.ttl(h.keys.conversation(callId, 'history'));
    await h.store.refreshCallTtls(callId);
    // Assess
    expect(afterFlush).toBeGreaterThan(TTL_POLICIES.session_history.defaultSeconds - 5);
    expect(await h.raw.ttl(h.keys.conversation(callId, 'context'))).toBeGreaterThan(TTL_POLICIES.conversation_context.defaultSeconds - 5);
    expect(await h.raw.ttl(h.keys.call(callId, 'session'))).toBeGreaterThan(TTL_POLICIES.call_session.defaultSeconds - 5);
  });
});
