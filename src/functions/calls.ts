import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

/** POST /api/calls `{ target, purpose }` — places an outbound call (function key required). */
export async function calls(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const [{ handlePlaceCall }, { callControlDeps }] = await Promise.all([import('../lib/calls/outbound-call.js'), import('../lib/calls/wiring.js')]);
  const { unlessMisconfigured } = await import('../lib/config/startup.js');
  return unlessMisconfigured(() => callControlDeps(context), (deps) => handlePlaceCall(request, deps));
}

app.http('calls', {
  route: 'calls',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: calls,
});
