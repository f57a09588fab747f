/**
 * Speech-like PCM made offline: noise shaped by a syllable envelope (~4–5 syllables per second,
 * short gaps between words) and a gentle low-pass, so energy-based voice-activity detectors see
 * one utterance of the requested length. Deterministic for a given seed.
 */

export const FRAME_MS = 20;

export function bytesPerFrame(sampleRate: number): number {
  return (sampleRate / 1000) * FRAME_MS * 2;
}

export function bytesToMs(bytes: number, sampleRate: number): number {
  return (bytes / 2 / sampleRate) * 1000;
}

export function msToBytes(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000) * 2;
}

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** PCM16 LE mono speech-like audio of `durationMs` (rounded to whole 20 ms frames). */
export function speechLikePcm(durationMs: number, sampleRate: number, seed = 1): Buffer {
  const frames = Math.max(1, Math.round(durationMs / FRAME_MS));
  const samples = (frames * FRAME_MS * sampleRate) / 1000;
  const out = Buffer.alloc(samples * 2);
  const random = prng(seed);
  const syllableHz = 4 + random();
  const alpha = 0.35; // one-pole low-pass: keeps the hiss out, like a telephone band voice
  let filtered = 0;
  for (let i = 0; i < samples; i += 1) {
    const t = i / sampleRate;
    // Syllables dip but never go quiet; word gaps stay under ~150 ms, so an energy VAD with a
    // 200–500 ms silence window hears one utterance, not several.
    const syllable = 0.35 + 0.65 * Math.max(0, Math.sin(2 * Math.PI * syllableHz * t));
    const wordGap = Math.sin(2 * Math.PI * 0.7 * t) > -0.95 ? 1 : 0.05;
    const fade = Math.min(1, t / 0.03, (samples - i) / sampleRate / 0.03);
    filtered += alpha * (random() * 2 - 1 - filtered);
    const value = filtered * syllable * wordGap * fade * 0.6 * 32767;
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(value))), i * 2);
  }
  return out;
}

/** How long a caller takes to say `text` when no duration is given (about 2.5 words per second). */
export function speechDurationMs(text: string): number {
  const words = text.trim().split(/\s+/).filter(Boolean).length;
  return Math.max(400, words * 400);
}

/** Root-mean-square level of PCM16 LE, 0…1; used to tell speech from silence in tests. */
export function rmsLevel(pcm: Buffer): number {
  const count = Math.floor(pcm.length / 2);
  if (count === 0) return 0;
  let sum = 0;
  for (let i = 0; i < count; i += 1) {
    const s = pcm.readInt16LE(i * 2) / 32768;
    sum += s * s;
  }
  return Math.sqrt(sum / count);
}
