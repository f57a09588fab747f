import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { consoleFeed, type ConsoleMessage } from '../../src/lib/console/feed.js';
import { LiveCallRegistry, liveCallsKey } from '../../src/lib/console/live-calls.js';
import { encodeTurn } from '../../src/lib/state/conversation/turns.js';
import { createLogger } from '../../src/lib/telemetry/logger.js';
import { uniquePrefix } from '../support/env.js';

/** The console feed against the run's private Redis: what the store's writes make of the live-call list and the messages. */
let redis: Redis;
beforeAll(() => {
  redis = new Redis({ host: inject('redisHost'), port: inject('redisPort'), lazyConnect: false });
});
afterAll(async () => {
  await redis.quit();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe('console feed', () => {
  it('lists a call from its creation to its end, with relay, masked caller and pushed turns, and nothing else', async () => {
    // Prepare
    const key = liveCallsKey(uniquePrefix(), 'test');
    const registry = new LiveCallRegistry(async () => redis, key, 60_000);
    const messages: ConsoleMessage[] = [];
    const warnings: string[] = [];
    const observe = consoleFeed({
      registry,
      publish: async (m) => void messages.push(m),
      agentName: 'offline agent',
      shardOf: () => 'slot 42',
      logger: createLogger((level, message) => level === 'warn' && warnings.push(message)),
    });
    // Act: the store's writes of one call, as the wrapper reports them.
    observe('createCallSession', ['in-feed1', { state: 'answering', direction: 'inbound', startedAt: '2026-12-01T10:00:00.000Z', callerMasked: '+1•••••••123', callerUserId: 'u1' }], { created: true });
    observe('updateCallSession', ['in-feed1', { state: 'connected', connectedAt: 'x' }], { durable: true });
    observe('claimAffinity', ['in-feed1', 'relay-7'], { claimed: true, owner: 'relay-7' });
    await settle();
    const live = await registry.list();
    observe('writeDetailed', ['in-feed1', 'conversation.flush', [{ op: 'rpush', key: 'p:test:conversation:{in-feed1}:history', values: [encodeTurn({ id: 'w-0', role: 'user', content: 'call me on +15550100123', at: 'a' }), encodeTurn({ id: 'w-1', role: 'system', content: 'hidden', at: 'b' })] }, { op: 'hset', key: 'k', fields: {} }]], { durable: true });
    observe('updateCallSession', ['in-feed1', { state: 'disconnected', endedAt: 'y' }], { durable: true });
    await settle();
    // Assess
    expect(live).toEqual([expect.objectContaining({ callId: 'in-feed1', state: 'connected', agent: 'offline agent', shard: 'slot 42', relay: 'relay-7', callerMasked: '+1•••••••123', direction: 'inbound' })]);
    expect(JSON.stringify(live)).not.toContain('u1');
    expect(await registry.list()).toEqual([]);
    const turns = messages.find((m) => m.type === 'turns');
    expect(turns).toEqual({ type: 'turns', callId: 'in-feed1', turns: [{ id: 'w-0', role: 'user', text: 'call me on +1•••••••123', at: 'a' }] });
    expect(messages.at(-1)).toMatchObject({ type: 'call-ended', callId: 'in-feed1' });
    expect(messages.filter((m) => m.type === 'call').map((m) => (m as { call: { state: string } }).call.state)).toEqual(['answering', 'connected', 'connected']);
    expect(warnings).toEqual([]);
  });

  it('drops entries of calls that never reported their end', async () => {
    const key = liveCallsKey(uniquePrefix(), 'test');
    let now = Date.parse('2026-12-01T10:00:00Z');
    const registry = new LiveCallRegistry(async () => redis, key, 60_000, () => now);
    await registry.update('in-stale1', { state: 'connected' });
    now += 61_000;
    expect(await registry.list()).toEqual([]);
    expect(await redis.hlen(key)).toBe(0);
  });
});
