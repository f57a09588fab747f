import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_COSMOS_KEY } from '../../emulators/cosmos/index.js';
import { AzureOpenAIStandIn, textReply } from '../agent/aoai-server.js';
import { Child } from './child.js';

/** Every port free (0), so runs never collide with a developer's `npm run dev` or each other. */
const FREE_PORTS = ['--functions-port', '0', '--redis-port', '0', '--acs-port', '0', '--cosmos-port', '0'];

let dir: string;
const children: Child[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rtvoice-dev-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.signal('SIGTERM');
    await child.exited;
  }
});

function startDev(args: readonly string[], settings: Record<string, string> = {}, env: Record<string, string> = {}): Child {
  const file = join(dir, `local.settings.${children.length}.json`);
  writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: settings }));
  const child = new Child('npm', ['run', '--silent', 'dev', '--', ...FREE_PORTS, '--settings', file, ...args], { AGENT_MODE: '', AZURE_OPENAI_ENDPOINT: '', ...env });
  children.push(child);
  return child;
}

async function archivedTurns(cosmosEndpoint: string, callId: string): Promise<{ role: string; content: string }[]> {
  // Endpoint discovery off: the embedded server advertises an https address of itself.
  const client = new CosmosClient({ endpoint: cosmosEndpoint, key: EMBEDDED_COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
  const { resources } = await client
    .database('rtvoice')
    .container('transcripts')
    .items.query<{ turns?: { role: string; content: string }[] }>({ query: 'SELECT * FROM c WHERE c.callId = @id', parameters: [{ name: '@id', value: callId }] })
    .fetchAll();
  return resources.flatMap((doc) => doc.turns ?? []);
}

describe('npm run dev', () => {
  it('serves the app, takes a typed call through stdin, prints it live, archives it and stays up', async () => {
    const dev = startDev([]);
    const banner = await dev.waitFor(/functions (http:\/\/127\.0\.0\.1:\d+) .*cosmos (http:\/\/127\.0\.0\.1:\d+)/, 30_000);
    const [, functions, cosmos] = banner as unknown as [string, string, string];
    dev.write('Hi, what are your opening hours?');
    dev.write('Thanks, that is all. Goodbye!');
    const archived = await dev.waitFor(/✔ archived (\d+) turns, outcome (\w+) \(call ([\w-]+)\)/, 60_000);
    expect(dev.stdout).toMatch(/caller: Hi, what are your opening hours\?/);
    expect(dev.stdout).toMatch(/agent: .*opening hours/);
    expect(archived[2]).toBe('completed');

    const turns = await archivedTurns(cosmos, archived[3] ?? '');
    expect(turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['Hi, what are your opening hours?', 'Thanks, that is all. Goodbye!']);
    expect(turns.length).toBe(Number(archived[1]));

    // Still up after the call: the next caller gets through, and the app answers HTTP.
    const health = await fetch(`${functions}/api/health`);
    expect(health.status).toBe(200);
    dev.write('Where is my order?');
    await dev.waitFor(/▶ call[\s\S]*▶ call/, 30_000);
    dev.signal('SIGINT');
    await dev.exited;
    await expect(fetch(`${functions}/api/health`)).rejects.toThrow();
  }, 120_000);

  it('plays a scripted call given with --script, archives it, and stays up for typed ones', async () => {
    const script = join(dir, 'call.json');
    writeFileSync(script, JSON.stringify({ from: '+15550100456', steps: [{ waitFor: 'greeting' }, { say: 'I have a question about my bill.' }, { say: 'No, that was it, bye.' }] }));
    const dev = startDev(['--script', script]);
    await dev.waitFor(/✔ archived \d+ turns, outcome completed/, 60_000);
    expect(dev.stdout).toMatch(/caller: I have a question about my bill\./);
    dev.write('/script /nonexistent/call.json');
    await dev.waitFor(/cannot read the script \/nonexistent\/call\.json/, 10_000);
  }, 120_000);

  it('with --azure, the agent is Azure OpenAI at AZURE_OPENAI_ENDPOINT from local.settings.json while everything else stays local', async () => {
    // Azure OpenAI cannot run here: a local server speaking its chat-completions wire format stands in.
    const model = await AzureOpenAIStandIn.start();
    try {
      model.script(textReply('We open at nine, ', 'from the model.'), textReply('Goodbye from the model.'));
      const dev = startDev(['--azure'], { AZURE_OPENAI_ENDPOINT: model.endpoint, AZURE_OPENAI_API_KEY: 'local-test-key', AZURE_OPENAI_CHAT_DEPLOYMENT: 'chat-dev', REDIS_HOST: 'redis.invalid' });
      await dev.waitFor(/agent: Azure OpenAI http:\/\/127\.0\.0\.1:\d+ \(deployment chat-dev, API key\)/, 30_000);
      dev.write('When do you open?');
      await dev.waitFor(/agent: +We open at nine, from the model\./, 60_000);
      expect(model.requests[0]?.path).toBe('/openai/deployments/chat-dev/chat/completions');
      expect(model.requests[0]?.headers['api-key']).toBe('local-test-key');
      // REDIS_HOST from the file was not taken: the call runs on the private Redis.
      expect(dev.stdout).toMatch(/redis 127\.0\.0\.1:\d+/);
    } finally {
      await model.close();
    }
  }, 120_000);
});
