import type { Container } from '@azure/cosmos';
import { InvalidArchiveInputError, TranscriptIntegrityError } from './errors.js';
import { assertArchiveId, assertIsoTimestamp, looksLikeRawPhoneNumber, sha256Hex } from './ids.js';
import { DEFAULT_PAGE_LIMITS, paginateTurns, type PageLimits } from './paging.js';
import { ChargeMeter, ContainerOps, withoutSystemFields, type CallOptions, type RepositoryOptions } from './repository-support.js';
import { mapWithConcurrency } from './retry.js';
import {
  TRANSCRIPT_SCHEMA_VERSION,
  headerId,
  pageId,
  type ArchiveTranscriptResult,
  type ArchivedTranscript,
  type Transcript,
  type TranscriptHeaderDocument,
  type TranscriptPageDocument,
} from './transcript-types.js';

export interface TranscriptRepositoryOptions extends RepositoryOptions {
  readonly pageLimits?: PageLimits;
  /** Page writes and reads in flight at once. @default 4 */
  readonly concurrency?: number;
}

/**
 * Transcripts in container `transcripts` (partition key `/callId`): pages `<callId>:page:<n>` and a
 * header `<callId>:header`.
 *
 * Exactly-once without transactions: every write is an upsert on a deterministic id, pages go first and
 * the header last, so a header means a complete transcript and a failure part-way leaves only pages
 * that the next attempt overwrites. (Cosmos DB's transactional batch would make this atomic, but the
 * embedded server used offline does not honour atomicity, and a batch is capped at 2 MB; this ordering
 * needs neither.)
 */
export class TranscriptRepository {
  private readonly ops: ContainerOps;
  private readonly limits: PageLimits;
  private readonly concurrency: number;

  constructor(container: Container, options: TranscriptRepositoryOptions) {
    this.ops = new ContainerOps(container, options);
    this.limits = options.pageLimits ?? DEFAULT_PAGE_LIMITS;
    this.concurrency = options.concurrency ?? 4;
  }

  /** Archives a call's transcript. Idempotent: archiving the same content again writes nothing. */
  async archive(transcript: Transcript, options: CallOptions = {}): Promise<ArchiveTranscriptResult> {
    validateTranscript(transcript);
    const { callId } = transcript;
    const { signal } = options;
    const meter = new ChargeMeter();
    const contentHash = hashContent(transcript);
    const pages = paginateTurns(transcript.turns, this.limits);

    const existing = await this.ops.read<TranscriptHeaderDocument>('transcripts.readHeader', headerId(callId), callId, meter, signal);
    if (existing?.contentHash === contentHash) {
      return { callId, written: false, pageCount: existing.pageCount, turnCount: existing.turnCount, requestCharge: meter.total };
    }

    await mapWithConcurrency(pages, this.concurrency, (page, index) => {
      const doc: TranscriptPageDocument = { id: pageId(callId, index), type: 'transcript-page', callId, page: index, firstTurn: page.firstTurn, contentHash, turns: page.turns };
      return this.ops.upsert('transcripts.upsertPage', doc, meter, signal);
    });

    const header: TranscriptHeaderDocument = {
      id: headerId(callId),
      type: 'transcript-header',
      schemaVersion: TRANSCRIPT_SCHEMA_VERSION,
      callId,
      caller: transcript.caller,
      startedAt: transcript.startedAt,
      endedAt: transcript.endedAt,
      durationMs: Math.max(0, Date.parse(transcript.endedAt) - Date.parse(transcript.startedAt)),
      outcome: transcript.outcome,
      ...(transcript.summary === undefined ? {} : { summary: transcript.summary }),
      turnCount: transcript.turns.length,
      pageCount: pages.length,
      contentHash,
      archivedAt: new Date().toISOString(),
    };
    await this.ops.upsert('transcripts.upsertHeader', header, meter, signal);

    // A previous, longer version of this call left pages past the new end; readers ignore them
    // (they follow the header's pageCount), so removing them is tidying, not correctness.
    if (existing && existing.pageCount > pages.length) {
      const stale = Array.from({ length: existing.pageCount - pages.length }, (_, i) => pages.length + i);
      await mapWithConcurrency(stale, this.concurrency, (page) => this.ops.remove('transcripts.removeStalePage', pageId(callId, page), callId, meter, signal));
    }
    return { callId, written: true, pageCount: pages.length, turnCount: transcript.turns.length, requestCharge: meter.total };
  }

