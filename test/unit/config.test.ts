import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SETTING_NAMES } from '../../src/lib/config/index.js';
import { baseEnv } from '../support/env.js';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('applies the local defaults where a safe one exists', () => {
    const config = loadConfig(baseEnv({ APP_ENV: undefined }));
    expect(config.env).toBe('dev');
    expect(config.keyPrefix).toBe('rtvoice');
    expect(config.redis).toMatchObject({ host: '127.0.0.1', port: 6379, tls: false, cluster: false, auth: 'none' });
    expect(config.redis.commandTimeoutMs).toBeLessThanOrEqual(500);
    expect(config.webPubSub.hub).toBe('media');
    expect(config.cosmos.database).toBe('rtvoice');
  });

  it('names every malformed variable in one error, with what it expects', () => {
    const err = configError(
      baseEnv({ APP_ENV: 'production', REDIS_PORT: 'sixty', REDIS_TLS: 'maybe', MAX_CALL_DURATION_SECONDS: '5', COSMOS_ENDPOINT: 'not a url' }),
    );
    const named = err.issues.map((i) => i.variable).sort();
    expect(named).toEqual(['APP_ENV', 'COSMOS_ENDPOINT', 'MAX_CALL_DURATION_SECONDS', 'REDIS_PORT', 'REDIS_TLS']);
    expect(err.message).toContain('APP_ENV: got "production"; expected one of dev, test, staging, prod');
    expect(err.message).toContain('REDIS_PORT: got "sixty"; expected a port number 1..65535');
    expect(err.message).toContain('MAX_CALL_DURATION_SECONDS: got 5, outside 60..14400');
  });

  it('names every missing required variable at once, parse and cross-field problems together', () => {
    const err = configError({ REDIS_PORT: '0' });
    const named = err.issues.map((i) => i.variable).sort();
    expect(named).toEqual(['ACS_CALLBACK_BASE_URL', 'ACS_CALLBACK_SIGNING_KEY', 'ACS_ENDPOINT', 'ACS_JWT_AUDIENCE', 'COSMOS_ENDPOINT', 'REDIS_PORT']);
  });

  it('requires the key when Redis auth is by key, and TLS with Entra ID', () => {
    expect(configError(baseEnv({ REDIS_AUTH: 'key' })).issues.map((i) => i.variable)).toEqual(['REDIS_PASSWORD']);
    expect(configError(baseEnv({ REDIS_AUTH: 'entra' })).issues.map((i) => i.variable)).toEqual(['REDIS_TLS']);
    expect(loadConfig(baseEnv({ REDIS_AUTH: 'key', REDIS_PASSWORD: 'p' })).redis.password).toBe('p');
  });

  it('never allows callbacks without authentication', () => {
    const err = configError(baseEnv({ ACS_CALLBACK_AUTH: 'none' }));
    expect(err.issues.map((i) => i.variable)).toEqual(['ACS_CALLBACK_AUTH']);
    const short = configError(baseEnv({ ACS_CALLBACK_AUTH: 'signature', ACS_CALLBACK_SIGNING_KEY: 'short' }));
    expect(short.issues).toEqual([expect.objectContaining({ variable: 'ACS_CALLBACK_SIGNING_KEY', problem: 'shorter than 32 characters' })]);
  });

  it('refuses keys in prod, where managed identity is the only way in', () => {
    const err = configError(baseEnv({ APP_ENV: 'prod', REDIS_AUTH: 'key', REDIS_PASSWORD: 'p', REDIS_TLS: 'true', COSMOS_KEY: 'k' }));
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['ACS_CONNECTION_STRING', 'COSMOS_KEY', 'REDIS_PASSWORD']);
  });

  it('keys user ids with a USER_ID_SALT of at least 32 characters, never echoed, and required in prod', () => {
    // Prepare
    const shortSalt = 'too-short-salt-0123456789';
    const salt = 's'.repeat(32);
    const prod = (overrides: Record<string, string | undefined>) =>
      baseEnv({ APP_ENV: 'prod', REDIS_AUTH: 'entra', REDIS_TLS: 'true', ACS_CONNECTION_STRING: undefined, ACS_ENDPOINT: 'https://acs.example.net', ...overrides });

    // Act
    const short = configError(baseEnv({ USER_ID_SALT: shortSalt }));
    const missingInProd = configError(prod({ USER_ID_SALT: undefined }));
    const unsetInDev = loadConfig(baseEnv({ USER_ID_SALT: undefined }));
    const set = loadConfig(prod({ USER_ID_SALT: ` ${salt} ` }));

    // Assess
    expect(short.issues).toEqual([expect.objectContaining({ variable: 'USER_ID_SALT', problem: 'shorter than 32 characters' })]);
    expect(short.message).not.toContain(shortSalt);
    expect(missingInProd.issues).toEqual([expect.objectContaining({ variable: 'USER_ID_SALT', problem: 'missing while APP_ENV=prod' })]);
    expect(unsetInDev.archive.userIdSalt).toBeUndefined();
    expect(set.archive.userIdSalt).toBe(salt);
  });

  it('does not echo a malformed phone number into the error', () => {
    const err = configError(baseEnv({ TRANSFER_TARGET_NUMBER: '555-0100-secret' }));
    expect(err.message).not.toContain('555-0100');
    expect(err.issues[0]).toMatchObject({ variable: 'TRANSFER_TARGET_NUMBER', problem: 'not an E.164 number' });
  });

  it('lists every setting in local.settings.sample.json', async () => {
    const sample = (await import('../../local.settings.sample.json', { with: { type: 'json' } })).default as {
      Values: Record<string, string>;
    };
    const appSettings = Object.keys(sample.Values).filter((k) => !['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage', 'DURABLE_TASK_HUB', 'AzureWebJobsFeatureFlags'].includes(k));
    expect(appSettings.sort()).toEqual([...SETTING_NAMES].sort());
  });
});
