import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevHost, type DevHost } from '../../emulators/devhost/index.js';
import { ConfigError, loadConfig, unresolvedReference } from '../../src/lib/config/index.js';
import { validateConfigAtStartup } from '../../src/lib/config/startup.js';
import { createLogger, type LogFields } from '../../src/lib/telemetry/logger.js';
import { baseEnv } from '../support/env.js';

/**
 * Configuration that fails where people look: unresolved Key Vault references and placeholders are
 * refused by name, cross-setting rules catch a realtime deployment without its model, and a bad
 * setting is reported at start-up (logged once) and by /api/health and the Event Grid handshake as a
 * 503 naming it — not a 500 with an empty body on the first call.
 */

function issuesOf(env: Record<string, string | undefined>): { variable: string; problem: string }[] {
  try {
    loadConfig(baseEnv(env));
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => ({ variable: i.variable, problem: i.problem }));
    throw err;
  }
  return [];
}

const KV_REF = '@Microsoft.KeyVault(SecretUri=https://kv-abc.vault.azure.net/secrets/user-id-salt)';

describe('unresolved references in settings', () => {
  it('refuses an unresolved Key Vault reference, naming the setting and not the reference', () => {
    // 86 characters: it passes the 32-character minimum of a secret, which is the danger.
    expect(KV_REF.length).toBeGreaterThan(32);
    const issues = issuesOf({ USER_ID_SALT: KV_REF, ACS_CALLBACK_SIGNING_KEY: ` ${KV_REF} ` });
    expect(issues.map((i) => i.variable).sort()).toEqual(['ACS_CALLBACK_SIGNING_KEY', 'USER_ID_SALT']);
    expect(issues[0]!.problem).toMatch(/unresolved Key Vault reference/);
    expect(JSON.stringify(issues)).not.toContain('kv-abc');
    let message = '';
    try {
      loadConfig(baseEnv({ USER_ID_SALT: KV_REF }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('USER_ID_SALT');
    expect(message).not.toContain('vault.azure.net');
  });

  it('refuses %NAME% and ${NAME} placeholders that were never substituted', () => {
    expect(issuesOf({ REDIS_HOST: '%REDIS_HOST%', COSMOS_ENDPOINT: 'https://${COSMOS_ACCOUNT}.documents.azure.com', WEBPUBSUB_HUB: '${HUB=media}' })).toEqual([
      { variable: 'REDIS_HOST', problem: 'an unsubstituted %NAME% placeholder' },
      { variable: 'COSMOS_ENDPOINT', problem: 'an unsubstituted ${NAME} placeholder' },
      { variable: 'WEBPUBSUB_HUB', problem: 'an unsubstituted ${NAME} placeholder' },
    ]);
    // Real values that merely contain the characters are fine.
    expect(unresolvedReference('50%')).toBeUndefined();
    expect(unresolvedReference('a$b{c}')).toBeUndefined();
    expect(unresolvedReference('x'.repeat(40))).toBeUndefined();
  });
});

describe('cross-setting rules', () => {
  it('needs the Azure OpenAI endpoint for realtime media, whatever AGENT_MODE says', () => {
    const media = { MEDIA_MODE: 'realtime', WEBPUBSUB_ENDPOINT: 'https://wps.webpubsub.azure.com', AGENT_MODE: 'offline' };
    expect(issuesOf(media)).toEqual([{ variable: 'AZURE_OPENAI_ENDPOINT', problem: 'missing while MEDIA_MODE=realtime' }]);
    expect(issuesOf({ ...media, AZURE_OPENAI_ENDPOINT: 'https://ai.openai.azure.com' })).toEqual([]);
  });

  it('refuses a relay with media off', () => {
    expect(issuesOf({ RELAY_ENABLED: 'true', AZURE_OPENAI_ENDPOINT: 'https://ai.openai.azure.com', WEBPUBSUB_ENDPOINT: 'https://wps.webpubsub.azure.com' })).toEqual([
      { variable: 'RELAY_ENABLED', problem: 'true while MEDIA_MODE=off (no call would ever reach the relay)' },
    ]);
  });
});

describe('validation at start-up, on the dev host', () => {
  let host: DevHost;
  const logged: { level: string; message: string; fields?: LogFields }[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    // The app reads process.env, as in Azure: REDIS_PORT=abc, everything else valid. No app is built
    // from it (a configuration that fails is not kept), so the invocations below read it afresh.
    Object.assign(process.env, baseEnv({ REDIS_PORT: 'abc' }));
    host = await startDevHost({ functionsDir: fileURLToPath(new URL('../../src/functions/', import.meta.url)), logger: createLogger(() => undefined, 'error') });
  });

  afterAll(async () => {
    await host?.close();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  afterEach(() => {
    logged.length = 0;
  });

  it('logs the invalid settings once per start, naming them', async () => {
    const logger = createLogger((level, message, fields) => logged.push({ level, message, ...(fields ? { fields } : {}) }), 'info');
    const first = await validateConfigAtStartup(() => loadConfig(process.env), logger);
    expect(first).toBeInstanceOf(ConfigError);
    expect(first?.issues.map((i) => i.variable)).toEqual(['REDIS_PORT']);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'error', fields: { settings: 'REDIS_PORT' } });
  });

  it('still serves every function, and /api/health answers 503 naming the setting', async () => {
    expect([...host.served.values()].flat().length).toBeGreaterThanOrEqual(14);
    const res = await fetch(`${host.baseUrl}/api/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'misconfigured',
      message: expect.stringMatching(/settings/),
      settings: [{ setting: 'REDIS_PORT', expects: 'a port number 1..65535' }],
    });
  });

  it('answers the Event Grid validation handshake with a 503 naming the setting, not an empty 500', async () => {
    const res = await fetch(`${host.baseUrl}/api/incomingCall?code=${host.keys.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        {
          id: '1',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          subject: '',
          data: { validationCode: 'abc' },
          eventTime: new Date().toISOString(),
          dataVersion: '1',
        },
      ]),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { settings: { setting: string }[] }).settings.map((s) => s.setting)).toEqual(['REDIS_PORT']);
  });
});

describe('the realtime deployment route', () => {
  it('defaults to a data-plane api-version, not the model version of the realtime deployment', async () => {
    const { DEFAULT_DEPLOYMENT_ROUTE_API_VERSION } = await import('../../src/lib/agent/realtime/connect.js');
    const { readFileSync } = await import('node:fs');
    const main = readFileSync(new URL('../../infra/main.bicep', import.meta.url), 'utf8');
    const modelVersions = [...main.matchAll(/version: '(\d{4}-\d{2}-\d{2})'/g)].map((m) => m[1]);
    expect(modelVersions).toContain('2025-08-28');
    // Learn documents `/openai/realtime` with a preview api-version only (GA is /openai/v1/realtime).
    expect(DEFAULT_DEPLOYMENT_ROUTE_API_VERSION).toBe('2025-04-01-preview');
    expect(modelVersions).not.toContain(DEFAULT_DEPLOYMENT_ROUTE_API_VERSION);
  });
});
