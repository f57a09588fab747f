import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { parseCli } from '../cli-support.js';
import { startAcsEmulator } from './index.js';

/**
 * Runs the ACS emulator as a process: `npx tsx emulators/acs/main.ts`. Settings come from the
 * environment: ACS_EMULATOR_PORT (default 8089), ACS_EMULATOR_HOST (127.0.0.1),
 * ACS_EMULATOR_ACCESS_KEY (base64; random when unset), ACS_EMULATOR_AUDIENCE (random when unset).
 * Prints the app settings that point the app at it; stops cleanly on SIGINT/SIGTERM.
 */

parseCli({
  usage: 'npx tsx emulators/acs/main.ts',
  summary:
    'Runs the ACS Call Automation emulator alone, with its control API (/emulator/*), and prints the settings that point the app at it.\n' +
    'Environment: ACS_EMULATOR_PORT (default 8089), ACS_EMULATOR_HOST (127.0.0.1), ACS_EMULATOR_ACCESS_KEY (base64; random when unset),\n' +
    'ACS_EMULATOR_AUDIENCE (random when unset). npm run emulators starts it with fixed keys beside the other emulators.',
  options: {},
  describe: {},
});

const logger = consoleLogger('info', { component: 'acs-emulator' });
const acs = await startAcsEmulator({
  port: Number(process.env.ACS_EMULATOR_PORT ?? 8089),
  host: process.env.ACS_EMULATOR_HOST,
  accessKey: process.env.ACS_EMULATOR_ACCESS_KEY,
  audience: process.env.ACS_EMULATOR_AUDIENCE,
  logger,
  controlApi: true,
});

process.stdout.write(
  [
    `ACS emulator listening on ${acs.endpoint}`,
    `  ACS_CONNECTION_STRING=${acs.connectionString}`,
    `  ACS_JWT_ISSUER=${acs.jwt.issuer}`,
    `  ACS_JWT_AUDIENCE=${acs.jwt.audience}`,
    `  ACS_JWKS_URL=${acs.jwt.jwksUrl}`,
    `  control API: POST ${acs.endpoint}emulator/calls {"eventGridUrl":"http://127.0.0.1:7071/api/incomingCall","from":"+15550100123","to":"+15550100999","steps":[{"waitFor":"greeting"},{"say":"hello"},{"hangUp":true}]}`,
    '',
  ].join('\n'),
);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await acs.close();
  process.stdout.write('ACS emulator stopped\n');
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
