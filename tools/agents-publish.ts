/**
 * `npm run agents:publish -- [--dir agents] [--to cosmos|blob]`
 *
 * Puts a definitions folder where the app reads it: the Cosmos DB container of AGENTS_SOURCE=cosmos
 * (COSMOS_ENDPOINT, COSMOS_DATABASE, AGENTS_COSMOS_CONTAINER from the environment), or the Blob
 * container of AGENTS_SOURCE=blob (AGENTS_BLOB_CONTAINER_URL). `--to` defaults to AGENTS_SOURCE when
 * that is blob, else cosmos. The files are validated first, and nothing is written when they do not
 * load. Running instances pick the new version up within AGENTS_REFRESH_SECONDS, with no redeploy.
 * Signs in with DefaultAzureCredential (keys, COSMOS_KEY or AGENTS_BLOB_CONNECTION_STRING, only
 * against local emulators); the identity needs a data role on the database or the storage account
 * (the developer access of infra/ gives both).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { blobContainerOf, blobLocation, folderSource, publishDefinitions, publishDefinitionsToBlob } from '../src/lib/agents/index.js';
import { appCredential } from '../src/lib/app/credential.js';
import { createCosmosClient } from '../src/lib/archive/client.js';
import { SETTINGS } from '../src/lib/config/settings.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.AGENTS_DIR ?? 'agents' },
    to: { type: 'string', default: process.env.AGENTS_SOURCE === 'blob' ? 'blob' : 'cosmos' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run agents:publish -- [--dir agents] [--to cosmos|blob]   (COSMOS_ENDPOINT, COSMOS_DATABASE, AGENTS_COSMOS_CONTAINER, or AGENTS_BLOB_CONTAINER_URL, from the environment)');
  process.exit(0);
}
if (values.to !== 'cosmos' && values.to !== 'blob') {
  console.error(`agents:publish: --to must be cosmos or blob, not ${values.to}`);
  process.exit(2);
}

try {
  if (values.to === 'blob') {
    const url = SETTINGS.AGENTS_BLOB_CONTAINER_URL.schema.parse(process.env.AGENTS_BLOB_CONTAINER_URL);
    if (!url) throw new Error('AGENTS_BLOB_CONTAINER_URL is not set');
    const connectionString = SETTINGS.AGENTS_BLOB_CONNECTION_STRING.schema.parse(process.env.AGENTS_BLOB_CONNECTION_STRING);
    const container = await blobContainerOf({ blobContainerUrl: url, blobConnectionString: connectionString }, appCredential(process.env.AZURE_CLIENT_ID));
    // With a key (a local emulator) the container may not exist yet; in Azure infra/ creates it.
    if (connectionString) await container.createIfNotExists();
    const files = await folderSource(path.resolve(values.dir)).files();
    const published = await publishDefinitionsToBlob(files, container, blobLocation(url).prefix);
    console.log(`agents:publish: version ${published.version} in ${url}: ${published.written} files written, ${published.deleted} removed`);
    process.exit(0);
  }
  const endpoint = SETTINGS.COSMOS_ENDPOINT.schema.parse(process.env.COSMOS_ENDPOINT);
  if (!endpoint) throw new Error('COSMOS_ENDPOINT is not set');
  const database = SETTINGS.COSMOS_DATABASE.schema.parse(process.env.COSMOS_DATABASE);
  const containerName = SETTINGS.AGENTS_COSMOS_CONTAINER.schema.parse(process.env.AGENTS_COSMOS_CONTAINER);
  const key = SETTINGS.COSMOS_KEY.schema.parse(process.env.COSMOS_KEY);
  const client = await createCosmosClient({ endpoint, key, database, auditTtlDays: 1 }, { credential: appCredential(process.env.AZURE_CLIENT_ID) });
  // Entra ID data roles cannot create containers (infra/ does); with the key of a local emulator we can.
  const container = key
    ? (await (await client.databases.createIfNotExists({ id: database })).database.containers.createIfNotExists({ id: containerName, partitionKey: { paths: ['/scenario'] } })).container
    : client.database(database).container(containerName);
  const files = await folderSource(path.resolve(values.dir)).files();
  const published = await publishDefinitions(files, container);
  console.log(`agents:publish: version ${published.version} in ${database}/${containerName}: ${published.written} files written, ${published.deleted} removed`);
  process.exit(0);
} catch (error) {
  // AgentDefinitionError's message lists every problem with its file, line and field.
  console.error(`agents:publish: ${(error as Error).message}`);
  process.exit(1);
}
