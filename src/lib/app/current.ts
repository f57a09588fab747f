import { AsyncLocalStorage } from 'node:async_hooks';
import { onceSucceeded } from '../once.js';
import type { App } from './index.js';

/**
 * Which app an invocation uses. In Azure a process hosts one app: it is built on first use from the
 * process's settings and kept for the life of the process (settings change only with a restart). A host
 * that runs several apps in one process — the offline stack's dev host, tests — runs each invocation in
 * the scope of its own app with {@link runWithApp}; nothing is set or reset process-wide, so two such
 * apps never see each other.
 *
 * Only `AsyncLocalStorage`, the dependency-free `once.js` and types are imported here: a function
 * module imports this at cold start, and the app, its config and its SDKs load on the first invocation.
 */
const scoped = new AsyncLocalStorage<App>();

/** Runs `invoke` (and everything it starts) with `app` as the current app. */
export function runWithApp<T>(app: App, invoke: () => T): T {
  return scoped.run(app, invoke);
}

/**
 * The app of the current invocation: the scope's, else the process's, built once from `process.env`.
 * Rejects with the `ConfigError` naming every offending setting while the configuration is invalid
 * (and tries again on the next invocation).
 */
export function currentApp(): Promise<App> {
  const inScope = scoped.getStore();
  return inScope ? Promise.resolve(inScope) : processApp();
}

const processApp = onceSucceeded(async () => {
  const [{ createApp }, { loadConfig }] = await Promise.all([import('./index.js'), import('../config/index.js')]);
  return createApp(loadConfig(process.env));
});
