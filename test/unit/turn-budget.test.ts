import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TurnBudget, TurnBudgetExceededError, withinBudget } from '../../src/lib/calls/turn-budget.js';
import { classify } from '../../src/lib/errors.js';

/** A server that accepts requests and never answers: the stalled dependency. */
let stalled: Server;
let stalledUrl: string;

beforeAll(async () => {
  stalled = createServer(() => undefined);
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  stalledUrl = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  stalled.closeAllConnections();
  await new Promise<void>((resolve) => stalled.close(() => resolve()));
});

describe('the turn budget', () => {
  it('gives up on work that takes longer than the budget, as a timeout a redelivery may beat', async () => {
    const budget = new TurnBudget(100);
    const started = performance.now();
    const failure = await withinBudget(budget.answer, 'profiles.lookup', budget.budgetMs, () => sleep(2_000)).catch((error: unknown) => error);
    const tookMs = performance.now() - started;
    expect(failure).toBeInstanceOf(TurnBudgetExceededError);
    expect(failure).toMatchObject({ operation: 'profiles.lookup', code: 'turn_budget_exceeded', retryable: true, context: { operation: 'profiles.lookup', budgetMs: 100 } });
    expect(classify(failure)).toBe('retry');
    expect(budget.expired).toBe(true);
    expect(tookMs).toBeGreaterThanOrEqual(95);
    expect(tookMs).toBeLessThan(1_000);
  });

  it('reports an I/O aborted by the budget as the budget running out, not as an abort', async () => {
    const budget = new TurnBudget(100);
    const failure = await withinBudget(budget.answer, 'acs.listen', budget.budgetMs, () => fetch(stalledUrl, { signal: budget.answer })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TurnBudgetExceededError);
    expect(classify(failure)).toBe('retry');
  });

  it('counts from the turn start even when the signal is first asked for later, and passes on what finishes in time', async () => {
    const budget = new TurnBudget(150);
    expect(budget.expired).toBe(false);
    await sleep(100);
    await expect(withinBudget(budget.answer, 'conversation.load', budget.budgetMs, async () => 'loaded')).resolves.toBe('loaded');
    const late = await withinBudget(budget.answer, 'agent.respond', budget.budgetMs, () => sleep(500)).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(TurnBudgetExceededError);
    // A follow-up budget is fresh: the write after an apology still gets its whole budget.
    await expect(withinBudget(budget.followUp(), 'conversation.flush', budget.budgetMs, () => sleep(50).then(() => 'flushed'))).resolves.toBe('flushed');
  });
});
