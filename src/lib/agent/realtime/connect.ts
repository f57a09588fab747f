/**
 * Opens the realtime WebSocket to Azure OpenAI through the `openai` package's `OpenAIRealtimeWS`.
 *
 * Two routes, both speaking the GA protocol the openai 6.49 types describe (`session.type: 'realtime'`,
 * `response.output_audio.delta`…):
 * - `v1` (default): `wss://<endpoint>/openai/v1/realtime?model=<deployment>`, the Azure GA endpoint
 *   (no api-version), through an `OpenAI` client with `baseURL <endpoint>/openai/v1`, as Microsoft's
 *   quickstart does. A key goes in the `api-key` header; an Entra ID token as `Authorization: Bearer`.
 * - `deployment`: what `OpenAIRealtimeWS.azure(AzureOpenAI)` builds,
 *   `wss://<endpoint>/openai/realtime?api-version=<v>&deployment=<d>`. Microsoft Learn ("Use the GPT
 *   Realtime API via WebSockets") gives this path with an api-version for the preview only, e.g.
 *   `2025-04-01-preview`, and the GA API at `/openai/v1/realtime` without one; a model version such as
 *   `2025-08-28` (gpt-realtime) is not an api-version. On Azure this path therefore speaks the preview
 *   protocol, which differs from the GA one this client speaks (event names, `session.type`): it is
 *   kept for deployments still on the preview, and `v1` is the route to use.
 */

import OpenAI, { AzureOpenAI } from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { ClientOptions as WebSocketOptions } from 'ws';
import { RealtimeAgentError, connectError } from './errors.js';

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

export type RealtimeConnectionSettings = {
  /** `https://<resource>.openai.azure.com` */
  readonly endpoint: string;
  readonly deployment: string;
  /** Used by the `deployment` route only. */
  readonly apiVersion?: string | undefined;
  /** @default 'v1' */
  readonly route?: 'v1' | 'deployment' | undefined;
  /** Key for local runs; without it `tokenProvider` is required. */
  readonly apiKey?: string | undefined;
  /** Entra ID tokens of the app's credential. */
  readonly tokenProvider?: (() => Promise<string>) | undefined;
  /** Sent as `x-ms-client-request-id` so service-side logs can be matched to the call. */
  readonly correlationId?: string | undefined;
  /** TLS and handshake options (e.g. `ca` for the emulator's self-signed certificate). */
  readonly socketOptions?: Pick<WebSocketOptions, 'ca' | 'rejectUnauthorized' | 'handshakeTimeout'> | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** @default 10 000 ms handshake timeout */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** The data-plane api-version Learn documents for `/openai/realtime` (the preview route). */
export const DEFAULT_DEPLOYMENT_ROUTE_API_VERSION = '2025-04-01-preview';

/** Opens the socket and waits until it is open; failures become a classified RealtimeAgentError. */
export async function openRealtimeSocket(settings: RealtimeConnectionSettings): Promise<OpenAIRealtimeWS> {
  if (settings.signal?.aborted) {
    throw new RealtimeAgentError('Realtime connection aborted', { code: 'aborted', retryable: false, cause: settings.signal.reason });
  }
  const headers: Record<string, string> = settings.correlationId ? { 'x-ms-client-request-id': settings.correlationId } : {};
  const options = { handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT_MS, ...settings.socketOptions };
  let socket: OpenAIRealtimeWS;
  try {
    if ((settings.route ?? 'v1') === 'v1') {
      const baseURL = `${settings.endpoint.replace(/\/+$/, '')}/openai/v1`;
      const apiKey = settings.apiKey ? settings.apiKey : await tokenProviderFor(settings);
      const client = new OpenAI({ baseURL, apiKey });
      // Microsoft's GA quickstart sends the key as `api-key` too (the client itself only sends it as a bearer).
      if (settings.apiKey) headers['api-key'] = settings.apiKey;
      socket = await OpenAIRealtimeWS.create(client, { model: settings.deployment, options: { ...options, headers } });
    } else {
      const client = new AzureOpenAI({
        endpoint: settings.endpoint,
        apiVersion: settings.apiVersion ?? DEFAULT_DEPLOYMENT_ROUTE_API_VERSION,
        deployment: settings.deployment,
        ...(settings.apiKey ? { apiKey: settings.apiKey } : { azureADTokenProvider: await tokenProviderFor(settings) }),
      });
      socket = await OpenAIRealtimeWS.azure(client, { deploymentName: settings.deployment, options: { ...options, headers } });
    }
  } catch (error) {
    throw new RealtimeAgentError('Cannot obtain credentials for the realtime service', { code: 'auth', retryable: true, cause: error });
  }
  await waitForOpen(socket, settings.signal);
  return socket;
}

async function tokenProviderFor(settings: RealtimeConnectionSettings): Promise<() => Promise<string>> {
  if (settings.tokenProvider) return settings.tokenProvider;
  throw new Error('the realtime service needs AZURE_OPENAI_API_KEY or the app credential (a token provider)');
}

function waitForOpen(realtime: OpenAIRealtimeWS, signal: AbortSignal | undefined): Promise<void> {
  const socket = realtime.socket;
  // The openai emitter turns socket errors into unhandled rejections unless someone listens; the
  // socket's own error event is what this promise reports.
  const ignore = (): void => {};
  realtime.on('error', ignore);
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      realtime.off('error', ignore);
      socket.off('open', onOpen);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    const onOpen = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(connectError(error));
    };
    const onClose = (code: number): void => {
      cleanup();
      reject(new RealtimeAgentError(`Realtime socket closed during the handshake (${code})`, { code: 'unavailable', retryable: true }));
    };
    const onAbort = (): void => {
      cleanup();
      // terminate() reports "closed before the connection was established" on a later tick: the
      // abandoned client keeps a listener, or its emitter turns that into an unhandled rejection.
      realtime.on('error', ignore);
      socket.terminate();
      reject(new RealtimeAgentError('Realtime connection aborted', { code: 'aborted', retryable: false, cause: signal?.reason }));
    };
    socket.on('open', onOpen);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
