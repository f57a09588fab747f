import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseAgentCatalog, type LoadedScenario } from '../../src/lib/agents/loader.js';
import { ScenarioResponder } from '../../src/lib/agents/offline-responder.js';
import { CodeToolRegistry, ToolRunner } from '../../src/lib/agents/tools.js';
import { httpServer, recordingLogger } from './support.js';

let server: Awaited<ReturnType<typeof httpServer>>;
beforeAll(async () => {
  server = await httpServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/slow')) return; // never answers: the tool's timeout must end the wait
    if (url.startsWith('/big')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ blob: 'x'.repeat(5_000) }));
      return;
    }
    if (url.startsWith('/stream-big')) {
      // No content-length: the size limit must hold while reading.
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write('{"blob":"');
      const chunk = 'y'.repeat(1_000);
      for (let i = 0; i < 10; i++) res.write(chunk);
      res.end('"}');
      return;
    }
    if (url.startsWith('/broken')) {
      res.writeHead(500);
      res.end('oops');
      return;
    }
    if (url.startsWith('/text')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: url, key: req.headers['x-api-key'] ?? null, method: req.method }));
  });
});
afterAll(async () => server?.close());

function scenarioWith(tools: string, settings: Record<string, string> = {}): LoadedScenario {
  const agent = AGENT.replace('TOOLS', tools);
  return parseAgentCatalog(
    [
      { path: 'routing.yaml', text: 'default: shop\n' },
      { path: 'shop/scenario.yaml', text: 'name: shop\ncompany: Shop\nentry: clerk\nagents: [clerk]\ntransfer: { setting: SHOP_DESK }\n' },
      { path: 'shop/clerk.agent.yaml', text: agent },
    ],
    { settings: { BASE: server.url, ...settings } },
  ).scenarioFor();
}

const http = (name: string, pathTemplate: string, extra = '') =>
  `  - { name: ${name}, kind: http, description: d, url: "\${BASE}${pathTemplate}", timeoutMs: 300, maxResponseBytes: 1024, parameters: { type: object, properties: { id: { type: string } }, required: [id] }${extra} }\n`;

