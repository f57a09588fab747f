import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CosmosClient, type Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playConversation } from '../../emulators/agent-conversations.js';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../emulators/cosmos/index.js';
import { startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { AgentDefinitionError } from '../../src/lib/agents/errors.js';
import { folderSource, parseAgentCatalog, type AgentCatalog, type DefinitionFile } from '../../src/lib/agents/loader.js';
import { publishDefinitions } from '../../src/lib/agents/sources.js';
import { LIBRARIAN_AGENT as LIBRARY, LIBRARY_SCENARIO as SCENARIO, recordingLogger } from './support.js';

/**
 * A new agent with no TypeScript, served from Cosmos DB: its files are written to a temporary folder,
 * published into the container, and the app (the real runtime with AGENTS_SOURCE=cosmos, on the
 * offline stack: ACS emulator, dev host, Redis, embedded Cosmos) answers its scripted conversation as
 * phone calls. A changed greeting is heard after the refresh interval without a restart; a broken
 * change is refused and logged while the last good version keeps answering.
 */

const REFRESH_SECONDS = 5;
let dir: string;
let cosmos: EmbeddedCosmos;
let stack: OfflineStack;
let container: Container;
const recorded = recordingLogger();

async function files(): Promise<DefinitionFile[]> {
  return [...(await folderSource(dir).files())];
}

function catalogOf(definitions: readonly DefinitionFile[]): AgentCatalog {
  return parseAgentCatalog(definitions, { settings: {} });
}

async function greetingHeard(): Promise<string> {
  const loaded = catalogOf(await files()).scenario('library')!;
  const test = { ...loaded.scenario.tests[0]!, steps: [{ say: 'bye' }], expect: { outcome: 'completed' as const, tools: [], handoffs: [], refused: [], heard: [] } };
  const result = await playConversation(stack, catalogOf(await files()), loaded, test);
  const archive = await stack.runtime.archive();
  const transcript = await archive.transcripts.read(result.callId);
  return transcript!.turns.find((t) => t.role === 'assistant')!.content;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'agents-'));
  await mkdir(path.join(dir, 'library'));
  await writeFile(path.join(dir, 'routing.yaml'), 'default: library\n');
  await writeFile(path.join(dir, 'library', 'scenario.yaml'), SCENARIO);
  await writeFile(path.join(dir, 'library', 'librarian.agent.yaml'), LIBRARY);
  // The definitions are in the account before the app starts (its first request loads them): the
  // app is pointed at this embedded server, which then also holds its archive.
  cosmos = await startEmbeddedCosmos();
  const client = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, connectionPolicy: { enableEndpointDiscovery: false } });
  const { database } = await client.databases.createIfNotExists({ id: 'rtvoice' });
  ({ container } = await database.containers.createIfNotExists({ id: 'agentDefinitions', partitionKey: { paths: ['/scenario'] } }));
  await publishDefinitions(await files(), container, { settings: {} });
  stack = await startOfflineStack({
    env: { AGENTS_SOURCE: 'cosmos', AGENTS_REFRESH_SECONDS: String(REFRESH_SECONDS), COSMOS_ENDPOINT: cosmos.endpoint, COSMOS_KEY: cosmos.key },
    acs: { speechMsPerChar: 1 },
    logger: recorded.logger,
  });
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await cosmos?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('an agent published to Cosmos DB', () => {
  it('answers its scripted conversation on a phone call, with no TypeScript', { timeout: 60_000 }, async () => {
    // Prepare
    const catalog = catalogOf(await files());
    const loaded = catalog.scenario('library')!;
    // Act
    const result = await playConversation(stack, catalog, loaded, loaded.scenario.tests[0]!);
    // Assess
    expect(result.failures).toEqual([]);
    expect(recorded.lines.some((l) => l.startsWith('info agent definitions loaded') && l.includes('cosmos:rtvoice/agentDefinitions'))).toBe(true);
  });

  it('changes without a restart after the refresh interval, and a broken change is refused while the last good one serves', { timeout: 90_000 }, async () => {
    // Prepare
    const before = await greetingHeard();
    await writeFile(path.join(dir, 'library', 'librarian.agent.yaml'), LIBRARY.replace('how can I help?', 'what are you reading?'));
    // Act: publish, then wait out the interval; the first call after it starts the re-check.
    await publishDefinitions(await files(), container, { settings: {} });
    await new Promise((resolve) => setTimeout(resolve, REFRESH_SECONDS * 1000 + 200));
    await greetingHeard();
    const changed = await greetingHeard();
    // A change that does not validate, written straight to the container (publishing would refuse it).
    await container.items.upsert({ id: 'library~librarian.agent.yaml', scenario: 'library', path: 'library/librarian.agent.yaml', text: LIBRARY.replace('name: librarian', 'name: Not A Name') });
    await new Promise((resolve) => setTimeout(resolve, REFRESH_SECONDS * 1000 + 200));
    await greetingHeard();
    const afterBroken = await greetingHeard();
    // Assess
    expect(before).toBe('Northside library, how can I help?');
    expect(changed).toBe('Northside library, what are you reading?');
    expect(afterBroken).toBe(changed);
    const refusals = recorded.lines.filter((l) => l.startsWith('error agent definitions not reloaded'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain('AgentDefinitionError');
  });

  it('is refused at publishing when it does not load, and nothing is written', async () => {
    // Prepare
    const broken = (await files()).map((f) => (f.path === 'routing.yaml' ? { ...f, text: 'default: nowhere\n' } : f));
    const { resources: before } = await container.items.query('SELECT c.id, c._etag FROM c').fetchAll();
    // Act
    const publishing = publishDefinitions(broken, container, { settings: {} });
    // Assess
    await expect(publishing).rejects.toBeInstanceOf(AgentDefinitionError);
    const { resources: after } = await container.items.query('SELECT c.id, c._etag FROM c').fetchAll();
    expect(after).toEqual(before);
  });
});
