import { rm } from 'node:fs/promises';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playConversation } from '../../emulators/agent-conversations.js';
import { azuriteConnectionString, startAzurite, type Azurite } from '../../emulators/local-services.js';
import { startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { freePort } from '../../emulators/redis/server.js';
import { blobLocation } from '../../src/lib/agents/index.js';
import { publishDefinitionsToBlob } from '../../src/lib/agents/sources.js';
import { catalogOf, expectLiveReload, folderFiles, libraryFolder, recordingLogger } from './support.js';

/**
 * A new agent with no TypeScript, served from a Blob container (Azurite, Microsoft's Storage emulator,
 * over a real socket): its files are published under a folder of the container, and the app (the real
 * composition root with AGENTS_SOURCE=blob, on the offline stack) answers its scripted conversation
 * as phone calls. A change is heard after the refresh interval without a restart; a broken blob
 * written by hand is refused while the last good version serves.
 */

const REFRESH_SECONDS = 5;
const FOLDER = 'prod/';
let dir: string;
let azurite: Azurite;
let container: ContainerClient;
let stack: OfflineStack;
const recorded = recordingLogger();

beforeAll(async () => {
  dir = await libraryFolder();
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  azurite = await startAzurite(ports);
  const connectionString = azuriteConnectionString(ports);
  container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('agent-definitions');
  await container.create();
  // A file of an earlier version that the folder no longer has: publishing removes it.
  await container.getBlockBlobClient(`${FOLDER}retired/scenario.yaml`).uploadData(Buffer.from('name: retired\n'));
  await publishDefinitionsToBlob(await folderFiles(dir), container, FOLDER, { settings: {} });
  stack = await startOfflineStack({
    env: {
      AGENTS_SOURCE: 'blob',
      AGENTS_BLOB_CONTAINER_URL: `http://127.0.0.1:${ports.blob}/devstoreaccount1/agent-definitions/${FOLDER}`,
      AGENTS_BLOB_CONNECTION_STRING: connectionString,
      AGENTS_REFRESH_SECONDS: String(REFRESH_SECONDS),
    },
    acs: { speechMsPerChar: 1 },
    logger: recorded.logger,
  });
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await azurite?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('an agent published to a Blob container', () => {
  it('answers its scripted conversation on a phone call, with no TypeScript, and publishing removed the retired file', { timeout: 60_000 }, async () => {
    // Prepare
    const catalog = catalogOf(await folderFiles(dir));
    const loaded = catalog.scenario('library')!;
    // Act
    const result = await playConversation(stack, catalog, loaded, loaded.scenario.tests[0]!);
    // Assess
    expect(result.failures).toEqual([]);
    expect(recorded.lines.some((l) => l.startsWith('info agent definitions loaded') && l.includes('blob:agent-definitions/prod/'))).toBe(true);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    expect(names.sort()).toEqual(['prod/library/librarian.agent.yaml', 'prod/library/scenario.yaml', 'prod/routing.yaml']);
  });

  it('changes without a restart after the refresh interval, and a broken blob is refused while the last good version serves', { timeout: 90_000 }, async () => {
    await expectLiveReload({
      stack,
      dir,
      refreshSeconds: REFRESH_SECONDS,
      lines: recorded.lines,
      publish: (files) => publishDefinitionsToBlob(files, container, FOLDER, { settings: {} }),
      writeBroken: (text) => container.getBlockBlobClient(`${FOLDER}library/librarian.agent.yaml`).uploadData(Buffer.from(text)),
    });
  });
});

describe('a Blob container URL', () => {
  it('names the container and folder, account-host style in Azure and path style on a local emulator', () => {
    expect(blobLocation('https://acct.blob.core.windows.net/agents')).toEqual({ containerUrl: 'https://acct.blob.core.windows.net/agents', containerName: 'agents', prefix: '' });
    expect(blobLocation('https://acct.blob.core.windows.net/agents/prod/v2/')).toEqual({ containerUrl: 'https://acct.blob.core.windows.net/agents', containerName: 'agents', prefix: 'prod/v2/' });
    expect(blobLocation('http://127.0.0.1:10000/devstoreaccount1/agents/prod')).toEqual({ containerUrl: 'http://127.0.0.1:10000/devstoreaccount1/agents', containerName: 'agents', prefix: 'prod/' });
    expect(() => blobLocation('https://acct.blob.core.windows.net/')).toThrow(/names no container/);
  });
});
