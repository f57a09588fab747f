import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { RedisServer } from '../support/redis-server.js';
import { keysWithTtl, openStore, randomId } from './support/store.js';
import { TcpProxy } from './support/tcp-proxy.js';

const BREAKER = { failureThreshold: 3, probeIntervalMs: 50 };

describe('a 20-turn call through a Redis outage', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('keeps every turn: Redis stopped after turn 7, restarted after turn 14; all 20 turns in order, once, with TTLs', async () => {
    // Prepare
    const h = await openStore(server.port, { breaker: BREAKER, commandTimeoutMs: 200 });
    try {
      const callId = randomId();
      const cm = await ConversationManager.fromRedis(callId, h.store, { writerId: 'relay1' });
      const outcomes: boolean[] = [];

      // Act
      for (let turn = 1; turn <= 20; turn++) {
        cm.appendToHistory('user', `caller says ${turn}`);
        cm.appendToHistory('assistant', `agent answers ${turn}`);
        cm.updateContext({ lastTurn: turn, [`slot${turn % 3}`]: `value ${turn}` });
        outcomes.push((await cm.flush()).durable);
        if (turn === 7) {
          // A Redis that keeps its data across the restart (as a replica failover does): save, then kill.
          await h.raw.call('SAVE');
          await server.stop();
        }
        if (turn === 14) {
          expect(h.store.health().status).toBe('degraded');
          await server.restart();
        }
      }
      await expect.poll(() => h.store.health().breaker.state, { timeout: 10_000, interval: 25 }).toBe('closed');
      await expect.poll(() => h.store.health().journalDepth, { timeout: 10_000, interval: 25 }).toBe(0);

      // Assess
      expect(outcomes.slice(0, 7)).toEqual(Array(7).fill(true));
      expect(outcomes.slice(7, 14)).toEqual(Array(7).fill(false)); // journaled while Redis was away
      const stored = (await h.raw.lrange(h.keys.conversation(callId, 'history'), 0, -1)).map((s) => JSON.parse(s) as { id: string; content: string });
      const expected = Array.from({ length: 20 }, (_, i) => [`caller says ${i + 1}`, `agent answers ${i + 1}`]).flat();
      expect(stored.map((t) => t.content)).toEqual(expected);
      expect(new Set(stored.map((t) => t.id)).size).toBe(40);
      const context = await h.raw.hgetall(h.keys.conversation(callId, 'context'));
      expect(JSON.parse(context.lastTurn as string)).toBe(20);
      expect(JSON.parse(context.slot0 as string)).toBe('value 18');
      expect(JSON.parse(context.slot1 as string)).toBe('value 19');
      expect(JSON.parse(context.slot2 as string)).toBe('value 20');
      expect(h.store.health()).toMatchObject({ status: 'ok', journalDepth: 0, breaker: { state: 'closed' } });
      const ttls = await keysWithTtl(h.raw, h.keys);
      expect(ttls.size).toBe(2);
      for (const ttl of ttls.values()) expect(ttl).toBeGreaterThan(0);
      // A manager loaded right after recovery (memory tier still warm) sees each turn once.
      const reloaded = await ConversationManager.fromRedis(callId, h.store, { hotWindow: 30 });
      expect(reloaded.getHistory().map((t) => t.content)).toEqual(expected.slice(-30));
      // And the archive's view agrees.
      const full = await reloaded.readFullHistory({ pageSize: 7 });
      expect(full.map((t) => t.content)).toEqual(expected);
      expect(full.map((t) => t.seq)).toEqual(expected.map((_, i) => i));
    } finally {
      await h.close();
    }
  });

  it('rewrites every turn of a long call when Redis restarts empty: memory holds the whole conversation, not a window', async () => {
    // Prepare: 40 turns (80 items), all acknowledged by Redis
    const h = await openStore(server.port, { breaker: BREAKER, commandTimeoutMs: 200 });
    try {
      const callId = randomId();
      const cm = await ConversationManager.fromRedis(callId, h.store, { writerId: 'relay1' });
      const expected: string[] = [];
      for (let turn = 1; turn <= 40; turn++) {
        cm.appendToHistory('user', `caller says ${turn}`);
        cm.appendToHistory('assistant', `agent answers ${turn}`);
        expected.push(`caller says ${turn}`, `agent answers ${turn}`);
        expect((await cm.flush()).durable).toBe(true);
      }

      // Act: Redis restarts without its data (no SAVE), and the call goes on
      await server.stop();
      await server.restart();
      await expect.poll(async () => (await h.raw.ping().catch(() => 'down')) === 'PONG', { timeout: 10_000, interval: 25 }).toBe(true);
      cm.appendToHistory('user', 'caller says 41');
      expected.push('caller says 41');
      await expect.poll(async () => (await cm.flush().catch(() => ({ durable: false }))).durable, { timeout: 10_000, interval: 50 }).toBe(true);

      // Assess: every turn is back, once and in order, and the rewrite is counted as a restore
      const stored = (await h.raw.lrange(h.keys.conversation(callId, 'history'), 0, -1)).map((s) => JSON.parse(s) as { content: string });
      expect(stored.map((t) => t.content)).toEqual(expected);
      expect(h.store.health().loss).toMatchObject({ unrecoverable: 0 });
      expect(h.store.health().loss.restored).toBeGreaterThanOrEqual(1);
    } finally {
      await h.close();
    }
  });

  it('reports the head of a list longer than memory holds as lost when Redis restarts empty, and rewrites the rest once', async () => {
    // Prepare: a memory tier that holds 8 items of a 12-item conversation
    const h = await openStore(server.port, { breaker: BREAKER, commandTimeoutMs: 200, memory: { maxListItems: 8 } });
    try {
      const callId = randomId();
      const cm = await ConversationManager.fromRedis(callId, h.store, { writerId: 'relay1' });
      for (let turn = 1; turn <= 6; turn++) {
        cm.appendToHistory('user', `caller says ${turn}`);
        cm.appendToHistory('assistant', `agent answers ${turn}`);
        await cm.flush();
      }

      // Act
      await server.stop();
      await server.restart();
      await expect.poll(async () => (await h.raw.ping().catch(() => 'down')) === 'PONG', { timeout: 10_000, interval: 25 }).toBe(true);
      // The store's own connection is back too, so the next flush reaches Redis rather than the journal:
      // this is the writer's own recovery. (A journal replay that rewrites a list memory holds only part
      // of does not yet tell the writer the list's new length.)
      const probe = () => h.store.direct('probe', [{ op: 'exists', key: h.keys.conversation(callId, 'context') }]);
      await expect.poll(async () => probe().then(() => true, () => false), { timeout: 10_000, interval: 25 }).toBe(true);
      cm.appendToHistory('user', 'caller says 7');
      await expect.poll(async () => (await cm.flush().catch(() => ({ durable: false }))).durable, { timeout: 10_000, interval: 50 }).toBe(true);

      // Assess: the held tail (and the new turn) is back; the 5 items not held are counted as lost
      const stored = (await h.raw.lrange(h.keys.conversation(callId, 'history'), 0, -1)).map((s) => JSON.parse(s) as { content: string });
      expect(stored.map((t) => t.content)).toEqual(['agent answers 3', 'caller says 4', 'agent answers 4', 'caller says 5', 'agent answers 5', 'caller says 6', 'agent answers 6', 'caller says 7']);
      expect(h.store.health().loss.unrecoverable).toBe(1);
      // The next turn appends to the rewritten list: no second rewrite, nothing repeated.
      cm.appendToHistory('assistant', 'agent answers 7');
      expect((await cm.flush()).durable).toBe(true);
      expect((await h.raw.lrange(h.keys.conversation(callId, 'history'), 0, -1)).map((s) => (JSON.parse(s) as { content: string }).content).slice(-3)).toEqual(['agent answers 6', 'caller says 7', 'agent answers 7']);
      expect(await h.raw.llen(h.keys.conversation(callId, 'history'))).toBe(9);
      expect(h.store.health().loss.unrecoverable).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('replays a write whose reply was lost exactly once (it had landed), and keeps later writes in order', async () => {
    // Prepare: the store talks to Redis through a proxy that can swallow replies.
    const proxy = await TcpProxy.start(server.port);
    const h = await openStore(proxy.port, { breaker: BREAKER, commandTimeoutMs: 150, rawPort: server.port });
    try {
      const callId = randomId();
      const cm = await ConversationManager.fromRedis(callId, h.store, { writerId: 'w' });
      cm.appendToHistory('user', 'one');
      await cm.flush();

      // Act: turn two reaches Redis but its reply never comes back; the connection then drops.
      proxy.swallowReplies(true);
      cm.appendToHistory('user', 'two');
      const lost = await cm.flush();
      proxy.dropConnections();
      proxy.swallowReplies(false);
      cm.appendToHistory('user', 'three');
      const after = await cm.flush();
      await expect.poll(() => h.store.health().journalDepth, { timeout: 10_000, interval: 25 }).toBe(0);
      await expect.poll(() => h.store.health().breaker.state, { timeout: 10_000, interval: 25 }).toBe('closed');

      // Assess
      expect(lost.durable).toBe(false);
      expect(after.durable).toBe(false); // queued behind the uncertain write, so it cannot overtake it
      const contents = (await h.raw.lrange(h.keys.conversation(callId, 'history'), 0, -1)).map((s) => (JSON.parse(s) as { content: string }).content);
      expect(contents).toEqual(['one', 'two', 'three']);
      expect(h.store.health().journal.skippedAsDuplicate).toBe(1);
    } finally {
      await h.close();
      await proxy.close();
    }
  });

  it('refuses writes loudly when the journal is full, and reports down', async () => {
    // Prepare
    const h = await openStore(server.port, { breaker: BREAKER, journal: { maxEntries: 3 } });
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store);
    try {
      await server.stop();
      // Act
      const results: string[] = [];
      for (let i = 0; i < 5; i++) {
        cm.appendToHistory('user', `turn ${i}`);
        results.push(await cm.flush().then(() => 'kept', (err: Error) => err.name));
      }
      // Assess
      expect(results).toEqual(['kept', 'kept', 'kept', 'JournalOverflowError', 'JournalOverflowError']);
      expect(h.store.health()).toMatchObject({ status: 'down', journalDepth: 3, journal: { overflows: 2 } });
      // The refused turns stay staged in the manager; nothing vanished silently.
      expect(cm.getHistory().map((t) => t.content)).toEqual(['turn 0', 'turn 1', 'turn 2', 'turn 3', 'turn 4']);
    } finally {
      await server.restart();
      await h.close();
    }
  });
});

describe('replay while another writer has appended meanwhile', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('lands the journaled turns once, in their order, after what the other writer appended (appends never conflict)', async () => {
    // Prepare: the relay (slow to probe, so the test decides when it replays) and the callback function.
    const relayStore = await openStore(server.port, { breaker: { failureThreshold: 1, probeIntervalMs: 60_000 } });
    const callbackStore = await openStore(server.port, { prefix: relayStore.keys.prefix });
    try {
      const callId = randomId();
      const relay = await ConversationManager.fromRedis(callId, relayStore.store, { writerId: 'relay' });
      relay.appendToHistory('user', 'relay 1');
      relay.updateContext({ shared: 'relay', relayOnly: 1 });
      await relay.flush();
      await relayStore.raw.call('SAVE');
      await server.stop();

      // Act: the relay keeps talking during the outage (journaled) …
      for (const n of [2, 3, 4]) {
        relay.appendToHistory('user', `relay ${n}`);
        relay.updateContext({ relayOnly: n });
        expect((await relay.flush()).durable).toBe(false);
      }
      // … Redis returns and the callback writes before the relay has replayed …
      await server.restart();
      await expect.poll(() => callbackStore.redis.client.status, { timeout: 5_000, interval: 20 }).toBe('ready');
      const callback = await ConversationManager.fromRedis(callId, callbackStore.store, { writerId: 'cb' });
      callback.appendToHistory('system', 'callback 1');
      callback.updateContext({ shared: 'callback', callbackOnly: true });
      expect((await callback.flush()).durable).toBe(true);
      expect(relayStore.store.health().journalDepth).toBe(3);
      // … then the relay replays.
      const left = await relayStore.store.flushJournal(10_000);

      // Assess
      expect(left).toBe(0);
      const contents = (await relayStore.raw.lrange(relayStore.keys.conversation(callId, 'history'), 0, -1)).map((s) => (JSON.parse(s) as { content: string }).content);
      expect(contents).toEqual(['relay 1', 'callback 1', 'relay 2', 'relay 3', 'relay 4']);
      const context = await relayStore.raw.hgetall(relayStore.keys.conversation(callId, 'context'));
      expect(context).toMatchObject({ relayOnly: '4', callbackOnly: 'true', shared: '"callback"' });
      expect(relayStore.store.health()).toMatchObject({ status: 'ok', journal: { replayed: 3, skippedAsDuplicate: 0 } });
    } finally {
      await callbackStore.close();
      await relayStore.close();
    }
  });
});
