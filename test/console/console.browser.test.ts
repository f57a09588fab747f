import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeConsoleDemoCall, startConsoleStack } from '../../emulators/demo-console.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';

/**
 * The operations console in a real browser (Debian's chromium, driven by playwright-core) against the
 * offline stack on the media path: a live call appears, its transcript grows as it is pushed through
 * the Web PubSub emulator, and the call ends. `.ci/run` installs chromium when it is missing.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let stack: OfflineStack;
let consoleUrl: string;
let browser: BrowserContext;
let page: Page;
let profileDir: string;

beforeAll(async () => {
  ({ stack, consoleUrl } = await startConsoleStack());
  profileDir = mkdtempSync(join(tmpdir(), 'rtvoice-chromium-'));
  // A new empty profile (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

describe('operations console', () => {
  it('shows a live call, its transcript growing, and the call ending', async () => {
    // Prepare: the console is open and listening before the call comes in.
    await page.goto(consoleUrl);
    await page.getByTestId('status').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 });
    await expect.poll(() => page.getByTestId('baselines').locator('tr').count()).toBe(4);

    // Act: a caller phones in.
    const call = placeConsoleDemoCall(stack, '+15550100123');

    // Assess: the call appears with its state, agent, shard and (once claimed) relay.
    const row = page.locator('[data-testid="call-row"]').first();
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 15_000 }).not.toBe('ended');
    const callId = await row.getAttribute('data-call-id');
    expect(callId).toMatch(/^in-/);
    await expect.poll(async () => (await row.locator('td').allTextContents())[5], { timeout: 15_000 }).toMatch(/\S/);
    const cells = await row.locator('td').allTextContents();
    expect(cells[2]).toBe('realtime voice agent');
    expect(cells[4]).toMatch(/^slot \d+/);
    expect(cells[6]).toBe('+1•••••••123');

    // Selecting it shows its transcript, which grows as the turns are pushed.
    await row.click();
    expect(await page.getByTestId('selected-call').textContent()).toBe(callId);
    const turns = page.getByTestId('transcript').locator('[data-testid="turn"]');
    await expect.poll(() => turns.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    const early = await turns.count();
    await expect.poll(() => turns.count(), { timeout: 30_000 }).toBeGreaterThan(early);
    expect(await page.getByTestId('transcript').locator('[data-role="user"]').count()).toBeGreaterThan(0);

    // The call ends: the row says so.
    await call;
    await expect.poll(() => page.locator(`[data-call-id="${callId}"]`).getAttribute('data-state'), { timeout: 20_000 }).toBe('ended');
    const transcript = (await page.getByTestId('transcript').textContent()) ?? '';
    expect(transcript).toContain('goodbye');
    // No raw number anywhere on the page.
    expect(await page.content()).not.toMatch(/5550100\d{3}/);
    // The per-stage histograms show the relay's time to first audio.
    await expect.poll(async () => (await page.getByTestId('histograms').textContent()) ?? '', { timeout: 10_000 }).toContain('first_audio');
  }, 90_000);
});
