import { describe, expect, it } from 'vitest';
import { MISS } from '../../src/lib/state/backend.js';
import { WriteBatch } from '../../src/lib/state/commands.js';
import { MemoryTier } from '../../src/lib/state/memory-tier.js';

describe('MemoryTier', () => {
  it('answers only what it has seen whole: a hash written field by field is partial until loaded', async () => {
    // Prepare
    const memory = new MemoryTier();
    memory.applyWrites(new WriteBatch().hset('h', { a: '1' }, 60).commands(), true);
    // Act
    const partial = memory.read([{ op: 'hgetall', key: 'h' }, { op: 'hmget', key: 'h', fields: ['a'] }, { op: 'hmget', key: 'h', fields: ['b'] }], Infinity);
    memory.loadHash('h', { a: '1', b: '2' }, 60);
    const whole = memory.read([{ op: 'hgetall', key: 'h' }], Infinity);
    // Assess
    expect(partial).toEqual([MISS, ['1'], MISS]);
    expect(whole).toEqual([{ a: '1', b: '2' }]);
  });

  it('knows a deleted key is absent, and that a key created after deletion is whole', () => {
    const memory = new MemoryTier();
    memory.applyWrites([{ op: 'del', keys: ['k'] }], true);
    expect(memory.read([{ op: 'hgetall', key: 'k' }, { op: 'get', key: 'k' }, { op: 'llen', key: 'k' }], Infinity)).toEqual([{}, null, 0]);
    memory.applyWrites(new WriteBatch().rpush('k', ['x', 'y'], 60).commands(), true);
    expect(memory.read([{ op: 'lrange', key: 'k', start: 0, stop: -1 }, { op: 'llen', key: 'k' }], Infinity)).toEqual([['x', 'y'], 2]);
  });

  it('keeps the tail of long lists and refuses ranges it dropped', () => {
    // Prepare
    const memory = new MemoryTier({ maxListItems: 3 });
    memory.loadListTail('l', ['a', 'b'], 10, 60);
    // Act
    memory.applyWrites([{ op: 'rpush', key: 'l', values: ['c', 'd'] }], true);
    // Assess
    expect(memory.read([{ op: 'llen', key: 'l' }], Infinity)).toEqual([12]);
    expect(memory.read([{ op: 'lrange', key: 'l', start: -3, stop: -1 }], Infinity)).toEqual([['b', 'c', 'd']]);
    expect(memory.read([{ op: 'lrange', key: 'l', start: 9, stop: 11 }], Infinity)).toEqual([['b', 'c', 'd']]);
    expect(memory.read([{ op: 'lrange', key: 'l', start: 0, stop: -1 }], Infinity)).toEqual([MISS]);
  });

  it('is bounded by entries and by bytes, evicting the least recently used', () => {
    const byEntries = new MemoryTier({ maxEntries: 2 });
    for (const k of ['a', 'b', 'c']) byEntries.applyWrites([{ op: 'set', key: k, value: k, ttlSeconds: 60 }], true);
    expect(byEntries.read([{ op: 'get', key: 'a' }, { op: 'get', key: 'c' }], Infinity)).toEqual([MISS, 'c']);

    const byBytes = new MemoryTier({ maxBytes: 4_000 });
    for (let i = 0; i < 10; i++) byBytes.applyWrites([{ op: 'set', key: `k${i}`, value: 'x'.repeat(1_000), ttlSeconds: 60 }], true);
    expect(byBytes.stats.bytes).toBeLessThanOrEqual(4_000);
    expect(byBytes.stats.entries).toBeLessThan(10);
    expect(byBytes.read([{ op: 'get', key: 'k9' }], Infinity)[0]).toHaveLength(1_000);
  });

  it('expires entries with their TTL and applies EXPIRE', async () => {
    const memory = new MemoryTier();
    memory.applyWrites([{ op: 'set', key: 's', value: 'v', ttlSeconds: 1 }], true);
    memory.applyWrites(new WriteBatch().hset('h', { f: '1' }, 1).commands(), true);
    memory.applyWrites([{ op: 'expire', key: 'h', seconds: 100 }], true);
    const ttl = memory.read([{ op: 'ttl', key: 'h' }], Infinity)[0];
    await new Promise((r) => setTimeout(r, 1_150));
    expect(memory.read([{ op: 'get', key: 's' }], Infinity)).toEqual([MISS]);
    expect(ttl).toBeGreaterThan(90);
    expect(memory.read([{ op: 'hmget', key: 'h', fields: ['f'] }], Infinity)).toEqual([['1']]);
  });

  it('serves L1 reads only while fresh', () => {
    let now = 1_000;
    const memory = new MemoryTier({ now: () => now });
    memory.loadHash('h', { a: '1' }, 60);
    expect(memory.read([{ op: 'hgetall', key: 'h' }], 250)).toEqual([{ a: '1' }]);
    now += 300;
    expect(memory.read([{ op: 'hgetall', key: 'h' }], 250)).toEqual([MISS]);
    expect(memory.read([{ op: 'hgetall', key: 'h' }], Infinity)).toEqual([{ a: '1' }]);
  });

  it('compares owners for affinity operations', async () => {
    const memory = new MemoryTier();
    await memory.exec([{ op: 'set', key: 'a', value: 'w1', ttlSeconds: 60, nx: true }]);
    expect(await memory.exec([{ op: 'set', key: 'a', value: 'w2', ttlSeconds: 60, nx: true }])).toEqual([null]);
    expect(await memory.exec([{ op: 'renewIfOwner', key: 'a', owner: 'w2', ttlSeconds: 60 }, { op: 'deleteIfOwner', key: 'a', owner: 'w2' }])).toEqual([0, 0]);
    expect(await memory.exec([{ op: 'deleteIfOwner', key: 'a', owner: 'w1' }, { op: 'get', key: 'a' }])).toEqual([1, null]);
  });
});

describe('WriteBatch', () => {
  it('follows every written key with one EXPIRE and refuses a write without a TTL', () => {
    const commands = new WriteBatch().rpush('h', ['t'], 7200).hset('c', { a: '1' }, 1800).hset('c', { b: '2' }, 1800).set('s', 'v', 60).commands();
    expect(commands.map((c) => `${c.op} ${'key' in c ? c.key : ''}`)).toEqual(['rpush h', 'hset c', 'hset c', 'set s', 'expire h', 'expire c']);
    expect(() => new WriteBatch().hset('c', { a: '1' }, 0)).toThrow(RangeError);
  });
});
