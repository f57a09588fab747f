import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { currentApp } from '../lib/app/current.js';

/**
 * POST /api/callEvents — ACS Call Automation callbacks. Anonymous at the host: every request is
 * authenticated by the ACS-signed JWT and/or the per-call signature in the URL.
 */
export async function callEvents(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onCallEvents } = await import('../lib/app/functions.js');
  return onCallEvents(currentApp, request, context);
}

app.http('callEvents', {
  route: 'callEvents',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: callEvents,
});
