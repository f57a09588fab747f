import { describe, expect, it } from 'vitest';
import { KeypadBuffer } from '../../src/lib/media/keypad.js';

/** Keypad tones of a media call (one DtmfData frame each) gathered into a PIN, on a clock the test moves. */
describe('keypad tones on the media path', () => {
  function keypad(interDigitMs = 5_000): { push(tone: string, atMs: number): string | undefined } {
    let now = 0;
    const buffer = new KeypadBuffer({ interDigitMs, now: () => now });
    return {
      push(tone, atMs) {
        now = atMs;
        return buffer.push(tone, 4);
      },
    };
  }

  it('completes a PIN at the agent’s digit count, then starts afresh', () => {
    const pad = keypad();
    expect(['1', '2', '3'].map((tone, i) => pad.push(tone, i * 100))).toEqual([undefined, undefined, undefined]);
    expect(pad.push('4', 300)).toBe('1234');
    expect(pad.push('5', 400)).toBeUndefined();
  });

  it('ends a shorter PIN at #, starts over at *, and ignores other keys', () => {
    const pad = keypad();
    const results = ['9', '*', '1', 'A', '2', '#'].map((tone, i) => pad.push(tone, i * 100));
    expect(results).toEqual([undefined, undefined, undefined, undefined, undefined, '12']);
    // Nothing keyed: # alone is no PIN.
    expect(pad.push('#', 700)).toBeUndefined();
    const restarted = keypad();
    for (const [i, tone] of ['9', '9', '*', '1', '2', '3'].entries()) expect(restarted.push(tone, i * 100)).toBeUndefined();
    expect(restarted.push('4', 600)).toBe('1234');
  });

  it('drops the tones before a pause longer than the inter-digit time', () => {
    const pad = keypad(5_000);
    pad.push('1', 0);
    pad.push('2', 100);
    expect(['5', '6', '7'].map((tone, i) => pad.push(tone, 5_200 + i * 100))).toEqual([undefined, undefined, undefined]);
    expect(pad.push('8', 5_500)).toBe('5678');
  });
});
