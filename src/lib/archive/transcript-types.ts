/** What a call's transcript looks like when the lifecycle hands it to the archive. */

export type TurnRole = 'user' | 'assistant' | 'system' | 'tool' | (string & {});
export type CallOutcome = 'completed' | 'transferred' | 'abandoned' | 'failed' | 'timed_out' | (string & {});

export interface TranscriptTurn {
  readonly id: string;
  readonly role: TurnRole;
  readonly content: string;
  /** ISO timestamp of the turn. */
  readonly at: string;
  readonly meta?: Readonly<Record<string, unknown>>;
}

export interface Transcript {
  readonly callId: string;
  /** Already-hashed user id (see `userIdFromPhoneNumber`) or a masked number; never a raw number. */
  readonly caller: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly outcome: CallOutcome;
  readonly summary?: string;
  readonly turns: readonly TranscriptTurn[];
}

export const TRANSCRIPT_SCHEMA_VERSION = 1;

/** The header document `<callId>:header`; written last, so its presence means every page is there. */
export interface TranscriptHeaderDocument {
  readonly id: string;
  readonly type: 'transcript-header';
  readonly schemaVersion: number;
  readonly callId: string;
  readonly caller: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly outcome: CallOutcome;
  readonly summary?: string;
  readonly turnCount: number;
  readonly pageCount: number;
  /** sha256 of the archived content; every page carries the same value. */
  readonly contentHash: string;
  readonly archivedAt: string;
}

/** One page `<callId>:page:<n>`: consecutive turns, well under the 2 MB item limit. */
export interface TranscriptPageDocument {
  readonly id: string;
  readonly type: 'transcript-page';
  readonly callId: string;
  readonly page: number;
  /** Index of this page's first turn in the whole conversation. */
  readonly firstTurn: number;
  readonly contentHash: string;
  readonly turns: readonly TranscriptTurn[];
}

export type TranscriptHeader = Omit<TranscriptHeaderDocument, 'id' | 'type'>;

export interface ArchivedTranscript {
  readonly header: TranscriptHeader;
  readonly turns: readonly TranscriptTurn[];
}

export interface ArchiveTranscriptResult {
  readonly callId: string;
  /** False when an identical copy was already archived and nothing was written. */
  readonly written: boolean;
  readonly pageCount: number;
  readonly turnCount: number;
  /** Request units charged for the whole operation, as reported by the server. */
  readonly requestCharge: number;
}

export const headerId = (callId: string): string => `${callId}:header`;
export const pageId = (callId: string, page: number): string => `${callId}:page:${page}`;
