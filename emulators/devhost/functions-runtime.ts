import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Functions from '@azure/functions';

/**
 * Resolves the app's own packages for the host: from the deployment folder named by RTVOICE_APP_DIR
 * (the extracted package, with its production node_modules), else from this repository. The worker
 * uses the app's copy of `@azure/functions`; two copies in one process would break `instanceof`.
 */
export const appRequire = createRequire(process.env.RTVOICE_APP_DIR ? join(process.env.RTVOICE_APP_DIR, 'package.json') : import.meta.url);

/**
 * The classes of `@azure/functions` the host constructs. The package is CommonJS and Node's ESM loader
 * does not detect these as named exports (vitest does), so they are taken from the module object — the
 * same instances durable-functions gets through `require`, so `instanceof HttpResponse` holds.
 */
const functions = appRequire('@azure/functions') as typeof Functions;
export const { HttpRequest, HttpResponse, InvocationContext } = functions;
