/**
 * Opens the realtime WebSocket to Azure OpenAI through the `openai` package:
 * `OpenAIRealtimeWS.azure(AzureOpenAI, { deploymentName })` connects to
 * `wss://<endpoint>/openai/realtime?api-version=<v>&deployment=<d>` with an `api-key` header (key) or
 * `Authorization: Bearer <token>` (Entra ID, e.g. managed identity).
 */

import { AzureOpenAI } from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { ClientOptions as WebSocketOptions } from 'ws';
import { RealtimeAgentError, connectError } from './errors.js';

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

export type RealtimeConnectionSettings = {
  /** `https://<resource>.openai.azure.com` */
  readonly endpoint: string;
  readonly deployment: string;
  readonly apiVersion: string;
  /** Key for local runs; without it (and without `tokenProvider`) DefaultAzureCredential is used. */
  readonly apiKey?: string | undefined;
  /** Entra ID token provider (overrides DefaultAzureCredential). */
  readonly tokenProvider?: (() => Promise<string>) | undefined;
  /** User-assigned managed identity for DefaultAzureCredential. */
  readonly managedIdentityClientId?: string | undefined;
  /** Sent as `x-ms-client-request-id` so service-side logs can be matched to the call. */
  readonly correlationId?: string | undefined;
  /** TLS and handshake options (e.g. `ca` for the emulator's self-signed certificate). */
  readonly socketOptions?: Pick<WebSocketOptions, 'ca' | 'rejectUnauthorized' | 'handshakeTimeout'> | undefined;
  readonly signal?: AbortSignal | undefined;
};

/** @default 10 000 ms handshake timeout */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Opens the socket and waits until it is open; failures become a classified RealtimeAgentError. */
export async function openRealtimeSocket(settings: RealtimeConnectionSettings): Promise<OpenAIRealtimeWS> {
  if (settings.signal?.aborted) {
    throw new RealtimeAgentError('Realtime connection aborted', { code: 'aborted', retryable: false, cause: settings.signal.reason });
  }
  const client = new AzureOpenAI({
    endpoint: settings.endpoint,
    apiVersion: settings.apiVersion,
    deployment: settings.deployment,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : { azureADTokenProvider: await tokenProviderFor(settings) }),
  });
  let socket: OpenAIRealtimeWS;
  try {
    socket = await OpenAIRealtimeWS.azure(client, {
      deploymentName: settings.deployment,
      options: {
        handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT_MS,
        ...settings.socketOptions,
        headers: settings.correlationId ? { 'x-ms-client-request-id': settings.correlationId } : {},
      },
    });
  } catch (error) {
    throw new RealtimeAgentError('Cannot obtain credentials for the realtime service', { code: 'auth', retryable: true, cause: error });
  }
  await waitForOpen(socket, settings.signal);
  return socket;
}

async function tokenProviderFor(settings: RealtimeConnectionSettings): Promise<() => Promise<string>> {
  if (settings.tokenProvider) return settings.tokenProvider;
  // Imported lazily: MSAL is heavy and the key path never needs it.
  const { DefaultAzureCredential, getBearerTokenProvider } = await import('@azure/identity');
  const credential = new DefaultAzureCredential(
    settings.managedIdentityClientId ? { managedIdentityClientId: settings.managedIdentityClientId } : {},
  );
  return getBearerTokenProvider(credential, COGNITIVE_SERVICES_SCOPE);
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
      socket.terminate();
      reject(new RealtimeAgentError('Realtime connection aborted', { code: 'aborted', retryable: false, cause: signal?.reason }));
    };
    socket.on('open', onOpen);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
