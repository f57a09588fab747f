/**
 * `npm run emulators [-- --functions http://localhost:7071] [--cosmos]`: the local stand-ins for Azure
 * in one process — ACS Call Automation (REST, signed callbacks, Event Grid sender, media client) and
 * Web PubSub (client endpoint, REST data plane, upstream events), plus the embedded Cosmos server with
 * `--cosmos`. Prints the settings to put in local.settings.json for `func start`; stops on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { consoleLogger } from '../src/lib/telemetry/logger.js';
import { startAcsEmulator } from './acs/index.js';
import { startEmbeddedCosmos } from './cosmos/index.js';
import { startWebPubSubEmulator } from './webpubsub/index.js';

const { values } = parseArgs({
  options: {
    functions: { type: 'string', default: 'http://localhost:7071' },
    'acs-port': { type: 'string', default: '0' },
    'webpubsub-port': { type: 'string', default: '0' },
    cosmos: { type: 'boolean', default: false },
    'cosmos-port': { type: 'string', default: '0' },
  },
});

const logger = consoleLogger('info', { component: 'emulators' });
const functionsBase = values.functions.replace(/\/+$/, '');
const acs = await startAcsEmulator({ port: Number(values['acs-port']), logger, controlApi: true });
const webPubSub = await startWebPubSubEmulator({
  port: Number(values['webpubsub-port']),
  logger,
  hubs: { media: { eventHandlers: [{ urlTemplate: `${functionsBase}/runtime/webhooks/webpubsub`, systemEvents: ['connected', 'disconnected'] }] } },
});
const cosmos = values.cosmos ? await startEmbeddedCosmos({ port: Number(values['cosmos-port']) }) : undefined;

const settings: Record<string, string> = {
  ACS_CONNECTION_STRING: acs.connectionString,
  ACS_JWT_ISSUER: acs.jwt.issuer,
  ACS_JWT_AUDIENCE: acs.jwt.audience,
  ACS_JWKS_URL: acs.jwt.jwksUrl,
  ACS_CALLBACK_BASE_URL: functionsBase,
  ACS_CALLBACK_SIGNING_KEY: randomBytes(32).toString('base64url'),
  USER_ID_SALT: randomBytes(32).toString('base64url'),
  WEBPUBSUB_CONNECTION_STRING: webPubSub.connectionString,
  ...(cosmos ? { COSMOS_ENDPOINT: cosmos.endpoint, COSMOS_KEY: cosmos.key } : {}),
};
console.log(`ACS emulator        ${acs.endpoint}`);
console.log(`Web PubSub emulator ${webPubSub.endpoint}`);
if (cosmos) console.log(`Cosmos (embedded)   ${cosmos.endpoint}`);
console.log('\nSettings for local.settings.json ("Values"):');
console.log(JSON.stringify(settings, null, 2));
console.log(`\nPlace a call: POST ${acs.endpoint}emulator/calls (see emulators/acs) with the app's Event Grid URL ${functionsBase}/api/incomingCall?code=<function key>`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([acs.close(), webPubSub.close(), cosmos?.close()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
