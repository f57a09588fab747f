import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AcsClient,
  AcsClientError,
  answerCallArgs,
  createCallAutomationClient,
  phoneIdentifier,
  playText,
  recognizeSpeech,
} from '../../src/lib/acs/client.js';
import { appCredential } from '../../src/lib/app/credential.js';
import { createApp } from '../../src/lib/app/index.js';
import { baseEnv } from '../support/env.js';
import { loadConfig } from '../../src/lib/config/index.js';

/**
 * A small HTTP server answering the three Call Automation REST operations the handlers use, so the
 * real SDK runs over a real socket. It stands in for ACS (which cannot run offline) and only records
 * what arrives; the full behavioural emulator lives in emulators/.
 */
interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

let server: Server;
let endpoint: string;
const recorded: Recorded[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      recorded.push({ method: req.method ?? '', path, headers: req.headers, body: text ? JSON.parse(text) : undefined });
      if (path === '/calling/callConnections:answer') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ callConnectionId: 'conn-1', serverCallId: 'srv-1', correlationId: 'corr-1', callConnectionState: 'connecting' }),
        );
      } else {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
afterEach(() => {
  recorded.length = 0;
});

const speech = { voice: 'en-US-AvaMultilingualNeural', locale: 'en-US' };
const connectionString = () => `endpoint=${endpoint};accesskey=${Buffer.from('k'.repeat(32)).toString('base64')}`;

describe('Call Automation client', () => {
  it('talks to an http:// endpoint (the emulator) with HMAC auth and sends the answer options on the wire', async () => {
    // Prepare
    const client = await createCallAutomationClient({ connectionString: connectionString(), endpoint: undefined });
    const args = answerCallArgs({
      incomingCallContext: 'ctx-1',
      callbackUrl: 'https://app.example/api/callEvents?callId=c1&exp=1&sig=v1.x',
      operationContext: 'c1',
      cognitiveServicesEndpoint: 'https://ai.example.cognitiveservices.azure.com',
      media: { transportUrl: 'wss://wps.example/client/hubs/media?access_token=t' },
    });
    // Act
    const answered = await client.answerCall(...args);
    // Assess
    expect(answered.callConnectionProperties.callConnectionId).toBe('conn-1');
    const request = recorded[0]!;
    expect(request.path).toBe('/calling/callConnections:answer');
    expect(request.headers.authorization).toMatch(/^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=/);
    expect(request.headers['repeatability-request-id']).toBeTruthy();
    expect(request.body).toMatchObject({
      incomingCallContext: 'ctx-1',
      callbackUri: 'https://app.example/api/callEvents?callId=c1&exp=1&sig=v1.x',
      operationContext: 'c1',
      callIntelligenceOptions: { cognitiveServicesEndpoint: 'https://ai.example.cognitiveservices.azure.com' },
      mediaStreamingOptions: {
        transportType: 'websocket',
        transportUrl: 'wss://wps.example/client/hubs/media?access_token=t',
        contentType: 'audio',
        audioChannelType: 'mixed',
        startMediaStreaming: true,
        enableBidirectional: true,
        audioFormat: 'pcm24KMono',
      },
    });
  });

  it('leaves media streaming out when media mode is off', () => {
    const [, , options] = answerCallArgs({ incomingCallContext: 'ctx', callbackUrl: 'https://a/api/callEvents' });
    expect(options).toEqual({});
  });

  it('sends play and recognize requests shaped as ACS expects', async () => {
    // Prepare
    const client = await createCallAutomationClient({ connectionString: connectionString(), endpoint: undefined });
    const media = client.getCallConnection('conn-1').getCallMedia();
    // Act
    await media.playToAll(...playText('Goodbye!', speech, { operationContext: 'goodbye' }));
    await media.startRecognizing(
      phoneIdentifier('+15550100123'),
      recognizeSpeech('How can I help?', speech, { operationContext: 'turn:1', initialSilenceTimeoutSec: 5 }),
    );
    // Assess
    const [play, recognize] = recorded;
    expect(play!.path).toBe('/calling/callConnections/conn-1:play');
    expect(play!.body).toMatchObject({
      playSources: [{ kind: 'text', text: { text: 'Goodbye!', voiceName: speech.voice, sourceLocale: 'en-US' } }],
      operationContext: 'goodbye',
    });
    expect(recognize!.path).toBe('/calling/callConnections/conn-1:recognize');
    expect(recognize!.body).toMatchObject({
      // SDK 1.6.0 sends a single `playPrompt` and nests the speech timing as milliseconds.
      recognizeInputType: 'speech',
      playPrompt: { kind: 'text', text: { text: 'How can I help?', voiceName: speech.voice } },
      operationContext: 'turn:1',
      recognizeOptions: {
        interruptPrompt: true,
        initialSilenceTimeoutInSeconds: 5,
        speechOptions: { endSilenceTimeoutInMs: 1000 },
        speechLanguage: 'en-US',
        targetParticipant: { rawId: '4:+15550100123', phoneNumber: { value: '+15550100123' } },
      },
    });
  });

  it('is built once per app, and refuses settings without a target or an endpoint without a credential', async () => {
    // Prepare
    const app = createApp(loadConfig(baseEnv({ ACS_CONNECTION_STRING: connectionString() })));
    const other = createApp(loadConfig(baseEnv({ ACS_CONNECTION_STRING: connectionString() })));
    // Act
    const [a, b] = await Promise.all([app.acs(), app.acs()]);
    const missing = createCallAutomationClient({ connectionString: undefined, endpoint: undefined });
    const noCredential = createCallAutomationClient({ endpoint: 'https://acs.example.communication.azure.com', connectionString: undefined });
    // Assess
    expect(a).toBe(b);
    expect(await other.acs()).not.toBe(a);
    await expect(missing).rejects.toBeInstanceOf(AcsClientError);
    await expect(noCredential).rejects.toThrow(/needs the app credential/);
  });

  it("keeps one connection and media handle per call and client, and they act on that call's path", async () => {
    // Prepare
    const client = new AcsClient(await createCallAutomationClient({ connectionString: connectionString(), endpoint: undefined }));
    const other = new AcsClient(await createCallAutomationClient({ connectionString: connectionString(), endpoint: undefined }));
    // Act
    const first = client.media('conn-7');
    const again = client.media('conn-7');
    await again.playToAll(...playText('Still there?', speech, { operationContext: 'reprompt' }));
    await client.media('conn-8').playToAll(...playText('Goodbye!', speech, { operationContext: 'goodbye' }));
    // Assess
    expect(again).toBe(first);
    expect(client.connection('conn-7')).toBe(client.connection('conn-7'));
    expect(client.connection('conn-8')).not.toBe(client.connection('conn-7'));
    expect(other.media('conn-7')).not.toBe(first);
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /calling/callConnections/conn-7:play', 'POST /calling/callConnections/conn-8:play']);
  });

  it("shares no call handles between two apps in one process, and each app's act on its call", async () => {
    // Prepare: the same settings, so only the app tells the two apart.
    const env = baseEnv({ ACS_CONNECTION_STRING: connectionString() });
    const [one, two] = [createApp(loadConfig(env)), createApp(loadConfig(env))];
    // Act
    const [acsOne, acsTwo] = await Promise.all([one.acs(), two.acs()]);
    const mediaOne = acsOne.media('conn-9');
    const mediaTwo = acsTwo.media('conn-9');
    await mediaOne.playToAll(...playText('From one', speech, { operationContext: 'one' }));
    await mediaTwo.playToAll(...playText('From two', speech, { operationContext: 'two' }));
    // Assess
    expect(mediaTwo).not.toBe(mediaOne);
    expect(acsTwo.connection('conn-9')).not.toBe(acsOne.connection('conn-9'));
    expect((await one.acs()).media('conn-9')).toBe(mediaOne);
    expect(recorded.map((r) => `${r.method} ${r.path} ${r.body?.operationContext ?? ''}`.trim())).toEqual([
      'POST /calling/callConnections/conn-9:play one',
      'POST /calling/callConnections/conn-9:play two',
    ]);
  });

  it('builds an endpoint + managed identity client without contacting anything', async () => {
    // Prepare + Act: DefaultAzureCredential is lazy; no token is requested until a call is made
    const client = await createCallAutomationClient({ endpoint: 'https://acs.example.communication.azure.com', connectionString: undefined }, {
      credential: appCredential('00000000-0000-0000-0000-000000000001'),
    });
    // Assess
    expect(typeof client.answerCall).toBe('function');
  });

  it('validates builder inputs without echoing phone numbers', () => {
    expect(() => phoneIdentifier('555-0100')).toThrow('not an E.164 phone number');
    expect(() => playText('  ', speech, { operationContext: 'x' })).toThrow(TypeError);
    expect(() => recognizeSpeech('hi', speech, { operationContext: 'x', initialSilenceTimeoutSec: 60 })).toThrow(TypeError);
    expect(() => answerCallArgs({ incomingCallContext: 'c', callbackUrl: 'u', media: { transportUrl: 'http://x' } })).toThrow(TypeError);
  });
});
