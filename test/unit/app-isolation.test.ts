import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/lib/app/index.js';
import type { LifecyclePort } from '../../src/lib/calls/ports.js';
import { callControlDepsWith } from '../../src/lib/calls/wiring.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { testConfig } from '../support/env.js';

/**
 * Two apps in one process (the dev host, these tests) share nothing: the traced ACS client and agent of
 * call control, and the call handles each keeps, belong to the app that built them. The apps run on the
 * run's private Redis; ACS points at a closed port and no request is made (handles are built locally).
 */

const unusedLifecycle: LifecyclePort = {
  async start() {},
  async callDisconnected() {},
};

const apps: App[] = [];

function newApp(): App {
  const app = createApp(testConfig({ LOG_LEVEL: 'error' }), { logger: consoleLogger('error', { component: 'app-isolation-test' }) });
  apps.push(app);
  return app;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe('two apps in one process', () => {
  it('keep their own call-control clients and call handles, each built once per app', async () => {
    // Prepare
    const [one, two] = [newApp(), newApp()];
    // Act: two invocations of the first app, one of the second.
    const [first, again, other] = await Promise.all([callControlDepsWith(one, unusedLifecycle), callControlDepsWith(one, unusedLifecycle), callControlDepsWith(two, unusedLifecycle)]);
    const [acsFirst, acsAgain, acsOther, plainOne] = await Promise.all([first.acs(), again.acs(), other.acs(), one.acs()]);
    // Assess: one traced client and agent per app, reused by every invocation of it …
    expect(acsAgain).toBe(acsFirst);
    expect(again.agent).toBe(first.agent);
    expect(acsFirst.media('conn-1')).toBe(acsAgain.media('conn-1'));
    // … never the other app's …
    expect(acsOther).not.toBe(acsFirst);
    expect(other.agent).not.toBe(first.agent);
    expect(acsOther.media('conn-1')).not.toBe(acsFirst.media('conn-1'));
    expect(acsOther.connection('conn-1')).not.toBe(acsFirst.connection('conn-1'));
    // … and apart from the plain client's handles, whose requests are not traced.
    expect(plainOne.connection('conn-1')).not.toBe(acsFirst.connection('conn-1'));
    expect(plainOne.client).not.toBe(acsFirst.client);
  });
});
