import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { handleIncomingCall } from '../lib/calls/incoming-call.js';
import { callControlDeps } from '../lib/calls/wiring.js';

/** POST /api/incomingCall — the Event Grid webhook for ACS IncomingCall (and its handshakes). */
export async function incomingCall(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleIncomingCall(request, await callControlDeps(context));
}

app.http('incomingCall', {
  route: 'incomingCall',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: incomingCall,
});
