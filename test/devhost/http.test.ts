import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { installFunctionsCore } from '../../emulators/functions-host/registry.js';
import { startDevHost, type DevHost } from '../../emulators/devhost/index.js';
import { createLogger, type LogFields } from '../../src/lib/telemetry/logger.js';

/**
 * HTTP functions on the dev host over real HTTP: routes, methods, auth levels, the HttpRequest the
 * handler sees, and the durable client (durable-functions' own `DurableClient`, over real HTTP to the
 * host's durable API) starting and awaiting orchestrations.
 */
installFunctionsCore();

app.http('echo', {
  route: 'echo/{id}/{*rest}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest, context: InvocationContext) => ({
    status: 201,
    headers: { 'x-function': context.functionName },
    jsonBody: {
      id: request.params.id,
      rest: request.params.rest,
      q: request.query.get('q'),
      contentType: request.headers.get('content-type'),
      body: await request.json(),
    },
  }),
});

app.http('byId', { route: 'items/{id}', methods: ['GET'], authLevel: 'anonymous', handler: async (req: HttpRequest) => ({ body: `item ${req.params.id}` }) });
app.http('latest', { route: 'items/latest', methods: ['GET'], authLevel: 'anonymous', handler: async () => ({ body: 'the latest item' }) });

app.http('secret', {
  route: 'secret',
  methods: ['GET'],
  authLevel: 'function',
  handler: async () => ({ body: 'the secret' }),
});

app.http('boom', { route: 'boom', methods: ['GET'], authLevel: 'anonymous', handler: async () => Promise.reject(new Error('boom')) });

df.app.activity('greet', { handler: (name: string) => `Hello, ${name}!` });
df.app.orchestration('greeting', function* (context: OrchestrationContext) {
  const name = context.df.getInput<string>();
  const approval: { ok: boolean } = yield context.df.waitForExternalEvent('Approve');
  return approval.ok ? yield context.df.callActivity('greet', name) : 'declined';
});

app.http('startGreeting', {
  route: 'greetings/{instanceId}',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const client = df.getClient(context);
    try {
      const id = await client.startNew('greeting', { instanceId: request.params.instanceId, input: await request.text() });
      return client.createCheckStatusResponse(request, id);
    } catch (error) {
      return { status: 409, body: (error as Error).message };
    }
  },
});

app.http('approveGreeting', {
  route: 'greetings/{instanceId}/approve',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const client = df.getClient(context);
    const id = request.params.instanceId ?? '';
    await client.raiseEvent(id, 'Approve', { ok: true });
    return client.waitForCompletionOrCreateCheckStatusResponse(request, id, { timeoutInMilliseconds: 5_000, retryIntervalInMilliseconds: 20 });
  },
});

app.http('greetingStatus', {
  route: 'greetings/{instanceId}',
  methods: ['GET'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const status = await df.getClient(context).getStatus(request.params.instanceId ?? '');
    return { jsonBody: { runtimeStatus: status.runtimeStatus, output: status.output } };
  },
});

/** A handler the test releases by hand, so an invocation can be in flight when the host closes. */
const slow = { started: 0, finished: 0, release: (): void => undefined };
app.http('slow', {
  route: 'slow',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => {
    slow.started += 1;
    await new Promise<void>((resolve) => (slow.release = resolve));
    slow.finished += 1;
    return { body: 'finished' };
  },
});

describe('dev host shutdown', () => {
  it('lets an invocation in flight finish and answer before it closes, as the host drains on shutdown', async () => {
    // Prepare
    const host = await startDevHost({ logger: createLogger(() => undefined, 'error') });
    const started = slow.started;
    const response = fetch(`${host.baseUrl}/api/slow`);
    await vi.waitFor(() => expect(slow.started).toBe(started + 1));
    // Act
    let closed = false;
    const closing = host.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closedBeforeRelease = closed;
    slow.release();
    await closing;
    // Assess
    expect(closedBeforeRelease).toBe(false);
    const answered = await response;
    expect(answered.status).toBe(200);
    await expect(answered.text()).resolves.toBe('finished');
  });

  it('stops waiting after drainTimeoutMs and says how many invocations were still running', async () => {
    // Prepare
    const logged: Array<{ level: string; message: string; fields?: LogFields }> = [];
    const host = await startDevHost({ drainTimeoutMs: 100, logger: createLogger((level, message, fields) => logged.push({ level, message, fields }), 'warn') });
    const started = slow.started;
    const response = fetch(`${host.baseUrl}/api/slow`).catch((error: unknown) => error);
    await vi.waitFor(() => expect(slow.started).toBe(started + 1));
    // Act
    await host.close();
    // Assess
    expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', message: 'dev host closing with invocations still running', fields: expect.objectContaining({ inFlight: 1 }) }));
    await expect(response).resolves.toBeInstanceOf(Error);
    slow.release();
  });
});

