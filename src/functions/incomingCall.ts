import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { currentApp } from '../lib/app/current.js';

/** POST /api/incomingCall — the Event Grid webhook for ACS IncomingCall (and its handshakes). */
export async function incomingCall(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onIncomingCall } = await import('../lib/app/functions.js');
  return onIncomingCall(currentApp, request, context);
}

app.http('incomingCall', {
  route: 'incomingCall',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: incomingCall,
});
