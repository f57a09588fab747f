import { describe, expect, it } from 'vitest';
import { once, onceSucceeded } from '../../src/lib/once.js';

describe('once', () => {
  it('computes on the first call only, and keeps an undefined value as a value', () => {
    // Prepare
    let calls = 0;
    const value = once(() => {
      calls += 1;
      return undefined;
    });

    // Act
    const results = [value(), value(), value()];

    // Assess
    expect(results).toEqual([undefined, undefined, undefined]);
    expect(calls).toBe(1);
  });

  it('does not start before the first call, and computes again after a call that threw', () => {
    // Prepare
    let calls = 0;
    const value = once(() => {
      calls += 1;
      if (calls === 1) throw new Error('not yet');
      return calls;
    });
    expect(calls).toBe(0);

    // Act
    const first = (() => {
      try {
        return value();
      } catch (error) {
        return error;
      }
    })();

    // Assess
    expect(first).toEqual(new Error('not yet'));
    expect([value(), value()]).toEqual([2, 2]);
    expect(calls).toBe(2);
  });
});

describe('onceSucceeded', () => {
  it('shares one creation among concurrent callers and keeps its value', async () => {
    // Prepare
    let calls = 0;
    const value = onceSucceeded(async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { instance: calls };
    });

    // Act
    const [a, b] = await Promise.all([value(), value()]);
    const later = await value();

    // Assess
    expect(a).toBe(b);
    expect(later).toBe(a);
    expect(calls).toBe(1);
  });

  it('gives every waiting caller the rejection, keeps none of it, and starts again on the next call', async () => {
    // Prepare
    let calls = 0;
    const value = onceSucceeded(async () => {
      calls += 1;
      if (calls === 1) throw new Error('config invalid');
      return calls;
    });

    // Act
    const failed = await Promise.allSettled([value(), value()]);
    const retried = await value();

    // Assess
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(retried).toBe(2);
    expect(await value()).toBe(2);
    expect(calls).toBe(2);
  });
});