describe('dev host over HTTP', () => {
  let host: DevHost;
  const logged: Array<{ level: string; message: string; fields?: LogFields }> = [];
  beforeAll(async () => {
    host = await startDevHost({ logger: createLogger((level, message, fields) => logged.push({ level, message, fields }), 'debug') });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('serves an HTTP function on its route with params, query, headers and body', async () => {
    const response = await fetch(`${host.baseUrl}/api/echo/42/a/b?q=yes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world' }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-function')).toBe('echo');
    expect(response.headers.get('content-type')).toBe('application/json');
    await expect(response.json()).resolves.toEqual({ id: '42', rest: 'a/b', q: 'yes', contentType: 'application/json', body: { hello: 'world' } });
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    const unknown = await fetch(`${host.baseUrl}/api/nothing-here`);
    const wrongMethod = await fetch(`${host.baseUrl}/api/echo/1/x`, { method: 'GET' });
    expect(unknown.status).toBe(404);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('prefers a literal route segment over a parameter, whatever the registration order', async () => {
    const [latest, byId] = await Promise.all([fetch(`${host.baseUrl}/api/items/latest`), fetch(`${host.baseUrl}/api/ITEMS/7`)]);
    await expect(latest.text()).resolves.toBe('the latest item');
    await expect(byId.text()).resolves.toBe('item 7');
  });

  it('protects function-level routes with the function key, by query or header', async () => {
    const none = await fetch(`${host.baseUrl}/api/secret`);
    const wrong = await fetch(`${host.baseUrl}/api/secret?code=wrong`);
    const byQuery = await fetch(`${host.baseUrl}/api/secret?code=${encodeURIComponent(host.keys.function)}`);
    const byHeader = await fetch(`${host.baseUrl}/api/secret`, { headers: { 'x-functions-key': host.keys.function } });
    expect([none.status, wrong.status, byQuery.status, byHeader.status]).toEqual([401, 401, 200, 200]);
    await expect(byHeader.text()).resolves.toBe('the secret');
  });

  it('answers 500 when a handler throws, and logs the failure with the function name', async () => {
    const response = await fetch(`${host.baseUrl}/api/boom`);
    expect(response.status).toBe(500);
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', fields: expect.objectContaining({ functionName: 'boom', error: expect.objectContaining({ name: 'Error', message: 'boom', stack: expect.stringContaining('boom') }) }) }));
  });

  it('starts an orchestration through the durable client, raises its event and returns its output', async () => {
    // Prepare
    const startUrl = `${host.baseUrl}/api/greetings/greet-1?code=${host.keys.function}`;
    // Act
    const started = await fetch(startUrl, { method: 'POST', body: 'Ada' });
    const management = (await started.json()) as Record<string, string>;
    const running = await fetch(`${host.baseUrl}/api/greetings/greet-1`);
    const conflict = await fetch(startUrl, { method: 'POST', body: 'Ada' });
    const approved = await fetch(`${host.baseUrl}/api/greetings/greet-1/approve`, { method: 'POST' });
    // Assess
    expect(started.status).toBe(202);
    expect(management.id).toBe('greet-1');
    expect(started.headers.get('location')).toBe(management.statusQueryGetUri);
    await expect(running.json()).resolves.toEqual({ runtimeStatus: 'Running', output: null });
    expect(conflict.status).toBe(409);
    expect(approved.status).toBe(200);
    await expect(approved.json()).resolves.toBe('Hello, Ada!');
  });

  it('serves the durable management API at the URLs the client payload names', async () => {
    const started = await fetch(`${host.baseUrl}/api/greetings/greet-2?code=${host.keys.function}`, { method: 'POST', body: 'Bob' });
    const links = (await started.json()) as Record<string, string>;
    const terminate = await fetch(links.terminatePostUri!.replace('{text}', 'test'), { method: 'POST' });
    await host.durable.waitForCompletion('greet-2');
    const status = await fetch(links.statusQueryGetUri!);
    const purge = await fetch(links.purgeHistoryDeleteUri!, { method: 'DELETE' });
    const gone = await fetch(links.statusQueryGetUri!);
    expect(terminate.status).toBe(202);
    expect(status.status).toBe(400);
    await expect(status.json()).resolves.toMatchObject({ instanceId: 'greet-2', runtimeStatus: 'Terminated', output: 'test' });
    expect(purge.status).toBe(200);
    expect(gone.status).toBe(404);
  });
});
