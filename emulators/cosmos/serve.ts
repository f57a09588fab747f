import { parseCli } from '../cli-support.js';
import { startEmbeddedCosmos } from './embedded-server.js';

/**
 * Runs the embedded Cosmos server on its own for `func start` against local emulators:
 *   npx tsx emulators/cosmos/serve.ts [--port 8081]
 * then set COSMOS_ENDPOINT and COSMOS_KEY as printed. Data lives in memory until the process stops.
 */
const { values } = parseCli({
  usage: 'npx tsx emulators/cosmos/serve.ts [options]',
  summary: 'Runs the embedded Cosmos DB server alone (plain HTTP, data in memory) and prints COSMOS_ENDPOINT and COSMOS_KEY.',
  options: { port: { type: 'string', default: '8081' }, host: { type: 'string', default: '127.0.0.1' } },
  describe: { port: 'port to listen on', host: 'address to listen on' },
});
const cosmos = await startEmbeddedCosmos({ port: Number(values.port), host: values.host });
console.log(`embedded Cosmos DB listening\nCOSMOS_ENDPOINT=${cosmos.endpoint}\nCOSMOS_KEY=${cosmos.key}`);

const stop = async () => {
  await cosmos.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
