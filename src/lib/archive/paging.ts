import { InvalidArchiveInputError } from './errors.js';
import type { TranscriptTurn } from './transcript-types.js';

export interface PageLimits {
  /** @default 500 */
  readonly maxTurnsPerPage: number;
  /** Serialized turns per page; Cosmos DB's item limit is 2 MB, so this stays far below it. @default 524288 */
  readonly maxPageBytes: number;
}

export const DEFAULT_PAGE_LIMITS: PageLimits = { maxTurnsPerPage: 500, maxPageBytes: 512 * 1024 };

/** A single turn larger than this cannot be archived (about 1.5 MB of text is hours of speech in one turn). */
export const MAX_TURN_BYTES = 1536 * 1024;

export interface TurnPage {
  readonly firstTurn: number;
  readonly turns: readonly TranscriptTurn[];
}

/**
 * Splits turns into consecutive pages by count and serialized size. Deterministic: the same turns
 * always give the same pages, which is what makes page ids stable across retries.
 */
export function paginateTurns(turns: readonly TranscriptTurn[], limits: PageLimits = DEFAULT_PAGE_LIMITS): TurnPage[] {
  const pages: TurnPage[] = [];
  let current: TranscriptTurn[] = [];
  let currentBytes = 0;
  let firstTurn = 0;
  turns.forEach((turn, index) => {
    const bytes = Buffer.byteLength(JSON.stringify(turn), 'utf8') + 1;
    if (bytes > MAX_TURN_BYTES) throw new InvalidArchiveInputError('transcripts.archive', `turn ${index} is ${bytes} bytes, over ${MAX_TURN_BYTES}`);
    const full = current.length >= limits.maxTurnsPerPage || (current.length > 0 && currentBytes + bytes > limits.maxPageBytes);
    if (full) {
      pages.push({ firstTurn, turns: current });
      firstTurn = index;
      current = [];
      currentBytes = 0;
    }
    current.push(turn);
    currentBytes += bytes;
  });
  if (current.length > 0 || pages.length === 0) pages.push({ firstTurn, turns: current });
  return pages;
}
