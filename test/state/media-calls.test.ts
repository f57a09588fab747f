/**
 * The registry of live media calls: the trigger records each ACS media connection there, so a relay that
 * starts after the call connected still finds it (see src/lib/media/relay.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSharedStore, randomId, type StoreHandle } from './support/store.js';

let h: StoreHandle;
beforeAll(async () => {
  h = await openSharedStore();
});
afterAll(async () => {
  await h?.close();
});

describe('registry of live media calls', () => {
  it('lists the registered calls with their media connection, in one hash that carries the call_session TTL', async () => {
    // Prepare
    const first = randomId();
    const second = randomId();

    // Act
    await h.leases.registerMediaCall(first, 'conn-1');
    await h.leases.registerMediaCall(second, 'conn-2');
    const listed = await h.leases.mediaCalls();

    // Assess
    expect(listed.get(first)).toBe('conn-1');
    expect(listed.get(second)).toBe('conn-2');
    const key = h.keys.system('media', 'calls');
    expect(key).toBe(`${h.keys.prefix}:test:system:{media}:calls`);
    const ttl = await h.raw.ttl(key);
    expect(ttl).toBeGreaterThan(h.keys.ttl('system', 'calls') - 10);
    expect(ttl).toBeLessThanOrEqual(2 * 3600);
  });

  it('slides the TTL on every registration', async () => {
    // Prepare
    const key = h.keys.system('media', 'calls');
    await h.leases.registerMediaCall(randomId(), 'conn-a');
    await h.raw.expire(key, 60);

    // Act
    await h.leases.registerMediaCall(randomId(), 'conn-b');

    // Assess
    expect(await h.raw.ttl(key)).toBeGreaterThan(3600);
  });

  it('unregisters a call only while the connection that ends is the registered one', async () => {
    // Prepare: ACS reconnected the call's media on conn-new before conn-old's disconnect arrived.
    const callId = randomId();
    await h.leases.registerMediaCall(callId, 'conn-old');
    await h.leases.registerMediaCall(callId, 'conn-new');

    // Act
    const staleRemoved = await h.leases.unregisterMediaCall(callId, 'conn-old');
    const afterStale = await h.leases.mediaCalls();
    const currentRemoved = await h.leases.unregisterMediaCall(callId, 'conn-new');

    // Assess
    expect(staleRemoved).toBe(false);
    expect(afterStale.get(callId)).toBe('conn-new');
    expect(currentRemoved).toBe(true);
    expect((await h.leases.mediaCalls()).has(callId)).toBe(false);
  });

  it('unregisters whatever connection is registered when none is named (pruning)', async () => {
    // Prepare
    const callId = randomId();
    await h.leases.registerMediaCall(callId, 'conn-1');

    // Act
    const removed = await h.leases.unregisterMediaCall(callId);
    const again = await h.leases.unregisterMediaCall(callId);

    // Assess
    expect(removed).toBe(true);
    expect(again).toBe(false);
    expect((await h.leases.mediaCalls()).has(callId)).toBe(false);
  });
});
