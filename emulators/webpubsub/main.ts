/**
 * Runs the Web PubSub emulator as its own process:
 *   tsx emulators/webpubsub/main.ts [--port 8080] [--host 127.0.0.1] [--access-key KEY]
 *       [--hub NAME[=EVENT_HANDLER_URL_TEMPLATE]]… [--json]
 * Prints the endpoint and connection string (one JSON line with --json), stops cleanly on
 * SIGINT/SIGTERM. Over an IPC channel (a parent that forked it), the message `meter` is answered with
 * the message meter.
 */
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { parseCli } from '../cli-support.js';
import { startWebPubSubEmulator, type HubSettings } from './index.js';

const { values } = parseCli({
  usage: 'npx tsx emulators/webpubsub/main.ts [options]',
  summary: 'Runs the Azure Web PubSub emulator alone and prints its endpoint and connection string; Ctrl-C stops it.',
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'access-key': { type: 'string' },
    hub: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
  },
  describe: {
    port: 'port to listen on (0: a free one)',
    host: 'address to listen on',
    'access-key': 'the AccessKey (random when unset)',
    hub: 'NAME[=EVENT_HANDLER_URL_TEMPLATE], repeatable: a hub and where its events go',
    json: 'print one JSON line {endpoint, port, connectionString}',
  },
});

const hubs: Record<string, HubSettings> = {};
for (const spec of values.hub ?? []) {
  const [name, urlTemplate] = spec.split(/=(.*)/s);
  if (!name) continue;
  hubs[name] = urlTemplate ? { eventHandlers: [{ urlTemplate, userEventPattern: '*', systemEvents: ['connect', 'connected', 'disconnected'] }] } : {};
}

const emulator = await startWebPubSubEmulator({
  port: Number(values.port),
  host: values.host,
  accessKey: values['access-key'],
  hubs,
  logger: consoleLogger('info', { component: 'webpubsub-emulator' }),
});

if (values.json) {
  process.stdout.write(`${JSON.stringify({ endpoint: emulator.endpoint, port: emulator.port, connectionString: emulator.connectionString })}\n`);
} else {
  console.log(`Web PubSub emulator listening on ${emulator.endpoint}`);
  console.log(`WEBPUBSUB_CONNECTION_STRING=${emulator.connectionString}`);
}

// Started by a benchmark with an IPC channel: it may ask for the message meter.
process.on('message', (request) => {
  if (request === 'meter') process.send?.(emulator.meter());
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void emulator.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
