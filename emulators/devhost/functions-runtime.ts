import functions from '@azure/functions';

/**
 * The classes of `@azure/functions` the host constructs. The package is CommonJS and Node's ESM loader
 * does not detect these as named exports (vitest does), so they are taken from the module object — the
 * same instances durable-functions gets through `require`, so `instanceof HttpResponse` holds.
 */
export const { HttpRequest, HttpResponse, InvocationContext } = functions;
