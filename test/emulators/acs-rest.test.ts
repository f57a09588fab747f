import { randomBytes } from 'node:crypto';
import { CallAutomationClient, type CallAutomationEvent } from '@azure/communication-call-automation';
import { PhoneNumberIdentifier } from '@azure/communication-common';
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAcsEmulator, type AcsEmulator } from '../../emulators/acs/index.js';
import { startTestApp, type TestApp } from './acs-test-app.js';

/**
 * The Call Automation REST surface and the callback side, driven only by the real
 * `@azure/communication-call-automation` client (http endpoint: `allowInsecureConnection`).
 */

const CALLER = '+15550100123';
const SERVICE_NUMBER = '+15550100999';

describe('ACS emulator: Call Automation REST and callbacks', () => {
  let acs: AcsEmulator;
  let client: CallAutomationClient;
  let app: TestApp;

  beforeAll(async () => {
    acs = await startAcsEmulator({ speechMsPerChar: 5 });
    client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
  });
  afterEach(async () => {
    await app?.close();
  });
  afterAll(async () => {
    await acs.close();
  });

  async function ringAndAnswer(onEvent?: (e: CallAutomationEvent, a: TestApp) => void): Promise<{ callConnectionId: string; serverCallId: string }> {
    app = await startTestApp({ client, jwt: acs.jwt, onEvent });
    const incoming = await acs.eventGrid.sendIncomingCall(app.eventGridUrl, { from: CALLER, to: SERVICE_NUMBER });
    const connected = await app.waitForEvent('CallConnected');
    return { callConnectionId: connected.callConnectionId, serverCallId: incoming.serverCallId };
  }

  it('answers an incoming call, reports it connected and signs every callback with its RS256 key', async () => {
    // Prepare
    const { callConnectionId, serverCallId } = await ringAndAnswer();

    // Act
    const properties = await client.getCallConnection(callConnectionId).getCallConnectionProperties();
    await app.waitForEvent('ParticipantsUpdated');

    // Assess
    expect(properties.callConnectionState).toBe('connected');
    expect(properties.serverCallId).toBe(serverCallId);
    expect(properties.callbackUrl ?? (properties as any).callbackUri).toBe(app.callbackUrl);
    expect(app.callbacks.length).toBeGreaterThanOrEqual(2);
    for (const callback of app.callbacks) {
      expect(callback.verifyError).toBeUndefined();
      expect(callback.claims?.iss).toBe(acs.jwt.issuer);
      expect((callback.claims?.exp ?? 0) - (callback.claims?.iat ?? 0)).toBe(300);
      expect(callback.raw).toMatchObject({ specversion: '1.0', datacontenttype: 'application/json', source: `calling/callConnections/${callConnectionId}` });
      expect(callback.raw.data).toMatchObject({ callConnectionId, serverCallId, correlationId: expect.any(String), resultInformation: { code: 200 } });
    }
  });
});
