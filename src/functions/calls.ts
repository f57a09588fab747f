import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { handlePlaceCall } from '../lib/calls/outbound-call.js';
import { callControlDeps } from '../lib/calls/wiring.js';

/** POST /api/calls `{ target, purpose }` — places an outbound call (function key required). */
export async function calls(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handlePlaceCall(request, await callControlDeps(context));
}

app.http('calls', {
  route: 'calls',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: calls,
});