describe('HTTP tools', () => {
  const { logger } = recordingLogger();
  const runner = new ToolRunner({ logger, settings: { SHOP_KEY: 'k-123' } });

  it('call the URL with the arguments and return the JSON answer, with the key from settings', async () => {
    const scenario = scenarioWith(http('stock', '/stock/{id}', ", auth: { type: key, header: x-api-key, setting: SHOP_KEY }"), { SHOP_KEY: 'k-123' });
    const outcome = await runner.run('stock', { id: 'A 1' }, { callId: 'c', agent: scenario.agents.get('clerk')!, scenario });
    expect(outcome).toMatchObject({ status: 'ok', output: { path: '/stock/A%201', key: 'k-123', method: 'GET' } });
  });

  it('sign a managed-identity tool with a bearer token for its scope', async () => {
    const scopes: string[] = [];
    const signed = new ToolRunner({ logger, tokenFor: async (scope) => (scopes.push(scope), 'token-abc') });
    const scenario = scenarioWith(http('stock', '/stock/{id}', ", auth: { type: managedIdentity, scope: 'api://shop/.default' }"));
    const outcome = await signed.run('stock', { id: '7' }, { callId: 'c', agent: scenario.agents.get('clerk')!, scenario });
    expect(outcome.status).toBe('ok');
    expect(scopes).toEqual(['api://shop/.default']);
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer token-abc');
  });

  it.each([
    { name: 'a server that never answers', path: '/slow/{id}', code: 'timeout' },
    { name: 'an answer over the size limit', path: '/big/{id}', code: 'too_large' },
    { name: 'a streamed answer over the size limit', path: '/stream-big/{id}', code: 'too_large' },
    { name: 'an HTTP error', path: '/broken/{id}', code: 'http_status' },
    { name: 'an answer that is not JSON', path: '/text/{id}', code: 'bad_response' },
  ])('fail with $code on $name, never hanging', async ({ path, code }) => {
    const scenario = scenarioWith(http('stock', path));
    const started = performance.now();
    const outcome = await runner.run('stock', { id: '1' }, { callId: 'c', agent: scenario.agents.get('clerk')!, scenario });
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && outcome.error.code).toBe(code);
    // The timeout bounds the wait; generous on a loaded machine, far below "hangs".
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('refuse a call missing a required argument without sending it', async () => {
    const scenario = scenarioWith(http('stock', '/stock/{id}'));
    const before = server.requests.length;
    const outcome = await runner.run('stock', {}, { callId: 'c', agent: scenario.agents.get('clerk')!, scenario });
    expect(outcome.status === 'failed' && outcome.error.code).toBe('bad_arguments');
    expect(server.requests.length).toBe(before);
  });

  it('become a spoken apology in the offline agent when they fail', async () => {
    const scenario = scenarioWith(http('stock', '/slow/{id}', ", patterns: ['stock'], say: 'In stock: {path}'"));
    const catalog = { ...catalogOf(scenario) };
    const responder = new ScenarioResponder({ catalog, tools: runner });
    const reply = await responder.respond({ callId: 'c', history: [{ role: 'assistant', text: 'hi' }], userText: 'is item 12345 in stock', context: {} });
    expect(reply.text).toBe('Sorry, that did not work.');
    expect(reply.toolCalls).toEqual([expect.objectContaining({ name: 'stock', status: 'failed' })]);
  });
});

describe('code tools and built-ins', () => {
  const { logger } = recordingLogger();

  it('run a registered TypeScript tool with zod-checked arguments', async () => {
    const registry = new CodeToolRegistry().register({ name: 'add', parameters: z.object({ a: z.number(), b: z.number() }), run: async ({ a, b }) => ({ sum: a + b }) });
    const runner = new ToolRunner({ logger, codeTools: registry });
    const scenario = scenarioWith('  - { name: add, kind: code }\n');
    const ctx = { callId: 'c', agent: scenario.agents.get('clerk')!, scenario };
    expect(await runner.run('add', { a: 2, b: 3 }, ctx)).toMatchObject({ status: 'ok', output: { sum: 5 } });
    const bad = await runner.run('add', { a: 'two' }, ctx);
    expect(bad.status === 'failed' && bad.error.code).toBe('bad_arguments');
    expect(await runner.run('subtract', {}, ctx)).toMatchObject({ status: 'refused', reason: 'unknown_tool' });
  });

  it('transfer to the number of the scenario setting, never one the caller says', async () => {
    const scenario = scenarioWith('  - transfer_to_human\n', { SHOP_DESK: '+15550100888' });
    const responder = new ScenarioResponder({ catalog: catalogOf(scenario), tools: new ToolRunner({ logger }) });
    const reply = await responder.respond({ callId: 'c', history: [{ role: 'assistant', text: 'hi' }], userText: 'put me through to a human at +15550100666', context: {} });
    expect(reply.toolCalls).toEqual([expect.objectContaining({ name: 'transfer_to_human', targetNumber: '+15550100888' })]);
  });
});

function catalogOf(scenario: LoadedScenario) {
  return { routing: { default: 'shop', routes: [] }, scenarios: new Map([['shop', scenario]]), unavailable: [], version: 'test', scenario: () => scenario, scenarioFor: () => scenario };
}

const AGENT = `name: clerk
persona: You are the clerk of {company}.
instructions: [Be brief.]
greeting: { new: Hi., returning: Hi again., returningNamed: "Hi {displayName}." }
prompts:
  reprompt: [Sorry?]
  hold: Hold on.
  goodbye: Bye.
  silenceGoodbye: Bye.
  failure: Sorry, bye.
  transferFailed: No luck.
  transferUnavailable: Nobody here.
  notUnderstood: Sorry?
  toolFailed: Sorry, that did not work.
tools:
TOOLS
offline:
  intents:
    human: ['\\bhuman\\b']
  thanks: Sure.
  hello: Hello.
  fallback: 'What is "{heard}"?'
`;
