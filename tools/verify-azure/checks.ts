/**
 * The checks of `npm run verify:azure`, each against an injected client so that the same code runs
 * against a deployed environment and, in the tests, against the emulators and a private Redis.
 * A check never throws: it reports pass or fail with the reason, and never prints a key or token.
 */
import { randomUUID } from 'node:crypto';
import type { CosmosClient } from '@azure/cosmos';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient, WebPubSubJsonProtocol } from '@azure/web-pubsub-client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import type { RedisConfig } from '../../src/lib/config/index.js';
import { inboundGroup } from '../../src/lib/media/groups.js';
import { mediaTransportUrl } from '../../src/lib/media/media-token.js';
import { createRedis } from '../../src/lib/state/redis-client.js';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly reason: string;
  /** Facts learnt on the way, e.g. which token Web PubSub validated. */
  readonly facts?: Readonly<Record<string, string>>;
}

const pass = (name: string, reason: string, facts?: Record<string, string>): CheckResult => ({ name, ok: true, reason, ...(facts ? { facts } : {}) });
const fail = (name: string, reason: string, facts?: Record<string, string>): CheckResult => ({ name, ok: false, reason, ...(facts ? { facts } : {}) });
const messageOf = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** GET <app>/api/health answers 200 with status ok. */
export async function checkHealth(appBaseUrl: string, fetchImpl: typeof fetch = fetch): Promise<CheckResult> {
  const name = 'health endpoint';
  try {
    const res = await fetchImpl(`${appBaseUrl.replace(/\/+$/, '')}/api/health`, { signal: AbortSignal.timeout(15_000) });
    const body = (await res.json().catch(() => undefined)) as { status?: string; settings?: { setting: string }[]; dependencies?: Record<string, { status: string }> } | undefined;
    if (res.status === 200 && body?.status === 'ok') return pass(name, 'GET /api/health answered 200, status ok');
    if (body?.status === 'misconfigured') return fail(name, `the app is misconfigured: ${(body.settings ?? []).map((s) => s.setting).join(', ')}`);
    const deps = Object.entries(body?.dependencies ?? {})
      .map(([k, v]) => `${k} ${v.status}`)
      .join(', ');
    return fail(name, `GET /api/health answered ${res.status}${body?.status ? ` (${body.status}${deps ? `: ${deps}` : ''})` : ''}`);
  } catch (err) {
    return fail(name, `GET /api/health failed: ${messageOf(err)}`);
  }
}

/** Connects as the app does (Entra ID, TLS, cluster in Azure), writes, reads and deletes a probe key. */
export async function checkRedis(config: RedisConfig, options: Parameters<typeof createRedis>[1] = {}): Promise<CheckResult> {
  const mode = `${config.auth} auth, ${config.cluster ? 'cluster' : 'single'} mode, ${config.tls ? 'TLS' : 'plain'}`;
  const name = 'Redis';
  let managed: Awaited<ReturnType<typeof createRedis>> | undefined;
  try {
    managed = await createRedis(config, { connectionName: 'rtvoice-verify', ...options });
    await managed.ready();
    const key = `rtvoice-verify:{${randomUUID()}}`;
    const value = randomUUID();
    await managed.client.set(key, value, 'EX', 60);
    const read = await managed.client.get(key);
    await managed.client.del(key);
    if (read !== value) return fail(name, `wrote a probe key but read back ${read === null ? 'nothing' : 'another value'} (${mode})`);
    return pass(name, `SET/GET/DEL of a probe key (${mode})`, { mode });
  } catch (err) {
    return fail(name, `${messageOf(err)} (${mode})`, { mode });
  } finally {
    await managed?.close().catch(() => undefined);
  }
}

/** Writes and reads back a short-lived probe document in the audit container (partition key /callId). */
export async function checkCosmos(client: CosmosClient, database: string, container = 'audit'): Promise<CheckResult> {
  const name = 'Cosmos DB write and read';
  const id = `verify-${randomUUID()}`;
  try {
    const items = client.database(database).container(container).items;
    await items.create({ id, callId: id, type: 'verify', ttl: 60, at: new Date().toISOString() });
    const { resource } = await client.database(database).container(container).item(id, id).read<{ id: string }>();
    await client.database(database).container(container).item(id, id).delete().catch(() => undefined);
    if (resource?.id !== id) return fail(name, `created ${container}/${id} but could not read it back`);
    return pass(name, `created, read and deleted a document in ${database}/${container}`);
  } catch (err) {
    const status = (err as { code?: number }).code;
    const hint = status === 403 ? ' (the identity lacks the Cosmos DB Built-in Data Contributor role on the database)' : '';
    return fail(name, `${messageOf(err)}${hint}`);
  }
}

