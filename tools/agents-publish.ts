/**
 * `npm run agents:publish -- [--dir agents]`
 *
 * Puts a definitions folder into the Cosmos DB container the app reads when AGENTS_SOURCE=cosmos
 * (COSMOS_ENDPOINT, COSMOS_DATABASE, AGENTS_COSMOS_CONTAINER from the environment): the files are
 * validated first, and nothing is written when they do not load. Running instances pick the new
 * version up within AGENTS_REFRESH_SECONDS, with no redeploy. Signs in with DefaultAzureCredential
 * (the account key, COSMOS_KEY, only against a local emulator); the identity needs a Cosmos DB data
 * role on the database (the developer access of infra/ gives one).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { folderSource, publishDefinitions } from '../src/lib/agents/index.js';
import { appCredential } from '../src/lib/app/credential.js';
import { createCosmosClient } from '../src/lib/archive/client.js';
import { SETTINGS } from '../src/lib/config/settings.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.AGENTS_DIR ?? 'agents' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run agents:publish -- [--dir agents]   (COSMOS_ENDPOINT, COSMOS_DATABASE, AGENTS_COSMOS_CONTAINER from the environment)');
  process.exit(0);
}

try {
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
