import { createHmac } from 'node:crypto';
import { app } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHost, webPubSubDispatcher, type DevHost, type WebPubSubServiceAccess } from '../../emulators/devhost/index.js';
import { installFunctionsCore } from '../../emulators/functions-host/registry.js';
import { createLogger } from '../../src/lib/telemetry/logger.js';

/**
 * The Web PubSub webhook as Azure protects it. The Functions host admits `/runtime/webhooks/webpubsub`
 * only with the `webpubsub_extension` system key or the master key (azure-functions-host
 * HostController.ExtensionWebHookHandler: `SystemKeyAuthLevel`, OPTIONS included; key named by
 * DefaultScriptWebHookProvider.GetKeyName). Behind it, the extension's own checks depend on the services
 * it is configured with (RequestValidator.cs): with none, any origin and no signature; with some, only
 * their hosts pass the abuse-protection OPTIONS, and events need the service's signature when it has a key.
 */

const SERVICE = 'https://wps-abc.webpubsub.azure.com';
const KEY = 'k'.repeat(44);
const invoked: string[] = [];

function event(origin: string, signatureKey?: string, connectionId = 'conn-1'): RequestInit {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-type': 'azure.webpubsub.sys.connected',
    'ce-hub': 'media',
    'ce-connectionId': connectionId,
    'ce-eventName': 'connected',
    'WebHook-Request-Origin': origin,
  };
  if (signatureKey) headers['ce-signature'] = `sha256=${createHmac('sha256', signatureKey).update(connectionId).digest('hex')}`;
  return { method: 'POST', headers, body: '{}' };
}

const preflight = (origin: string): RequestInit => ({ method: 'OPTIONS', headers: { 'WebHook-Request-Origin': origin } });
const quiet = createLogger(() => undefined, 'error');

async function hostWith(services: readonly WebPubSubServiceAccess[]): Promise<DevHost> {
  return startDevHost({ logger: quiet, dispatchers: [webPubSubDispatcher({ services: () => services })] });
}

beforeAll(() => {
  installFunctionsCore();
  app.webPubSub('probeConnected', {
    name: 'request',
    hub: 'media',
    eventType: 'system',
    eventName: 'connected',
    handler: (request: unknown) => {
      invoked.push((request as { connectionContext: { connectionId: string } }).connectionContext.connectionId);
    },
  });
});

describe('the webpubsub_extension system key', () => {
  let host: DevHost;
  beforeAll(async () => {
    host = await hostWith([]);
  });
  afterAll(async () => host?.close());

  it('is the only way in: no key, a wrong key or a function key get 401, for OPTIONS and events alike', async () => {
    const base = `${host.baseUrl}/runtime/webhooks/webpubsub`;
    for (const url of [base, `${base}?code=wrong`, `${base}?code=${host.keys.function}`]) {
      expect((await fetch(url, preflight('anything.example'))).status, url).toBe(401);
      expect((await fetch(url, event('anything.example'))).status, url).toBe(401);
    }
    expect(invoked).toEqual([]);
  });

  it('admits the extension key (?code=) and the master key (x-functions-key)', async () => {
    expect(host.keys.system.webpubsub_extension).toBeTruthy();
    expect(host.webhookUrl('webpubsub')).toBe(`${host.baseUrl}/runtime/webhooks/webpubsub?code=${encodeURIComponent(host.keys.system.webpubsub_extension!)}`);
    expect((await fetch(host.webhookUrl('webpubsub'), event('anything.example', undefined, 'by-system-key'))).ok).toBe(true);
    const byMaster = await fetch(`${host.baseUrl}/runtime/webhooks/webpubsub`, {
      ...event('anything.example', undefined, 'by-master-key'),
      headers: { ...(event('anything.example', undefined, 'by-master-key').headers as Record<string, string>), 'x-functions-key': host.keys.master },
    });
    expect(byMaster.ok).toBe(true);
    expect(invoked).toEqual(['by-system-key', 'by-master-key']);
  });

  it('with no service configured, is the only guard: any origin passes and no signature is asked for', async () => {
    const res = await fetch(host.webhookUrl('webpubsub'), preflight('attacker.example'));
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('*');
    expect((await fetch(host.webhookUrl('webpubsub'), event('attacker.example', undefined, 'unsigned'))).ok).toBe(true);
  });
});

describe('the abuse-protection OPTIONS and signatures with a configured service', () => {
  let keyed: DevHost;
  let identity: DevHost;
  beforeAll(async () => {
    keyed = await hostWith([{ endpoint: SERVICE, accessKey: KEY }]);
    identity = await hostWith([{ endpoint: SERVICE }]);
  });
  afterAll(async () => {
    await keyed?.close();
    await identity?.close();
  });

  it('allows only the configured service as origin', async () => {
    const allowed = await fetch(keyed.webhookUrl('webpubsub'), preflight('wps-abc.webpubsub.azure.com'));
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('webhook-allowed-origin')).toBe('*');
    expect((await fetch(keyed.webhookUrl('webpubsub'), preflight('evil.example'))).status).toBe(400);
    expect((await fetch(keyed.webhookUrl('webpubsub'), preflight('evil.example, wps-abc.webpubsub.azure.com'))).ok).toBe(true);
  });

  it('accepts events signed with the service key from its origin only', async () => {
    const url = keyed.webhookUrl('webpubsub');
    expect((await fetch(url, event('wps-abc.webpubsub.azure.com', KEY, 'signed'))).ok).toBe(true);
    expect((await fetch(url, event('wps-abc.webpubsub.azure.com', 'another-key', 'forged'))).status).toBe(401);
    expect((await fetch(url, event('wps-abc.webpubsub.azure.com', undefined, 'unsigned-keyed'))).status).toBe(401);
    expect((await fetch(url, event('evil.example', KEY, 'wrong-origin'))).status).toBe(401);
    expect(invoked).toContain('signed');
    expect(invoked).not.toContain('forged');
  });

  it('with identity-based access (no key), checks the origin but no signature', async () => {
    const url = identity.webhookUrl('webpubsub');
    expect((await fetch(url, event('wps-abc.webpubsub.azure.com', undefined, 'identity-unsigned'))).ok).toBe(true);
    expect((await fetch(url, event('evil.example', undefined, 'identity-wrong-origin'))).status).toBe(401);
  });
});
