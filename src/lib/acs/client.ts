import { createHash } from 'node:crypto';
import { CallAutomationClient, type CallAutomationClientOptions, type CallConnection, type CallMedia } from '@azure/communication-call-automation';
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors.js';
import type { AppConfig } from '../config/index.js';

/**
 * The process-wide Call Automation client: the connection string for local runs (the emulator, or a
 * developer's key) and endpoint + managed identity in the cloud. One client per process and per target,
 * because the SDK's pipeline (HTTP agent, token cache) is meant to be reused across invocations.
 */

export class AcsClientError extends AppError {
  override readonly name = 'AcsClientError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'acs_client_config', cause: options.cause });
  }
}

export type AcsClientSettings = Pick<AppConfig['acs'], 'endpoint' | 'connectionString'>;

export interface AcsClientOptions {
  /** User-assigned managed identity (AZURE_CLIENT_ID); used only with an endpoint. */
  readonly managedIdentityClientId?: string | undefined;
}

const clients = new Map<string, Promise<CallAutomationClient>>();

/** `endpoint=http://…` is the local emulator; the SDK refuses plain http unless told otherwise. */
function endpointOf(settings: AcsClientSettings): string {
  if (settings.connectionString) {
    const match = /endpoint=([^;]+);/i.exec(settings.connectionString);
    if (!match?.[1]) throw new AcsClientError('ACS connection string has no endpoint');
    return match[1];
  }
  if (settings.endpoint) return settings.endpoint;
  throw new AcsClientError('Neither an ACS connection string nor an ACS endpoint is configured');
}

function cacheKey(settings: AcsClientSettings, options: AcsClientOptions): string {
  // Hash, so the access key is not kept as a map key in plain text.
  const identity = settings.connectionString ?? `${settings.endpoint}|${options.managedIdentityClientId ?? ''}`;
  return createHash('sha256').update(identity).digest('hex');
}

async function build(settings: AcsClientSettings, options: AcsClientOptions): Promise<CallAutomationClient> {
  const clientOptions: CallAutomationClientOptions = {
    allowInsecureConnection: endpointOf(settings).startsWith('http://'),
  };
  if (settings.connectionString) return new CallAutomationClient(settings.connectionString, clientOptions);
  // Imported lazily: @azure/identity (MSAL) is heavy and never needed for local runs.
  const { DefaultAzureCredential } = await import('@azure/identity');
  const credential = new DefaultAzureCredential(
    options.managedIdentityClientId ? { managedIdentityClientId: options.managedIdentityClientId } : {},
  );
  return new CallAutomationClient(endpointOf(settings), credential, clientOptions);
}

/**
 * @example
 * const acs = await createCallAutomationClient(config.acs, { managedIdentityClientId: config.managedIdentityClientId });
 * await acs.answerCall(...answerCallArgs({ incomingCallContext, callbackUrl }));
 */
export function createCallAutomationClient(settings: AcsClientSettings, options: AcsClientOptions = {}): Promise<CallAutomationClient> {
  let key: string;
  try {
    endpointOf(settings);
    key = cacheKey(settings, options);
  } catch (error) {
    return Promise.reject(error instanceof AcsClientError ? error : new AcsClientError('Invalid ACS settings', { cause: error }));
  }
  let client = clients.get(key);
  if (!client) {
    client = build(settings, options).catch((cause: unknown) => {
      clients.delete(key); // a failed construction must not poison the cache
      throw cause instanceof AcsClientError ? cause : new AcsClientError('Could not create the Call Automation client', { cause });
    });
    clients.set(key, client);
  }
  return client;
}

interface ConnectionHandles {
  readonly connection: CallConnection;
  media?: CallMedia;
}

/**
 * A pair of handles holds about 23 KB, so at most 256 calls' worth (≈ 6 MB) are kept; an ended call's
 * handles age out, and a call idle for longer than the TTL is rebuilt on its next event.
 */
const CONNECTION_CACHE = { max: 256, ttl: 10 * 60_000 } as const;
const connections = new WeakMap<CallAutomationClient, LRUCache<string, ConnectionHandles>>();

function handlesOf(client: CallAutomationClient, callConnectionId: string): ConnectionHandles {
  let byId = connections.get(client);
  if (!byId) {
    byId = new LRUCache<string, ConnectionHandles>({ ...CONNECTION_CACHE, updateAgeOnGet: true });
    connections.set(client, byId);
  }
  let handles = byId.get(callConnectionId);
  if (!handles) {
    handles = { connection: client.getCallConnection(callConnectionId) };
    byId.set(callConnectionId, handles);
  }
  return handles;
}

/**
 * The SDK's handle on one call, reused across that call's callbacks. `getCallConnection` and
 * `getCallMedia` each build a new generated client with its own request pipeline (about 80 µs of CPU and
 * tens of KB of garbage per callback); the handles hold no per-request state, so one pair per call serves
 * every event of it.
 */
export function callConnection(client: CallAutomationClient, callConnectionId: string): CallConnection {
  return handlesOf(client, callConnectionId).connection;
}

/** The media operations of one call (play, recognize, streaming), reused like {@link callConnection}. */
export function callMedia(client: CallAutomationClient, callConnectionId: string): CallMedia {
  const handles = handlesOf(client, callConnectionId);
  handles.media ??= handles.connection.getCallMedia();
  return handles.media;
}

/** For tests and dev hosts that switch targets within one process. */
export function resetCallAutomationClients(): void {
  clients.clear();
}

export * from './operations.js';
