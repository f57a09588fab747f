import type { HttpResponseInit } from '@azure/functions';
import { consoleLogger, type Logger } from '../telemetry/logger.js';
import type { AppConfig } from './index.js';
import { ConfigError, type ConfigIssue } from './index.js';

/**
 * Configuration checked where people look: once when the app starts (`app.hook.appStart`), logged once
 * as an error naming every offending setting, and reported by `/api/health` and the HTTP functions as a
 * 503 naming the settings (never their values) instead of a 500 with an empty body on the first call.
 *
 * The hook does not throw: the Node.js worker fails its initialisation when an appStart hook throws
 * (azure-functions-nodejs-worker src/startApp.ts awaits `executeHooks('appStart')`), and a worker that
 * never starts can explain nothing. No function works meanwhile: each reads the configuration first and
 * is refused with the same error, so no invalid or unresolved value (a Key Vault reference) is used.
 */

/** `load` is the configuration as the functions will read it (the app's, usually); the hook runs once per app. */
export async function validateConfigAtStartup(
  load: () => AppConfig | Promise<AppConfig>,
  logger: Logger = consoleLogger('info', { component: 'config' }),
): Promise<ConfigError | undefined> {
  try {
    await load();
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.error('configuration is invalid: every function refuses work until these settings are fixed', {
      settings: err.issues.map((i) => i.variable).join(', '),
      issues: err.issues.map((i) => `${i.variable}: ${i.problem}; expected ${i.expects}`),
    });
    return err;
  }
}

export interface MisconfiguredBody {
  readonly status: 'misconfigured';
  readonly message: string;
  /** Names and what each expects; the problem texts stay in the log, since they may quote a value. */
  readonly settings: readonly { readonly setting: ConfigIssue['variable']; readonly expects: string }[];
}

export function misconfiguredBody(error: ConfigError): MisconfiguredBody {
  return {
    status: 'misconfigured',
    message: 'The app settings are invalid; fix the settings listed and restart the app.',
    settings: error.issues.map((i) => ({ setting: i.variable, expects: i.expects })),
  };
}

/** Runs `deps` (which reads the configuration) and `use`; a configuration error becomes a 503 naming the settings. */
export async function unlessMisconfigured<T>(deps: () => Promise<T>, use: (value: T) => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  let value: T;
  try {
    value = await deps();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { status: 503, jsonBody: misconfiguredBody(err), headers: { 'cache-control': 'no-store' } };
  }
  return use(value);
}