export interface WebPubSubCheckOptions {
  /** How long the subscriber waits for the frame. @default 10 000 ms */
  readonly timeoutMs?: number;
  /** Extra `ws` options for the raw client (e.g. a CA). */
  readonly socketOptions?: WebSocket.ClientOptions;
}

/** An RS256 JWT from a key nobody else knows, shaped like the one ACS sends when it opens a media socket. */
export async function foreignRs256Jwt(): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = (await exportJWK(publicKey)).n?.slice(0, 16) ?? 'k';
  return new SignJWT({ skypeid: 'acs:verify' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .setIssuer('https://acscallautomation.communication.azure.com')
    .setAudience('rtvoice-verify')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

type RawOutcome = { opened: true; socket: WebSocket } | { opened: false; status: number | undefined; error: string };

function openRaw(url: string, headers: Record<string, string>, options: WebSocket.ClientOptions = {}): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { ...options, headers });
    socket.once('open', () => resolve({ opened: true, socket }));
    socket.once('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode, error: `HTTP ${res.statusCode}` });
      socket.terminate();
    });
    socket.once('error', (err) => resolve({ opened: false, status: undefined, error: messageOf(err) }));
  });
}

/**
 * The media path as ACS uses it: a raw WebSocket to the transport URL the app mints (`access_token`,
 * `webpubsub_mode=sendToGroup&group=call.<id>.in`) carrying a foreign RS256 `Authorization` header, as
 * ACS connects; a frame it sends must reach a subscriber that joined the group the way the relay does
 * (`@azure/web-pubsub-client`, json.webpubsub.azure.v1). Which token the service validated is reported:
 * `token-validated: query` when the connection was admitted with the header present, `header` when it was
 * refused with the header and admitted without it.
 */
export async function checkWebPubSub(service: WebPubSubServiceClient, options: WebPubSubCheckOptions = {}): Promise<CheckResult> {
  const name = 'Web PubSub media path';
  const callId = `verify-${randomUUID()}`;
  const group = inboundGroup(callId);
  let subscriber: WebPubSubClient | undefined;
  let media: WebSocket | undefined;
  try {
    subscriber = new WebPubSubClient(
      { getClientAccessUrl: async () => (await service.getClientAccessToken({ userId: `verify.${callId}`, roles: ['webpubsub.joinLeaveGroup'] })).url },
      { protocol: WebPubSubJsonProtocol(), autoReconnect: false },
    );
    const received = new Promise<string>((resolve) => {
      subscriber!.on('group-message', ({ message }) => {
        if (message.group === group && typeof message.data === 'string') resolve(message.data);
      });
    });
    await subscriber.start();
    await subscriber.joinGroup(group);

    const url = await mediaTransportUrl(service, callId, { maxCallDurationSeconds: 60, marginSeconds: 60 });
    const withHeader = await openRaw(url, { Authorization: `Bearer ${await foreignRs256Jwt()}` }, options.socketOptions);
    let facts: Record<string, string>;
    if (withHeader.opened) {
      media = withHeader.socket;
      facts = { 'token-validated': 'query', detail: 'access_token was honoured with a foreign Authorization header present' };
    } else {
      const queryOnly = await openRaw(url, {}, options.socketOptions);
      if (queryOnly.opened) {
        queryOnly.socket.close();
        return fail(name, `the connection was refused (${withHeader.error}) with the ACS-like Authorization header and admitted without it: the service validates the header, so every ACS media connection would be refused`, { 'token-validated': 'header' });
      }
      return fail(name, `the media transport URL was refused with and without the Authorization header (${withHeader.error}; ${queryOnly.error})`, { 'token-validated': 'unknown' });
    }
    const frame = JSON.stringify({ kind: 'AudioMetadata', audioMetadata: { subscriptionId: callId, encoding: 'PCM', sampleRate: 24000, channels: 1, length: 480 } });
    media.send(frame);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const got = await Promise.race([received, new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs))]);
    if (got === undefined) return fail(name, `the frame sent in sendToGroup mode did not reach the group subscriber within ${timeoutMs} ms`, facts);
    if (got !== frame) return fail(name, 'the subscriber received a different frame from the one sent', facts);
    return pass(name, `a sendToGroup frame reached a relay-like subscriber of ${group}; ${facts.detail}`, facts);
  } catch (err) {
    return fail(name, messageOf(err));
  } finally {
    media?.close();
    subscriber?.stop();
  }
}

