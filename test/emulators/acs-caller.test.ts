import { CallAutomationClient, createOutboundAudioData, createOutboundStopAudioData, type CallAutomationEvent } from '@azure/communication-call-automation';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAcsEmulator, type AcsEmulator } from '../../emulators/acs/index.js';
import { startMediaServer, startTestApp, type MediaConnection, type TestApp } from './acs-test-app.js';

/**
 * Scripted callers against tiny apps built on the real CallAutomationClient: one IVR-style app in
 * play/recognize mode, one DTMF menu that transfers, and one streaming agent with barge-in.
 * Each run must record what the caller heard and every REST call the app made.
 */

const CALLER = '+15550100123';
const SERVICE_NUMBER = '+15550100999';
const caller = { phoneNumber: CALLER };

describe('ACS emulator: scripted caller', () => {
  let acs: AcsEmulator;
  let client: CallAutomationClient;
  let app: TestApp | undefined;
  let mediaServer: Awaited<ReturnType<typeof startMediaServer>> | undefined;

  beforeAll(async () => {
    acs = await startAcsEmulator({ speechMsPerChar: 4 });
    client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
  });
  afterEach(async () => {
    await app?.close();
    await mediaServer?.close();
    mediaServer = undefined;
  });
  afterAll(async () => {
    await acs.close();
  });

  it('records the plays heard, the recognized speech, the silence timeout and every REST call of an IVR app', async () => {
    // Prepare: greet, ask, echo what was heard, ask again, say goodbye when the caller stays silent.
    const ivr = async (event: CallAutomationEvent, self: TestApp): Promise<void> => {
      const connection = self.client.getCallConnection(event.callConnectionId);
      const media = connection.getCallMedia();
      const ask = (operationContext: string): Promise<unknown> =>
        media.startRecognizing(caller, {
          kind: 'callMediaRecognizeSpeechOptions',
          initialSilenceTimeoutInSeconds: 1,
          playPrompt: { kind: 'textSource', text: 'How can I help you?' },
          operationContext,
        });
      switch (event.kind) {
        case 'CallConnected':
          await media.playToAll([{ kind: 'textSource', text: 'Thanks for calling the emulator.' }], { operationContext: 'greeting' });
          break;
        case 'PlayCompleted':
          if (event.operationContext === 'greeting') await ask('ask-1');
          if (event.operationContext === 'echo') await ask('ask-2');
          if (event.operationContext === 'bye') await connection.hangUp(true);
          break;
        case 'RecognizeCompleted':
          await media.playToAll([{ kind: 'textSource', text: `You said: ${event.speechResult?.speech}` }], { operationContext: 'echo' });
          break;
        case 'RecognizeFailed':
          await media.playToAll([{ kind: 'textSource', text: 'Goodbye.' }], { operationContext: 'bye' });
          break;
        default:
          break;
      }
    };
    app = await startTestApp({ client, jwt: acs.jwt, onEvent: ivr });

    // Act
    const run = await acs.placeCall(
      { from: CALLER, to: SERVICE_NUMBER, steps: [{ waitFor: 'greeting' }, { say: 'I want to check my balance' }, { silence: true }] },
      { eventGridUrl: app.eventGridUrl },
    );

    // Assess
    expect(app.errors).toEqual([]);
    expect(run.notes).toEqual([]);
    expect(run.heardText).toEqual([
      'Thanks for calling the emulator.',
      'How can I help you?',
      'You said: I want to check my balance',
      'How can I help you?',
      'Goodbye.',
    ]);
    expect(run.operations).toEqual(['answerCall', 'play', 'recognize', 'play', 'recognize', 'play', 'terminateCall']);
    expect(run.requests.every((r) => r.status >= 200 && r.status < 300)).toBe(true);
    expect(run.said).toMatchObject([{ text: 'I want to check my balance', via: 'recognize' }]);
    expect(run.events.find((e) => e.type === 'RecognizeFailed')?.event.data).toMatchObject({ operationContext: 'ask-2', resultInformation: { subCode: 8510 } });
    expect(run.eventTypes.at(-1)).toBe('CallDisconnected');
    expect(run.endedBy).toBe('app');
  });

  it('answers a DTMF menu with the pressed key and follows the app through a transfer', async () => {
    // Prepare
    const menu = async (event: CallAutomationEvent, self: TestApp): Promise<void> => {
      const connection = self.client.getCallConnection(event.callConnectionId);
      if (event.kind === 'CallConnected') {
        await connection.getCallMedia().startRecognizing(caller, {
          kind: 'callMediaRecognizeDtmfOptions',
          maxTonesToCollect: 1,
          playPrompt: { kind: 'textSource', text: 'Press 1 for sales or 2 for support.' },
          operationContext: 'menu',
        });
      }
      if (event.kind === 'RecognizeCompleted' && event.dtmfResult?.tones?.[0] === 'two') {
        await connection.transferCallToParticipant({ phoneNumber: '+15550100222' }, { operationContext: 'support' });
      }
    };
    app = await startTestApp({ client, jwt: acs.jwt, onEvent: menu });

    // Act
    const run = await acs.placeCall({ from: CALLER, to: SERVICE_NUMBER, steps: [{ dtmf: '2' }] }, { eventGridUrl: app.eventGridUrl });

    // Assess
    expect(run.heardText).toEqual(['Press 1 for sales or 2 for support.']);
    expect(run.said).toMatchObject([{ tones: '2', via: 'recognize' }]);
    expect(run.events.find((e) => e.type === 'RecognizeCompleted')?.event.data).toMatchObject({ recognitionType: 'dtmf', dtmfResult: { tones: ['two'] } });
    expect(run.operations).toEqual(['answerCall', 'recognize', 'transferToParticipant']);
    expect(run.eventTypes).toContain('CallTransferAccepted');
    expect(run.endedBy).toBe('transfer');
  });

  it('streams the caller to a media agent and records the greeting, the barge-in and the StopAudio that cut the reply', async () => {
    // Prepare: a streaming agent that greets, answers every transcript with 2 s of audio and stops talking when interrupted.
    mediaServer = await startMediaServer();
    const frameBytes = 960;
    const sendAudio = (connection: MediaConnection, ms: number): void => {
      for (let i = 0; i < ms / 20; i += 1) connection.socket.send(createOutboundAudioData(Buffer.alloc(frameBytes, 3).toString('base64')));
    };
    let speakingUntilMs = 0;
    let interrupted = false;
    const agent = (connection: MediaConnection): void => {
      sendAudio(connection, 1_000);
      speakingUntilMs = performance.now() + 1_000;
      connection.socket.on('message', (data) => {
        const message = JSON.parse(data.toString());
        if (message.kind === 'TranscriptionData' && !/stop/.test(message.transcriptionData.text)) {
          sendAudio(connection, 2_000);
          speakingUntilMs = performance.now() + 2_000;
          interrupted = false;
        }
        if (message.kind === 'AudioData' && !message.audioData.silent && performance.now() < speakingUntilMs && !interrupted) {
          interrupted = true;
          connection.socket.send(createOutboundStopAudioData());
        }
      });
    };
    void mediaServer.connection(0, 10_000).then(agent);
    app = await startTestApp({
      client,
      jwt: acs.jwt,
      answerOptions: () => ({
        mediaStreamingOptions: {
          transportType: 'websocket',
          transportUrl: mediaServer!.url,
          contentType: 'audio',
          audioChannelType: 'mixed',
          startMediaStreaming: true,
          enableBidirectional: true,
          audioFormat: 'pcm24KMono',
        },
      }),
    });

    // Act
    const run = await acs.placeCall(
      {
        from: CALLER,
        to: SERVICE_NUMBER,
        steps: [
          { waitFor: 'greeting' },
          { say: 'hello there', audioMs: 400 },
          { bargeInAfterMs: 300, say: 'stop please', audioMs: 400 },
          { pause: 200 },
          { hangUp: true },
        ],
      },
      { eventGridUrl: app.eventGridUrl },
    );

    // Assess
    const audio = run.heard.filter((h) => h.kind === 'audio');
    console.log(`[acs-emulator scripted caller] heard ${audio.map((a) => `${a.ms} ms${a.kind === 'audio' && a.stoppedByStopAudio ? ' (cut by StopAudio)' : ''}`).join(', ')}`);
    expect(run.media?.sampleRate).toBe(24000);
    expect(audio[0]).toMatchObject({ ms: 1_000, stoppedByStopAudio: false });
    expect(audio[1]).toMatchObject({ stoppedByStopAudio: true });
    expect(audio[1]!.ms).toBeLessThan(2_000);
    expect(run.stopAudio).toHaveLength(1);
    expect(run.stopAudio[0]!.clearedMs).toBeGreaterThan(0);
    expect(run.said.map((s) => [s.text, s.via])).toEqual([
      ['hello there', 'media'],
      ['stop please', 'media'],
    ]);
    expect(run.operations).toEqual(['answerCall']);
    expect(run.eventTypes).toEqual(['CallConnected', 'ParticipantsUpdated', 'MediaStreamingStarted', 'ParticipantsUpdated', 'MediaStreamingStopped', 'CallDisconnected']);
    expect(run.endedBy).toBe('caller');
  });

  it('keeps the call up when a transfer fails, so the app can recover and hang up itself', async () => {
    // Prepare
    const transferring = async (event: CallAutomationEvent, self: TestApp): Promise<void> => {
      const connection = self.client.getCallConnection(event.callConnectionId);
      if (event.kind === 'CallConnected') await connection.transferCallToParticipant({ phoneNumber: '+15550100222' }, { operationContext: 'to-human' });
      if (event.kind === 'CallTransferFailed') await connection.getCallMedia().playToAll([{ kind: 'textSource', text: 'Nobody is available.' }], { operationContext: 'sorry' });
      if (event.kind === 'PlayCompleted') await connection.hangUp(false);
    };
    app = await startTestApp({ client, jwt: acs.jwt, onEvent: transferring });

    // Act
    const run = await acs.placeCall({ from: CALLER, to: SERVICE_NUMBER, failTransfer: true, steps: [{ waitFor: 'greeting' }] }, { eventGridUrl: app.eventGridUrl });

    // Assess
    expect(run.eventTypes).toEqual(['CallConnected', 'ParticipantsUpdated', 'CallTransferFailed', 'PlayCompleted', 'CallDisconnected']);
    expect(run.heardText).toEqual(['Nobody is available.']);
    expect(run.endedBy).toBe('app');
  });

  it('can be driven over the control API when the emulator runs as a process', async () => {
    // Prepare
    const controlled = await startAcsEmulator({ controlApi: true, speechMsPerChar: 4 });
    const controlledClient = new CallAutomationClient(controlled.connectionString, { allowInsecureConnection: true });
    app = await startTestApp({
      client: controlledClient,
      jwt: controlled.jwt,
      onEvent: async (event, self) => {
        if (event.kind === 'CallConnected') await self.client.getCallConnection(event.callConnectionId).getCallMedia().playToAll([{ kind: 'textSource', text: 'Hello from the app.' }]);
      },
    });
    try {
      // Act
      const started = await fetch(`${controlled.endpoint}emulator/calls`, {
        method: 'POST',
        headers: { connection: 'close' },
        body: JSON.stringify({ eventGridUrl: app.eventGridUrl, from: CALLER, to: SERVICE_NUMBER, steps: [{ waitFor: 'greeting' }, { hangUp: true }] }),
      });
      const { runId } = (await started.json()) as { runId: string };
      let run: any;
      for (let i = 0; i < 200 && !run?.done; i += 1) {
        await new Promise((r) => setTimeout(r, 20));
        run = await (await fetch(`${controlled.endpoint}emulator/runs/${runId}`, { headers: { connection: 'close' } })).json();
      }

      // Assess
      expect(started.status).toBe(202);
      expect(run).toMatchObject({ done: true, recording: { heardText: ['Hello from the app.'], endedBy: 'caller', operations: ['answerCall', 'play'] } });
    } finally {
      await app.close();
      app = undefined;
      await controlled.close();
    }
  });

  it('notes a sentence nobody listened for and hangs up at the maximum duration when the app does nothing', async () => {
    // Prepare: an app that answers and then never acts.
    app = await startTestApp({ client, jwt: acs.jwt });

    // Act
    const run = await acs.placeCall(
      { from: CALLER, to: SERVICE_NUMBER, steps: [{ say: 'anyone there?', timeoutMs: 200 }] },
      { eventGridUrl: app.eventGridUrl, maxDurationMs: 600 },
    );

    // Assess
    expect(run.said).toMatchObject([{ text: 'anyone there?', via: 'unheard' }]);
    expect(run.notes).toEqual(['nobody was listening for "anyone there?" within 200 ms', 'the call hit its maximum duration; the caller hung up']);
    expect(run.endedBy).toBe('timeout');
    expect(run.eventTypes.at(-1)).toBe('CallDisconnected');
  });

  it('reports an unanswered call instead of hanging', async () => {
    // Prepare: an app that acknowledges IncomingCall but never answers.
    const ignoring = { ...client, answerCall: async () => undefined } as unknown as CallAutomationClient;
    app = await startTestApp({ client: ignoring, jwt: acs.jwt });

    // Act
    const run = await acs.placeCall({ from: CALLER, to: SERVICE_NUMBER, steps: [{ hangUp: true }] }, { eventGridUrl: app.eventGridUrl, answerTimeoutMs: 200 });

    // Assess
    expect(run.answered).toBe(false);
    expect(run.endedBy).toBe('unanswered');
    expect(run.incomingCallStatus).toBe(200);
  });
});
