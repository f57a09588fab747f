import { rm } from 'node:fs/promises';
import { CosmosClient, type Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playConversation } from '../../emulators/agent-conversations.js';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../emulators/cosmos/index.js';
import { startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { AgentDefinitionError } from '../../src/lib/agents/errors.js';
import { publishDefinitions } from '../../src/lib/agents/sources.js';
import { catalogOf, expectLiveReload, folderFiles, libraryFolder, recordingLogger } from './support.js';

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

beforeAll(async () => {
  dir = await libraryFolder();
  // The definitions are in the account before the app starts (its first request loads them): the
  // app is pointed at this embedded server, which then also holds its archive.
  cosmos = await startEmbeddedCosmos();
  const client = new CosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, connectionPolicy: { enableEndpointDiscovery: false } });
  const { database } = await client.databases.createIfNotExists({ id: 'rtvoice' });
  ({ container } = await database.containers.createIfNotExists({ id: 'agentDefinitions', partitionKey: { paths: ['/scenario'] } }));
  await publishDefinitions(await folderFiles(dir), container, { settings: {} });
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
    const catalog = catalogOf(await folderFiles(dir));
    const loaded = catalog.scenario('library')!;
    // Act
    const result = await playConversation(stack, catalog, loaded, loaded.scenario.tests[0]!);
    // Assess
    expect(result.failures).toEqual([]);
    expect(recorded.lines.some((l) => l.startsWith('info agent definitions loaded') && l.includes('cosmos:rtvoice/agentDefinitions'))).toBe(true);
  });

  it('changes without a restart after the refresh interval, and a broken change is refused while the last good one serves', { timeout: 90_000 }, async () => {
    await expectLiveReload({
      stack,
      dir,
      refreshSeconds: REFRESH_SECONDS,
      lines: recorded.lines,
      publish: (files) => publishDefinitions(files, container, { settings: {} }),
      // Written straight to the container: publishing would refuse it.
      writeBroken: (text) => container.items.upsert({ id: 'library~librarian.agent.yaml', scenario: 'library', path: 'library/librarian.agent.yaml', text }),
    });
  });

  it('is refused at publishing when it does not load, and nothing is written', async () => {
    // Prepare
    const broken = (await folderFiles(dir)).map((f) => (f.path === 'routing.yaml' ? { ...f, text: 'default: nowhere\n' } : f));
    const { resources: before } = await container.items.query('SELECT c.id, c._etag FROM c').fetchAll();
    // Act
    const publishing = publishDefinitions(broken, container, { settings: {} });
    // Assess
    await expect(publishing).rejects.toBeInstanceOf(AgentDefinitionError);
    const { resources: after } = await container.items.query('SELECT c.id, c._etag FROM c').fetchAll();
    expect(after).toEqual(before);
  });
});
