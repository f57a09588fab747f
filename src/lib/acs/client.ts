import { CallAutomationClient, type CallAutomationClientOptions, type CallConnection, type CallMedia } from '@azure/communication-call-automation';
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors.js';
import type { AppConfig } from '../config/index.js';
import { resolveCredential, type CredentialInput } from '../app/credential.js';

/**
 * The Call Automation client: the connection string for local runs (the emulator, or a developer's
 * key) and endpoint + the app's credential in the cloud. The app builds one and reuses it across
 * invocations, because the SDK's pipeline (HTTP agent, token cache) is meant to be reused.
 */

export class AcsClientError extends AppError {
  override readonly name = 'AcsClientError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'acs_client_config', cause: options.cause });
  }
}

export type AcsClientSettings = Pick<AppConfig['acs'], 'endpoint' | 'connectionString'>;

export interface AcsClientOptions {
  /** The app's credential (its managed identity in the cloud); used only with an endpoint. */
  readonly credential?: CredentialInput | undefined;
}

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

async function build(settings: AcsClientSettings, options: AcsClientOptions): Promise<CallAutomationClient> {
  const clientOptions: CallAutomationClientOptions = {
    allowInsecureConnection: endpointOf(settings).startsWith('http://'),
  };
  if (settings.connectionString) return new CallAutomationClient(settings.connectionString, clientOptions);
  if (!options.credential) throw new AcsClientError('An ACS endpoint without a connection string needs the app credential');
  return new CallAutomationClient(endpointOf(settings), await resolveCredential(options.credential), clientOptions);
}

/**
 * @example
 * const acs = await createCallAutomationClient(config.acs, { credential });
 * await acs.answerCall(...answerCallArgs({ incomingCallContext, callbackUrl }));
 */
export async function createCallAutomationClient(settings: AcsClientSettings, options: AcsClientOptions = {}): Promise<CallAutomationClient> {
  try {
    return await build(settings, options);
  } catch (cause) {
    throw cause instanceof AcsClientError ? cause : new AcsClientError('Could not create the Call Automation client', { cause });
  }
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

/**
 * The app's Call Automation client with the SDK's handles on the calls it acts on, reused across each
 * call's callbacks. `getCallConnection` and `getCallMedia` each build a new generated client with its own
 * request pipeline (about 80 µs of CPU and tens of KB of garbage per callback); the handles hold no
 * per-request state, so one pair per call serves every event of it. The app builds one of these per
 * client, so the cache lives and dies with the app that owns it.
 *
 * @example
 * const acs = new AcsClient(await createCallAutomationClient(config.acs, { credential }));
 * await acs.media(callConnectionId).playToAll(...playText('Goodbye!', speech, { operationContext: 'goodbye' }));
 */
export class AcsClient {
  private readonly handles = new LRUCache<string, ConnectionHandles>({ ...CONNECTION_CACHE, updateAgeOnGet: true });

  constructor(readonly client: CallAutomationClient) {}

  /** The SDK's handle on one call, reused across that call's callbacks. */
  connection(callConnectionId: string): CallConnection {
    return this.handlesOf(callConnectionId).connection;
  }

  /** The media operations of one call (play, recognize, streaming), reused like {@link connection}. */
  media(callConnectionId: string): CallMedia {
    const handles = this.handlesOf(callConnectionId);
    handles.media ??= handles.connection.getCallMedia();
    return handles.media;
  }

  private handlesOf(callConnectionId: string): ConnectionHandles {
    let handles = this.handles.get(callConnectionId);
    if (!handles) {
      handles = { connection: this.client.getCallConnection(callConnectionId) };
      this.handles.set(callConnectionId, handles);
    }
    return handles;
  }
}

export * from './operations.js';
