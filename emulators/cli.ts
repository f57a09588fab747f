/**
 * `npm run emulators`: the local stand-ins for Azure, for `func start` — Redis, Azurite (the Storage
 * emulator behind AzureWebJobsStorage and the Durable task hub), the embedded Cosmos server, ACS
 * Call Automation and Web PubSub — on fixed ports, so `local.settings.sample.json` works unchanged.
 * Prints the settings that differ from the sample when a port is moved; stops on Ctrl-C.
 */
import { consoleLogger } from '../src/lib/telemetry/logger.js';
import { parseCli, portValue, runCli } from './cli-support.js';
import { DEFAULT_PORTS, PORT_FLAGS, SERVICE_NAMES, localSettings, startLocalServices, type LocalPorts } from './local-services.js';

const portOptions = Object.fromEntries(Object.values(PORT_FLAGS).map((flag) => [flag, { type: 'string' as const }])) as Record<(typeof PORT_FLAGS)[keyof LocalPorts], { type: 'string' }>;
const portDescriptions = Object.fromEntries(
  (Object.keys(PORT_FLAGS) as (keyof LocalPorts)[]).map((service) => [PORT_FLAGS[service], `port of ${SERVICE_NAMES[service]}`]),
) as Record<(typeof PORT_FLAGS)[keyof LocalPorts], string>;

export const EMULATORS_CLI = {
  usage: 'npm run emulators -- [options]',
  summary:
    'Starts redis-server, Azurite, the embedded Cosmos server and the ACS and Web PubSub emulators on fixed ports for `func start`\n' +
    '(cp local.settings.sample.json local.settings.json, then func start in another terminal). Ctrl-C stops them.',
  options: {
    ...portOptions,
    'no-redis': { type: 'boolean', default: false },
    'no-cosmos': { type: 'boolean', default: false },
    'no-azurite': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
  describe: {
    ...portDescriptions,
    'no-redis': 'do not start redis-server (use your own at REDIS_HOST:REDIS_PORT)',
    'no-cosmos': 'do not start the embedded Cosmos server',
    'no-azurite': 'do not start Azurite (AzureWebJobsStorage is then yours to provide)',
    json: 'print one JSON line {ports, settings} once everything listens, nothing else',
  },
  epilogue: 'Place a call with the control API: POST http://127.0.0.1:<acs-port>/emulator/calls (see emulators/acs/README.md).',
} as const;

async function main(): Promise<number | void> {
  const { values } = parseCli(EMULATORS_CLI);
  const ports = portsFrom(values as Record<string, unknown>);
  const logger = consoleLogger(values.json ? 'error' : 'info', { component: 'emulators' });
  const services = await startLocalServices({ ports, logger, redis: !values['no-redis'], cosmos: !values['no-cosmos'], azurite: !values['no-azurite'] });
  const stop = async () => {
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  if (values.json) {
    console.log(JSON.stringify({ ports: services.ports, settings: services.settings }));
    return new Promise<never>(() => {});
  }
  const p = services.ports;
  if (services.redis) console.log(`redis-server        127.0.0.1:${p.redis}`);
  if (services.azurite) console.log(`Azurite             blob ${p.blob}, queue ${p.queue}, table ${p.table}`);
  if (services.cosmos) console.log(`Cosmos (embedded)   ${services.cosmos.endpoint}`);
  console.log(`ACS emulator        ${services.acs.endpoint}`);
  console.log(`Web PubSub emulator ${services.webPubSub.endpoint} (hub media → http://127.0.0.1:${p.functions}/runtime/webhooks/webpubsub)`);
  const changed = Object.entries(services.settings).filter(([name, value]) => localSettings(DEFAULT_PORTS)[name] !== value);
  if (changed.length === 0) {
    console.log('\nlocal.settings.sample.json matches these ports: cp local.settings.sample.json local.settings.json && func start');
  } else {
    console.log('\nPorts moved: set these in local.settings.json "Values":');
    console.log(JSON.stringify(Object.fromEntries(changed), null, 2));
  }
  console.log(`\nPlace a call: POST ${services.acs.endpoint}emulator/calls with the app's Event Grid URL http://127.0.0.1:${p.functions}/api/incomingCall`);
  return new Promise<never>(() => {});
}

/** The ports of `--<service>-port` flags, each defaulting to its fixed port. */
export function portsFrom(values: Readonly<Record<string, unknown>>, defaults: LocalPorts = DEFAULT_PORTS): LocalPorts {
  const entries = (Object.keys(PORT_FLAGS) as (keyof LocalPorts)[]).map((service) => {
    const value = values[PORT_FLAGS[service]];
    return [service, portValue(PORT_FLAGS[service], typeof value === 'string' ? value : undefined, defaults[service])];
  });
  return Object.fromEntries(entries) as unknown as LocalPorts;
}

runCli('emulators', main);
