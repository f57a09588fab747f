import { ConversationManager } from '../state/index.js';
import type { App } from '../app/index.js';
import { redact } from '../telemetry/logger.js';
import { CONSOLE_PAGE } from './page.js';

export interface ConsoleResponse {
  readonly status: number;
  readonly body?: string;
  readonly jsonBody?: unknown;
  readonly headers: Record<string, string>;
}

const NO_STORE = { 'cache-control': 'no-store' };
// The page is self-contained: its script and style are inline and it talks to this origin and Web PubSub only.
const PAGE_HEADERS = {
  ...NO_STORE,
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' wss: ws:; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const CALL_ID = /^[\w.:-]{4,128}$/;

/**
 * The console's routes (read-only): `page`, `snapshot` (live calls, baselines, latency by stage),
 * `negotiate` (a Web PubSub client URL for the console hub), `transcript?callId=` (the call's turns
 * so far, once, when a call is selected; later turns are pushed).
 */
export async function handleConsole(route: string, query: URLSearchParams, rt: App): Promise<ConsoleResponse> {
  const services = rt.console();
  switch (route) {
    case '':
    case 'page':
      return { status: 200, body: CONSOLE_PAGE, headers: PAGE_HEADERS };
    case 'snapshot':
      return { status: 200, jsonBody: await services.snapshot(), headers: NO_STORE };
    case 'negotiate': {
      const url = await services.clientUrl();
      return url ? { status: 200, jsonBody: { url }, headers: NO_STORE } : { status: 404, jsonBody: { error: 'not_found', reason: 'Web PubSub is not configured: the console shows snapshots only' }, headers: NO_STORE };
    }
    case 'transcript': {
      const callId = query.get('callId') ?? '';
      if (!CALL_ID.test(callId)) return { status: 400, jsonBody: { error: 'bad_request', reason: 'callId: missing or not a call id' }, headers: NO_STORE };
      const conversation = await ConversationManager.fromRedis(callId, await rt.store());
      const turns = conversation
        .getHistory()
        .filter((t) => t.role === 'user' || t.role === 'assistant')
        .map((t) => ({ id: t.id, role: t.role, text: redact(t.content).slice(0, 2000), at: t.at, ...(t.meta?.kind === 'truncation' && typeof t.meta.replaces === 'string' ? { truncates: t.meta.replaces } : {}) }));
      return { status: 200, jsonBody: { callId, turns }, headers: NO_STORE };
    }
    default:
      return { status: 404, jsonBody: { error: 'not_found', reason: `no console route '${route}'` }, headers: NO_STORE };
  }
}
