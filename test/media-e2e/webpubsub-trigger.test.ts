/**
 * The dev host's webPubSubTrigger webhook, as the Functions Web PubSub extension serves it: the
 * abuse-protection preflight, `ce-signature` checked against the hub's key, and the app's
 * `mediaConnected` / `mediaDisconnected` functions invoked with the connection context.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { parseRelayControl } from '../../src/lib/media/relay-control.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { startMediaStack } from './support.js';
import { redisKeysOf } from '../e2e/support.js';

describe('webPubSubTrigger webhook', () => {
  let stack: OfflineStack;
  let url: string;

  beforeAll(async () => {
    stack = await startMediaStack({ relays: 1 });
    url = stack.host.webhookUrl('webpubsub');
  });
  afterAll(async () => {
    await stack?.close();
  });

  function cloudEvent(event: string, connectionId: string, userId: string, signature: string): RequestInit {
    return {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-type': `azure.webpubsub.sys.${event}`,
        'ce-hub': 'media',
        'ce-connectionId': connectionId,
        'ce-userId': userId,
        'ce-eventName': event,
        'ce-signature': signature,
        'WebHook-Request-Origin': '127.0.0.1',
      },
      body: event === 'disconnected' ? '{"reason":"gone"}' : '{}',
    };
  }

  const sign = (key: string, connectionId: string): string => `sha256=${createHmac('sha256', Buffer.from(key, 'utf8')).update(connectionId).digest('hex')}`;

  /** A call in progress, as incomingCall and CallConnected leave it. */
  async function liveCall(callId: string): Promise<void> {
    await (await stack.runtime.store()).createCallSession(callId, { state: 'connected', direction: 'inbound', startedAt: new Date().toISOString() });
  }

  function post(event: 'connected' | 'disconnected', connectionId: string, callId: string): Promise<Response> {
    return fetch(url, cloudEvent(event, connectionId, `acs-call.${callId}`, sign(stack.media!.webPubSub.accessKey, connectionId)));
  }

  const keysOf = (callId: string): Promise<string[]> => redisKeysOf(stack, callId);

  it('answers the abuse-protection preflight', async () => {
    // Act
    const response = await fetch(url, { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': '127.0.0.1' } });
    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('*');
  });

  it('refuses an event whose signature was not made with the hub key', async () => {
    // Prepare
    const forged = cloudEvent('connected', 'conn-forged', 'acs-call.forged-call', sign('not-the-key', 'conn-forged'));
    // Act
    const response = await fetch(url, forged);
    // Assess: nothing was recorded for that call.
    expect(response.status).toBe(401);
    expect(await (await stack.runtime.store()).getCallSession('forged-call')).toBeUndefined();
  });

  it('runs mediaConnected for a signed event: the call is recorded and a relay claims it', async () => {
    // Prepare
    const key = stack.media!.webPubSub.accessKey;
    const store = await stack.runtime.store();
    const leases = await stack.runtime.relayLeases();
    await liveCall('signed-call');
    // Act
    const response = await fetch(url, cloudEvent('connected', 'conn-1', 'acs-call.signed-call', sign(key, 'conn-1')));
    // Assess
    expect(response.status).toBe(204);
    expect(await store.getCallSession('signed-call')).toMatchObject({ mediaState: 'connected', mediaConnectionId: 'conn-1' });
    const relay = stack.media!.relays[0]!;
    await eventually('the relay owns the call', () => (relay.calls().includes('signed-call') ? true : undefined));
    expect(await leases.getAffinity('signed-call')).toBe(relay.workerId);

    // Act: the ACS connection goes away.
    const gone = await fetch(url, cloudEvent('disconnected', 'conn-1', 'acs-call.signed-call', sign(key, 'conn-1')));
    // Assess
    expect(gone.status).toBe(204);
    await eventually('the relay let the call go', () => (relay.calls().length === 0 ? true : undefined));
    await expect.poll(() => leases.getAffinity('signed-call')).toBeNull();
  });

  it('does not keep a call whose media ended while a relay was still claiming it', async () => {
    // Prepare
    const key = stack.media!.webPubSub.accessKey;
    const leases = await stack.runtime.relayLeases();
    const relay = stack.media!.relays[0]!;
    await liveCall('short-call');
    // Act: connected and disconnected back to back.
    const [connected, disconnected] = await Promise.all([
      fetch(url, cloudEvent('connected', 'conn-3', 'acs-call.short-call', sign(key, 'conn-3'))),
      fetch(url, cloudEvent('disconnected', 'conn-3', 'acs-call.short-call', sign(key, 'conn-3'))),
    ]);
    // Assess
    expect([connected.status, disconnected.status]).toEqual([204, 204]);
    await expect.poll(() => leases.getAffinity('short-call')).toBeNull();
    expect(relay.calls()).not.toContain('short-call');
  });

  it('ignores a connected event that arrives after its disconnected event', async () => {
    // Prepare
    const relay = stack.media!.relays[0]!;
    await liveCall('crossed-call');
    await relay.handleDisconnected('crossed-call', 'conn-crossed');
    // Act
    const owned = await relay.handleConnected('crossed-call', 'conn-crossed');
    // Assess
    expect(owned).toBe(false);
    expect(await (await stack.runtime.relayLeases()).getAffinity('crossed-call')).toBeNull();
  });

  it('keeps a call whose media ACS reconnected on a new connection, and ends it with that connection', async () => {
    // Prepare
    const relay = stack.media!.relays[0]!;
    const leases = await stack.runtime.relayLeases();
    await liveCall('reconnected-call');
    expect(await relay.handleConnected('reconnected-call', 'conn-old')).toBe(true);
    expect(await relay.handleConnected('reconnected-call', 'conn-new')).toBe(true);
    // Act: the old connection's disconnected arrives late.
    await relay.handleDisconnected('reconnected-call', 'conn-old');
    // Assess: the call goes on…
    expect(relay.calls()).toContain('reconnected-call');
    expect(await leases.getAffinity('reconnected-call')).toBe(relay.workerId);
    // …until its current connection ends.
    await relay.handleDisconnected('reconnected-call', 'conn-new');
    expect(relay.calls()).not.toContain('reconnected-call');
    expect(await leases.getAffinity('reconnected-call')).toBeNull();
  });

  it('a late disconnected for an old media connection leaves the live call in the registry and with its relay', async () => {
    // Prepare: the call's media connected, then ACS reconnected it on a new connection.
    const store = await stack.runtime.store();
    const leases = await stack.runtime.relayLeases();
    const relay = stack.media!.relays[0]!;
    await liveCall('late-disconnect-call');
    expect((await post('connected', 'conn-a', 'late-disconnect-call')).status).toBe(204);
    await eventually('the relay owns the call', () => (relay.calls().includes('late-disconnect-call') ? true : undefined));
    expect((await post('connected', 'conn-b', 'late-disconnect-call')).status).toBe(204);

    // Act: the old connection's disconnected arrives last.
    const late = await post('disconnected', 'conn-a', 'late-disconnect-call');

    // Assess: acknowledged; the call is still live on conn-b, in the session, the registry and its relay…
    expect(late.status).toBe(204);
    expect(await store.getCallSession('late-disconnect-call')).toMatchObject({ mediaState: 'connected', mediaConnectionId: 'conn-b' });
    expect((await leases.mediaCalls()).get('late-disconnect-call')).toBe('conn-b');
    expect(relay.calls()).toContain('late-disconnect-call');
    // …and a relay started now (reading the registry) finds it rather than pruning it.
    const later = await stack.media!.startRelay();
    expect((await leases.mediaCalls()).get('late-disconnect-call')).toBe('conn-b');
    await later.close();

    // Act: the current connection ends.
    expect((await post('disconnected', 'conn-b', 'late-disconnect-call')).status).toBe(204);
    // Assess
    await eventually('the relay let the call go', () => (relay.calls().includes('late-disconnect-call') ? undefined : true));
    expect((await leases.mediaCalls()).has('late-disconnect-call')).toBe(false);
    expect(await store.getCallSession('late-disconnect-call')).toMatchObject({ mediaState: 'disconnected' });
  });

  it('a late connected for an ended call is acknowledged and ignored and leaves nothing behind', async () => {
    // Prepare: one call finalised (its keys deleted), one whose session says it is over.
    const store = await stack.runtime.store();
    const leases = await stack.runtime.relayLeases();
    await store.createCallSession('ended-call', { state: 'disconnected', direction: 'inbound', startedAt: new Date().toISOString() });
    const before = await keysOf('ended-call');
    const sessionsBefore = stack.media!.realtime.sessions.size;

    // Act
    const [gone, ended] = await Promise.all([post('connected', 'conn-late-1', 'finalised-call'), post('connected', 'conn-late-2', 'ended-call')]);

    // Assess: acknowledged; no relay claims either, no agent session is opened, no key is written.
    expect([gone.status, ended.status]).toEqual([204, 204]);
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for an announcement to reach the relays, were one sent
    expect(stack.media!.relays.flatMap((r) => r.calls())).not.toEqual(expect.arrayContaining(['finalised-call']));
    expect(stack.media!.relays.flatMap((r) => r.calls())).not.toEqual(expect.arrayContaining(['ended-call']));
    expect(stack.media!.realtime.sessions.size).toBe(sessionsBefore);
    expect(await keysOf('finalised-call')).toEqual([]);
    expect(await keysOf('ended-call')).toEqual(before);
    expect(await store.getCallSession('ended-call')).not.toHaveProperty('mediaState');
    expect((await leases.mediaCalls()).has('ended-call')).toBe(false);
  });

  it('a relay never claims a call that has ended, whoever announces it', async () => {
    // Prepare
    const relay = stack.media!.relays[0]!;
    // Act: an announcement from the control group, or a takeover, reaches the relay directly.
    const owned = await relay.handleConnected('never-live-call', 'conn-x');
    // Assess
    expect(owned).toBe(false);
    expect(await keysOf('never-live-call')).toEqual([]);
  });

  it('answers 404 for an event no function listens to', async () => {
    const key = stack.media!.webPubSub.accessKey;
    const response = await fetch(url, cloudEvent('connect', 'conn-2', 'x', sign(key, 'conn-2')));
    expect(response.status).toBe(404);
  });
});

describe('relay control messages', () => {
  it('parse only well-formed announcements', () => {
    expect(parseRelayControl({ type: 'call-connected', callId: 'c1' })).toEqual({ type: 'call-connected', callId: 'c1' });
    expect(parseRelayControl('{"type":"relay-lost","workerId":"w1"}')).toEqual({ type: 'relay-lost', workerId: 'w1' });
    expect(parseRelayControl({ type: 'call-claimed', callId: 'c1' })).toBeUndefined();
    expect(parseRelayControl({ type: 'call-connected', callId: '' })).toBeUndefined();
    expect(parseRelayControl('not json')).toBeUndefined();
    expect(parseRelayControl({ type: 'something-else', callId: 'c1' })).toBeUndefined();
  });
});
