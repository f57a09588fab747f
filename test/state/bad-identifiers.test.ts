import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { peerOf } from '../../src/lib/media/groups.js';
import { InvalidIdentifierError } from '../../src/lib/state/errors.js';
import { openStore, type StoreHandle } from './support/store.js';

/**
 * A malformed call id, whatever brings it (a Web PubSub userId, a registry field), is an identifier
 * error where it enters: it never reaches the registry of live media calls, where every later use of
 * it failed and was reported as Redis being unavailable.
 */

let h: StoreHandle;
beforeAll(async () => {
  h = await openStore(inject('redisPort'));
});
afterAll(async () => {
  await h?.close();
});

describe('a malformed call id', () => {
  it('in a Web PubSub userId makes an unknown peer, with the reason', () => {
    for (const userId of ['acs-call.in-{abc}', 'acs-call.in:abc', 'acs-call.in abc', `acs-call.${'x'.repeat(300)}`]) {
      const peer = peerOf(userId);
      expect(peer.kind, userId).toBe('unknown');
      expect(peer.kind === 'unknown' ? peer.reason : undefined, userId).toMatch(/^Invalid identifier/);
    }
    expect(peerOf('acs-call.in-abc')).toEqual({ kind: 'acs', callId: 'in-abc' });
  });

  it('is refused by the media registry with a typed error, and the registry stays clean', async () => {
    // Act
    const refused = await h.leases.registerMediaCall('in-{abc}', 'conn-1').catch((error: unknown) => error);

    // Assess
    expect(refused).toBeInstanceOf(InvalidIdentifierError);
    expect((await h.leases.mediaCalls()).has('in-{abc}')).toBe(false);
  });
});
