/**
 * Keypad tones of a media call (ACS's DtmfData frames, one tone each) gathered into a PIN. A PIN is
 * complete at the agent's digit count or at `#`; `*` starts over; a pause longer than `interDigitMs`
 * drops the tones before it (a half-typed PIN is not completed by a later, unrelated key). The
 * digits live only here, until they are handed on: never logged, never in the transcript.
 */

export class KeypadBuffer {
  private digits = '';
  private lastToneAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: { readonly interDigitMs: number; readonly now: () => number }) {}

  /** One tone; returns the PIN when this tone completes one of `pinDigits` digits. */
  push(tone: string, pinDigits: number): string | undefined {
    const now = this.options.now();
    if (now - this.lastToneAtMs > this.options.interDigitMs) this.digits = '';
    this.lastToneAtMs = now;
    if (tone === '*') {
      this.digits = '';
      return undefined;
    }
    if (tone === '#') return this.take();
    if (!/^[0-9]$/.test(tone)) return undefined;
    this.digits += tone;
    return this.digits.length >= pinDigits ? this.take() : undefined;
  }

  private take(): string | undefined {
    const pin = this.digits;
    this.digits = '';
    return pin === '' ? undefined : pin;
  }
}

/** A pause between two tones longer than this drops the tones before it. */
export const KEYPAD_INTER_DIGIT_MS = 5_000;
