/** Callback and Event Grid bodies shaped like ACS sends them (docs/wire-protocols.md, SDK 1.6.0 models). */

export const CONNECTION_ID = '421f0b00-aaaa-4bbb-8ccc-0123456789ab';
export const SERVER_CALL_ID = 'aHR0cHM6Ly9hcGkuZXhhbXBsZS9jYWxsLzE';
export const CORRELATION_ID = 'c0ffee00-1111-2222-3333-444455556666';

let sequence = 0;

export function cloudEvent(name: string, data: Record<string, unknown> = {}): Record<string, unknown> {
  sequence += 1;
  return {
    id: `evt-${sequence}`,
    source: `calling/callConnections/${CONNECTION_ID}`,
    type: `Microsoft.Communication.${name}`,
    data: {
      callConnectionId: CONNECTION_ID,
      serverCallId: SERVER_CALL_ID,
      correlationId: CORRELATION_ID,
      ...data,
    },
    time: '2026-11-25T17:00:00.000Z',
    specversion: '1.0',
    datacontenttype: 'application/json',
    subject: `calling/callConnections/${CONNECTION_ID}`,
  };
}

export const ok = { code: 200, subCode: 0, message: 'Action completed successfully.' };

export function recognizeSpeech(speech: string, operationContext = 'turn-1') {
  return cloudEvent('RecognizeCompleted', {
    operationContext,
    recognitionType: 'speech',
    speechResult: { speech, confidence: 0.92 },
    resultInformation: ok,
  });
}

export function recognizeFailed(subCode: number) {
  return cloudEvent('RecognizeFailed', {
    operationContext: 'turn-2',
    resultInformation: { code: 400, subCode, message: 'Action failed.' },
  });
}

export const CALLER = '+15550100123';
export const ACS_NUMBER = '+15550100999';

export function incomingCallEventGrid(id = 'eg-1') {
  return {
    id,
    topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/communicationServices/acs',
    subject: `/caller/4:${CALLER}/recipient/4:${ACS_NUMBER}`,
    eventType: 'Microsoft.Communication.IncomingCall',
    eventTime: '2026-11-25T17:00:00Z',
    dataVersion: '1.0',
    metadataVersion: '1',
    data: {
      to: { kind: 'phoneNumber', rawId: `4:${ACS_NUMBER}`, phoneNumber: { value: ACS_NUMBER } },
      from: { kind: 'phoneNumber', rawId: `4:${CALLER}`, phoneNumber: { value: CALLER } },
      serverCallId: SERVER_CALL_ID,
      callerDisplayName: '',
      incomingCallContext: 'eyJhbGciOiJub25lIn0.eyJjYyI6IjEifQ.',
      correlationId: CORRELATION_ID,
      customContext: { sipHeaders: {}, voipHeaders: {} },
    },
  };
}
