import { randomBytes } from 'node:crypto';
import { loadConfig, type AppConfig } from '../../src/lib/config/index.js';
import { sharedRedisEnv } from './topology.js';

/** A complete, valid local environment; tests override what they exercise. */
export function baseEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    APP_ENV: 'test',
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: '6379',
    ACS_CONNECTION_STRING: 'endpoint=http://127.0.0.1:1/;accesskey=' + Buffer.from('k'.repeat(32)).toString('base64'),
    ACS_CALLBACK_BASE_URL: 'http://127.0.0.1:7071',
    ACS_CALLBACK_SIGNING_KEY: 'x'.repeat(40),
    USER_ID_SALT: 'u'.repeat(40),
    ACS_JWT_AUDIENCE: '00000000-0000-0000-0000-000000000000',
    COSMOS_ENDPOINT: 'http://127.0.0.1:8081',
    ...overrides,
  };
}

/** Config pointing at the run's private Redis (single node or cluster, see topology.ts), with a key prefix no other test file uses. */
export function testConfig(overrides: Record<string, string | undefined> = {}): AppConfig {
  return loadConfig(
    baseEnv({
      ...sharedRedisEnv(),
      REDIS_KEY_PREFIX: uniquePrefix(),
      ...overrides,
    }),
  );
}

export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}
