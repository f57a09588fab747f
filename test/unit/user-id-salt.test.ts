import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { userIdFromPhoneNumber } from '../../src/lib/archive/index.js';
import type { LifecyclePort } from '../../src/lib/calls/ports.js';
import { callControlDepsWith } from '../../src/lib/calls/wiring.js';
import { createApp, type App } from '../../src/lib/app/index.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { testConfig } from '../support/env.js';

/**
 * Call control (IncomingCall and outbound calls) turns a caller's number into a user id through its
 * profile port; that id must be keyed with USER_ID_SALT, so it cannot be recomputed from a guessed number.
 */

const CALLER = '+15550107301';
const unusedLifecycle: LifecyclePort = {
  async start() {},
  async callDisconnected() {},
};

const runtimes: App[] = [];

async function userIdThroughCallControl(salt: string | undefined): Promise<string> {
  const config = testConfig({ USER_ID_SALT: salt, LOG_LEVEL: 'error' });
  const rt = createApp(config, { logger: consoleLogger('error', { component: 'user-id-salt-test' }) });
  runtimes.push(rt);
  const deps = await callControlDepsWith(rt, unusedLifecycle);
  return deps.profiles.userIdFor(CALLER);
}

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.close()));
});

describe('user ids of callers', () => {
  it('are keyed with the configured USER_ID_SALT on the call-control path', async () => {
    // Prepare
    const saltA = randomBytes(32).toString('base64url');
    const saltB = randomBytes(32).toString('base64url');

    // Act
    const underA = await userIdThroughCallControl(saltA);
    const underB = await userIdThroughCallControl(saltB);
    const unsalted = await userIdThroughCallControl(undefined);

    // Assess
    expect(underA).toBe(userIdFromPhoneNumber(CALLER, saltA));
    expect(underB).toBe(userIdFromPhoneNumber(CALLER, saltB));
    expect(underA).not.toBe(underB);
    expect(underA).not.toBe(unsalted);
    expect(unsalted).toBe(userIdFromPhoneNumber(CALLER));
  });
});
