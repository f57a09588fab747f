import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackUrlFor } from '../../src/lib/acs/callback-auth.js';
import { createApp, type App } from '../../src/lib/app/index.js';
import { handleCallEvents } from '../../src/lib/calls/call-events.js';
import type { WebhookRequest } from '../../src/lib/calls/http.js';
import type { AuditPort, CallControlDeps, CallEnd, LifecyclePort, LifecycleStart } from '../../src/lib/calls/ports.js';
import { callControlDepsWith } from '../../src/lib/calls/wiring.js';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import type { SessionStore } from '../../src/lib/state/session-store.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { CONNECTION_ID, CORRELATION_ID, SERVER_CALL_ID, cloudEvent, recognizeSpeech } from '../acs/fixtures.js';
import { testConfig } from '../support/env.js';

/**
 * The callback handler acts on the routing decisions (unit-tested in test/unit/event-routing.test.ts):
 * real signed callback URLs, the app's real session store on the run's private Redis, the real
 * conversation. Only events that need no ACS request are sent: ACS points at a closed port, so a
 * request to it would fail the event (500). The lifecycle and the audit are recording ports: they
 * stand for the Durable Functions client and Cosmos DB, which the e2e suites run for real.
 */

const SIGNING_KEY = 's'.repeat(40);

let app: App;
let deps: CallControlDeps;
let store: SessionStore;
const disconnects: { start: LifecycleStart; end: CallEnd }[] = [];
const audits: Parameters<AuditPort['append']>[0][] = [];

beforeAll(async () => {
  const config = testConfig({ ACS_CALLBACK_AUTH: 'signature', ACS_CALLBACK_SIGNING_KEY: SIGNING_KEY, LOG_LEVEL: 'error' });
  app = createApp(config, { logger: consoleLogger('error', { component: 'call-events-routing-test' }) });
  const lifecycle: LifecyclePort = {
    async start() {},
    async callDisconnected(start, end) {
      disconnects.push({ start, end });
    },
  };
  deps = { ...(await callControlDepsWith(app, lifecycle)), audit: { append: async (entry) => void audits.push(entry) } };
  store = await app.store();
});
afterAll(async () => {
  await app.close();
});

function newCallId(): string {
  return `in-${randomBytes(8).toString('hex')}`;
}

async function callOf(state: 'connected' | 'disconnected'): Promise<string> {
  const callId = newCallId();
  await store.createCallSession(callId, {
    state,
    direction: 'inbound',
    startedAt: new Date().toISOString(),
    callConnectionId: CONNECTION_ID,
    serverCallId: SERVER_CALL_ID,
    correlationId: CORRELATION_ID,
  });
  return callId;
}

function post(callId: string, events: readonly Record<string, unknown>[]): Promise<{ status: number; jsonBody?: unknown }> {
  const request: WebhookRequest = {
    method: 'POST',
    url: callbackUrlFor('http://127.0.0.1:7071', callId, SIGNING_KEY),
    headers: { get: () => null },
    text: async () => JSON.stringify(events),
  };
  return handleCallEvents(request, deps);
}

async function historyOf(callId: string) {
  return (await ConversationManager.fromRedis(callId, store)).getHistory();
}

describe('handleCallEvents acts on the routing decision', () => {
  it('ends the call on CallDisconnected once, and skips the redelivered event', async () => {
    // Prepare
    const callId = await callOf('connected');
    const disconnected = cloudEvent('CallDisconnected');

    // Act
    const first = await post(callId, [disconnected]);
    const redelivered = await post(callId, [disconnected]);

    // Assess
    expect(first).toEqual({ status: 200, jsonBody: { handled: 1 } });
    expect(redelivered).toEqual({ status: 200, jsonBody: { handled: 0 } });
    expect((await store.getCallSession(callId))?.state).toBe('disconnected');
    expect(disconnects.filter((d) => d.start.callId === callId)).toEqual([{ start: expect.objectContaining({ callId, callConnectionId: CONNECTION_ID }), end: expect.objectContaining({ reason: 'disconnected' }) }]);
  });

  it('archives an utterance delivered after the hang-up as late, without answering it', async () => {
    // Prepare
    const callId = await callOf('disconnected');

    // Act
    const response = await post(callId, [recognizeSpeech('and one more thing')]);

    // Assess
    expect(response).toEqual({ status: 200, jsonBody: { handled: 1 } });
    expect((await historyOf(callId)).map((t) => ({ role: t.role, content: t.content, late: t.meta?.late }))).toEqual([{ role: 'user', content: 'and one more thing', late: true }]);
  });

  it('acknowledges, unhandled, an utterance after the call was closed for finalisation', async () => {
    // Prepare
    const callId = await callOf('disconnected');
    await (await app.turnFencing()).closeAndAwaitWriters(callId, { timeoutMs: 1_000 });

    // Act
    const response = await post(callId, [recognizeSpeech('too late to be archived')]);

    // Assess
    expect(response).toEqual({ status: 200, jsonBody: { handled: 1 } });
    expect(await historyOf(callId)).toEqual([]);
  });

  it('acknowledges events for a call it does not have, and writes nothing for it', async () => {
    // Prepare
    const callId = newCallId();

    // Act
    const response = await post(callId, [cloudEvent('CallDisconnected')]);

    // Assess
    expect(response).toEqual({ status: 200, jsonBody: { handled: 0 } });
    expect(await store.getCallSession(callId)).toBeUndefined();
    expect(disconnects.filter((d) => d.start.callId === callId)).toEqual([]);
  });

  it('acknowledges the events it has nothing to do for, known or not', async () => {
    // Prepare
    const callId = await callOf('connected');

    // Act
    const response = await post(callId, [cloudEvent('ParticipantsUpdated', { participants: [] }), cloudEvent('PlayStarted'), cloudEvent('SomethingNewFromAcs')]);

    // Assess
    expect(response).toEqual({ status: 200, jsonBody: { handled: 3 } });
    expect((await store.getCallSession(callId))?.state).toBe('connected');
  });

  it('rejects, and audits, events that name another call', async () => {
    // Prepare
    const callId = await callOf('connected');

    // Act
    const response = await post(callId, [cloudEvent('CallDisconnected', { correlationId: 'another-correlation-id' })]);

    // Assess
    expect(response).toEqual({ status: 401, jsonBody: { error: 'unauthorized', reason: 'call_mismatch' } });
    expect((await store.getCallSession(callId))?.state).toBe('connected');
    expect(audits.filter((a) => a.callId === callId)).toEqual([expect.objectContaining({ action: 'auth_failed', details: { reason: 'call_mismatch' } })]);
  });
});