/** What Azure Resource Manager answers; `json` is undefined for an empty or non-JSON body. */
export interface ArmResponse {
  readonly status: number;
  readonly json: unknown;
}

/** The management-plane calls the checks make (`path` starts with `/subscriptions/`). */
export interface Arm {
  request(method: 'GET' | 'POST', path: string, apiVersion: string): Promise<ArmResponse>;
}

export interface EnvironmentIds {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly functionAppName: string;
  readonly systemTopicName: string;
  /** Name given in infra/modules/app-wiring.bicep. */
  readonly subscriptionName?: string;
  readonly appBaseUrl: string;
}

const rgPath = (ids: EnvironmentIds): string => `/subscriptions/${ids.subscriptionId}/resourceGroups/${ids.resourceGroup}`;

/**
 * The IncomingCall subscription exists and is provisioned. Event Grid creates a webhook subscription
 * only after the endpoint answered its validation handshake, so `Succeeded` means validated;
 * `AwaitingManualAction` means the handshake was never answered.
 */
export async function checkEventGridSubscription(arm: Arm, ids: EnvironmentIds): Promise<CheckResult> {
  const name = 'Event Grid IncomingCall subscription';
  const path = `${rgPath(ids)}/providers/Microsoft.EventGrid/systemTopics/${ids.systemTopicName}/eventSubscriptions/${ids.subscriptionName ?? 'incoming-call'}`;
  try {
    const res = await arm.request('GET', path, '2025-02-15');
    if (res.status === 404) return fail(name, 'no subscription: the second provisioning phase (WIRE_APP_ENDPOINTS=true) has not run');
    if (res.status !== 200) return fail(name, `GET subscription answered ${res.status}`);
    const props = (res.json as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
    const state = String(props.provisioningState ?? 'unknown');
    const destination = (props.destination as { endpointType?: string; properties?: { endpointBaseUrl?: string } } | undefined) ?? {};
    const types = ((props.filter as { includedEventTypes?: string[] } | undefined)?.includedEventTypes ?? []).map(String);
    const expected = `${ids.appBaseUrl.replace(/\/+$/, '')}/api/incomingCall`;
    if (state !== 'Succeeded') return fail(name, `provisioningState is ${state}${state === 'AwaitingManualAction' ? ' (the validation handshake was not answered)' : ''}`);
    if (destination.endpointType !== 'WebHook') return fail(name, `destination is ${destination.endpointType ?? 'missing'}, not WebHook`);
    if ((destination.properties?.endpointBaseUrl ?? '').toLowerCase() !== expected.toLowerCase()) {
      return fail(name, `delivers to ${destination.properties?.endpointBaseUrl ?? 'nowhere'}, not ${expected}`);
    }
    if (!types.includes('Microsoft.Communication.IncomingCall')) return fail(name, `filters ${types.join(', ') || 'no event types'}, not Microsoft.Communication.IncomingCall`);
    return pass(name, `provisioned and validated, delivering IncomingCall to ${expected}`);
  } catch (err) {
    return fail(name, messageOf(err));
  }
}

/** The keys the second phase wires: the host's webpubsub_extension system key and incomingCall's function key. */
export async function checkFunctionKeys(arm: Arm, ids: EnvironmentIds): Promise<CheckResult> {
  const name = 'function keys';
  const site = `${rgPath(ids)}/providers/Microsoft.Web/sites/${ids.functionAppName}`;
  try {
    const host = await arm.request('POST', `${site}/host/default/listKeys`, '2024-04-01');
    const fn = await arm.request('POST', `${site}/functions/incomingCall/listKeys`, '2024-04-01');
    const systemKeys = (host.json as { systemKeys?: Record<string, string> } | undefined)?.systemKeys ?? {};
    const functionKeys = (fn.json as Record<string, string> | undefined) ?? {};
    const missing: string[] = [];
    if (host.status !== 200) missing.push(`host keys (HTTP ${host.status})`);
    else if (!systemKeys.webpubsub_extension) missing.push('the webpubsub_extension system key (the host has not loaded the Web PubSub extension: is the code deployed?)');
    if (fn.status !== 200) missing.push(`incomingCall keys (HTTP ${fn.status}; is incomingCall deployed?)`);
    else if (Object.keys(functionKeys).length === 0) missing.push('a function key of incomingCall');
    if (missing.length > 0) return fail(name, `missing ${missing.join('; ')}`);
    return pass(name, `webpubsub_extension system key and ${Object.keys(functionKeys).length} incomingCall key(s) present`);
  } catch (err) {
    return fail(name, messageOf(err));
  }
}
