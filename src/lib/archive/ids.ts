import { createHash, createHmac } from 'node:crypto';
import { InvalidArchiveInputError } from './errors.js';

const MAX_ID_LENGTH = 200;
// Cosmos DB forbids / \ ? # in ids; ':' is our separator in composite ids; no whitespace or controls.
const FORBIDDEN_ID_CHARS = /[/\\?#:\s\u0000-\u001f\u007f-\u009f]/u;

/** Throws {@link InvalidArchiveInputError} unless `id` can be a partition key and part of an item id. */
export function assertArchiveId(operation: string, what: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArchiveInputError(operation, `${what} is empty`);
  if (id.length > MAX_ID_LENGTH) throw new InvalidArchiveInputError(operation, `${what} is longer than ${MAX_ID_LENGTH} characters`);
  if (FORBIDDEN_ID_CHARS.test(id)) throw new InvalidArchiveInputError(operation, `${what} contains a reserved character (/ \\ ? # : whitespace or control)`);
}

/** Something that looks like a dialable number: what must never be stored as an id or a caller. */
const RAW_NUMBER = /^(?:\d+:)?\+?[\d\s().-]{7,}$/;

export function looksLikeRawPhoneNumber(value: string): boolean {
  return RAW_NUMBER.test(value) && value.replace(/\D/g, '').length >= 7;
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** Domain separation when no salt is given, so these ids never equal a plain sha256 of the number. */
const UNSALTED_DOMAIN = 'rtvoice/user-id/v1';

/**
 * A stable, non-reversible user id for a caller's phone number: `u_` + 32 hex characters of
 * HMAC-SHA256(salt, E.164 number). Spaces, dashes, brackets and ACS's raw-id prefix (`4:`) are
 * ignored, so `+1 (555) 010-0123` and `4:+15550100123` give the same id.
 *
 * Pass the configured secret (`config.archive.userIdSalt`, USER_ID_SALT; required in prod): the space
 * of phone numbers is small enough to enumerate, so without a secret anyone holding the algorithm can
 * test candidate numbers against an id. The salt must never change: every existing id would change.
 *
 * @example userIdFromPhoneNumber('+15550100123', secret) // "u_3f9c…"
 */
export function userIdFromPhoneNumber(e164: string, salt?: string): string {
  const normalized = String(e164).replace(/^\d+:/, '').replace(/[\s().-]/g, '');
  // Never echo the number back: it would end up in logs through the error message.
  if (!E164.test(normalized)) throw new InvalidArchiveInputError('userIdFromPhoneNumber', 'not an E.164 phone number');
  const digest = createHmac('sha256', salt && salt.length > 0 ? salt : UNSALTED_DOMAIN).update(normalized).digest('hex');
  return `u_${digest.slice(0, 32)}`;
}

/** The UTC calendar day (`YYYY-MM-DD`) of an ISO timestamp: the analytics partition key. */
export function utcDay(operation: string, isoTimestamp: string): string {
  const ms = Date.parse(isoTimestamp);
  if (!Number.isFinite(ms)) throw new InvalidArchiveInputError(operation, 'timestamp is not an ISO date');
  return new Date(ms).toISOString().slice(0, 10);
}

export function assertIsoTimestamp(operation: string, what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !Number.isFinite(Date.parse(value))) throw new InvalidArchiveInputError(operation, `${what} is not an ISO timestamp`);
}

/** A short, stable digest used for idempotency ids and content versions. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
