import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CosmosClient, type Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../emulators/cosmos/index.js';
import { AgentDefinitionError } from '../../src/lib/agents/errors.js';
import { folderSource } from '../../src/lib/agents/loader.js';
import { CachedCatalog, cosmosSource, definitionDocument } from '../../src/lib/agents/sources.js';
import { recordingLogger } from './support.js';

let cosmos: EmbeddedCosmos;
let container: Container;
const settings = { CLAIMS_API_URL: 'http://claims.invalid', TRANSFER_TARGET_NUMBER: '+15550100999' };

beforeAll(async () => {
  cosmos = await startEmbeddedCosmos();
  const client = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, connectionPolicy: { enableEndpointDiscovery: false } });
  const { database } = await client.databases.createIfNotExists({ id: `agents${randomUUID().slice(0, 8)}` });
  ({ container } = await database.containers.createIfNotExists({ id: 'agentDefinitions', partitionKey: { paths: ['/scenario'] } }));
  for (const file of await folderSource(path.resolve(import.meta.dirname, '../../agents')).files()) await container.items.upsert(definitionDocument(file));
});
afterAll(async () => cosmos?.close());

describe('definitions in Cosmos DB', () => {
  it('load the same catalog as the folder they came from', async () => {
    const { logger } = recordingLogger();
    const catalog = await new CachedCatalog(cosmosSource(container), { settings, logger }).get();
    const folder = await new CachedCatalog(folderSource(path.resolve(import.meta.dirname, '../../agents')), { settings, logger }).get();
    expect(catalog.version).toBe(folder.version);
    expect([...catalog.scenarios.keys()]).toEqual(['insurance', 'support']);
    expect(catalog.scenarioFor('+15550100200').scenario.entry).toBe('verification');
  });

  it('pick up a changed agent after the refresh interval without a redeploy, and keep the last good one on a bad change', async () => {
    // Prepare
    let nowMs = 0;
    const { logger, lines } = recordingLogger();
    const cache = new CachedCatalog(cosmosSource(container), { settings, logger, refreshMs: 1_000, now: () => nowMs });
    const first = await cache.get();
    const { resource } = await container.item('support~support.agent.yaml', 'support').read<{ text: string }>();
    const changed = resource!.text.replace('Welcome back, {displayName}!', 'Good to hear from you again, {displayName}!');
    // Act
    await container.items.upsert(definitionDocument({ path: 'support/support.agent.yaml', text: changed }));
    const beforeRefresh = await cache.get();
    nowMs = 1_500;
    const afterRefresh = await cache.get();
    await container.items.upsert(definitionDocument({ path: 'support/support.agent.yaml', text: changed.replace('name: support', 'name: Not A Name') }));
    nowMs = 3_000;
    const afterBadChange = await cache.get();
    // Assess
    expect(beforeRefresh).toBe(first);
    expect(afterRefresh.version).not.toBe(first.version);
    expect(afterRefresh.scenario('support')!.agents.get('support')!.greeting.returningNamed).toBe('Good to hear from you again, {displayName}! Thanks for calling {company} again. How can I help you today?');
    expect(afterBadChange).toBe(afterRefresh);
    expect(lines.some((l) => l.startsWith('error agent definitions not reloaded') && l.includes('AgentDefinitionError'))).toBe(true);
    await container.items.upsert(definitionDocument({ path: 'support/support.agent.yaml', text: resource!.text }));
  });

  it('re-read the documents only when their _etags changed', async () => {
    // Prepare
    let nowMs = 0;
    let reads = 0;
    const cosmos = cosmosSource(container);
    const counted = {
      ...cosmos,
      files: () => {
        reads++;
        return cosmos.files();
      },
    };
    const { logger } = recordingLogger();
    const cache = new CachedCatalog(counted, { settings, logger, refreshMs: 1_000, now: () => nowMs });
    const first = await cache.get();
    const { resource } = await container.item('support~support.agent.yaml', 'support').read<{ text: string }>();
    // Act
    nowMs = 1_500;
    const unchanged = await cache.get();
    const readsWhileUnchanged = reads;
    await container.items.upsert(definitionDocument({ path: 'support/support.agent.yaml', text: resource!.text }));
    nowMs = 3_000;
    const rewritten = await cache.get();
    // Assess
    expect(unchanged).toBe(first);
    expect(readsWhileUnchanged).toBe(1);
    // The same text written again is a new _etag: the files are read, and the same catalog stays.
    expect(reads).toBe(2);
    expect(rewritten).toBe(first);
  });

  it('refuse to start on invalid definitions', async () => {
    const { logger } = recordingLogger();
    const source = { name: 'broken', files: async () => [{ path: 'routing.yaml', text: 'default: nowhere\n' }] };
    await expect(new CachedCatalog(source, { settings, logger }).get()).rejects.toBeInstanceOf(AgentDefinitionError);
  });
});
