import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { currentApp } from '../lib/app/current.js';

/**
 * GET /api/console[/snapshot|/negotiate|/transcript] — the read-only operations console (function key;
 * the page passes the `code` it was opened with on to its own requests).
 */
export async function opsConsole(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onConsole } = await import('../lib/app/functions.js');
  return onConsole(currentApp, request);
}

app.http('console', {
  route: 'console/{view?}',
  methods: ['GET'],
  authLevel: 'function',
  handler: opsConsole,
});
