import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { currentApp } from '../lib/app/current.js';

/** POST /api/calls `{ target, purpose }` — places an outbound call (function key required). */
export async function calls(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onPlaceCall } = await import('../lib/app/functions.js');
  return onPlaceCall(currentApp, request, context);
}

app.http('calls', {
  route: 'calls',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: calls,
});
