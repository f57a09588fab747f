import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

/** POST /api/incomingCall — the Event Grid webhook for ACS IncomingCall (and its handshakes). */
export async function incomingCall(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const [{ handleIncomingCall }, { callControlDeps }] = await Promise.all([import('../lib/calls/incoming-call.js'), import('../lib/calls/wiring.js')]);
  const { unlessMisconfigured } = await import('../lib/config/startup.js');
  return unlessMisconfigured(() => callControlDeps(context), (deps) => handleIncomingCall(request, deps));
}

app.http('incomingCall', {
  route: 'incomingCall',
  methods: ['POST', 'OPTIONS'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: incomingCall,
});
