import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { handleCallEvents } from '../lib/calls/call-events.js';
import { callControlDeps } from '../lib/calls/wiring.js';

/**
 * POST /api/callEvents — ACS Call Automation callbacks. Anonymous at the host: every request is
 * authenticated by the ACS-signed JWT and/or the per-call signature in the URL.
 */
export async function callEvents(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleCallEvents(request, await callControlDeps(context));
}

app.http('callEvents', {
  route: 'callEvents',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: callEvents,
});