  /**
   * The archived transcript with its turns in order, or undefined when the call was never archived
   * completely (no header). Throws {@link TranscriptIntegrityError} when pages and header disagree.
   */
  async read(callId: string, options: CallOptions = {}): Promise<ArchivedTranscript | undefined> {
    assertArchiveId('transcripts.read', 'callId', callId);
    const { signal } = options;
    const meter = new ChargeMeter();
    const header = await this.ops.read<TranscriptHeaderDocument>('transcripts.readHeader', headerId(callId), callId, meter, signal);
    if (!header) return undefined;
    const pageNumbers = Array.from({ length: header.pageCount }, (_, i) => i);
    const pages = await mapWithConcurrency(pageNumbers, this.concurrency, (page) =>
      this.ops.read<TranscriptPageDocument>('transcripts.readPage', pageId(callId, page), callId, meter, signal),
    );
    const turns = pages.flatMap((page, index) => {
      if (!page) throw new TranscriptIntegrityError(callId, `page ${index} of ${header.pageCount} is missing`);
      if (page.contentHash !== header.contentHash) throw new TranscriptIntegrityError(callId, `page ${index} belongs to another version`);
      return page.turns;
    });
    if (turns.length !== header.turnCount) throw new TranscriptIntegrityError(callId, `${turns.length} turns found, header says ${header.turnCount}`);
    const { id: _id, type: _type, ...rest } = withoutSystemFields(header);
    return { header: rest, turns };
  }

  /** Deletes a call's transcript (data-deletion requests): header first, so a half-done delete reads as absent. */
  async remove(callId: string, options: CallOptions = {}): Promise<{ deleted: boolean; requestCharge: number }> {
    assertArchiveId('transcripts.remove', 'callId', callId);
    const { signal } = options;
    const meter = new ChargeMeter();
    const header = await this.ops.read<TranscriptHeaderDocument>('transcripts.readHeader', headerId(callId), callId, meter, signal);
    const pageIds = await this.ops.query<{ id: string }>(
      'transcripts.listPages',
      'SELECT c.id FROM c WHERE c.callId = @callId AND c.type = @type',
      [
        { name: '@callId', value: callId },
        { name: '@type', value: 'transcript-page' },
      ],
      callId,
      meter,
      signal,
    );
    if (header) await this.ops.remove('transcripts.removeHeader', headerId(callId), callId, meter, signal);
    await mapWithConcurrency(pageIds, this.concurrency, ({ id }) => this.ops.remove('transcripts.removePage', id, callId, meter, signal));
    return { deleted: header !== undefined || pageIds.length > 0, requestCharge: meter.total };
  }
}

function hashContent(t: Transcript): string {
  return sha256Hex(JSON.stringify([t.callId, t.caller, t.startedAt, t.endedAt, t.outcome, t.summary ?? null, t.turns]));
}

function validateTranscript(t: Transcript): void {
  const op = 'transcripts.archive';
  if (t === null || typeof t !== 'object') throw new InvalidArchiveInputError(op, 'transcript is not an object');
  assertArchiveId(op, 'callId', t.callId);
  if (typeof t.caller !== 'string' || t.caller.length === 0) throw new InvalidArchiveInputError(op, 'caller is empty');
  // The archive is permanent: a raw number here would outlive every retention policy.
  if (looksLikeRawPhoneNumber(t.caller)) throw new InvalidArchiveInputError(op, 'caller looks like a raw phone number; pass userIdFromPhoneNumber() or a masked number');
  assertIsoTimestamp(op, 'startedAt', t.startedAt);
  assertIsoTimestamp(op, 'endedAt', t.endedAt);
  if (typeof t.outcome !== 'string' || t.outcome.length === 0) throw new InvalidArchiveInputError(op, 'outcome is empty');
  if (!Array.isArray(t.turns)) throw new InvalidArchiveInputError(op, 'turns is not an array');
  t.turns.forEach((turn, index) => {
    if (typeof turn?.id !== 'string' || turn.id.length === 0) throw new InvalidArchiveInputError(op, `turn ${index} has no id`);
    if (typeof turn.role !== 'string' || turn.role.length === 0) throw new InvalidArchiveInputError(op, `turn ${index} has no role`);
    if (typeof turn.content !== 'string') throw new InvalidArchiveInputError(op, `turn ${index} content is not a string`);
    assertIsoTimestamp(op, `turn ${index} at`, turn.at);
  });
}
