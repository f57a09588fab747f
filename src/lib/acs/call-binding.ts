/**
 * A valid signature proves the URL was minted for call X; this check proves the events in the body are
 * about call X too, so a caller holding one call's URL cannot post events for another call.
 */

export interface KnownCallIdentifiers {
  readonly callConnectionId?: string | undefined;
  readonly serverCallId?: string | undefined;
  readonly correlationId?: string | undefined;
}

export type CallBindingCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly index: number; readonly field: keyof KnownCallIdentifiers; readonly detail: string };

interface EventIdentifiers {
  readonly data?: { readonly callConnectionId?: unknown; readonly serverCallId?: unknown; readonly correlationId?: unknown } | undefined;
}

const FIELDS: readonly (keyof KnownCallIdentifiers)[] = ['callConnectionId', 'serverCallId', 'correlationId'];

/**
 * Compares every identifier the session knows with the one each event carries; a field missing on either
 * side is not compared (e.g. `callConnectionId` before `CallConnected` was recorded). At least one
 * known identifier is required, otherwise nothing would be checked.
 *
 * @example
 * const binding = checkEventsBelongToCall(events, { correlationId: session.correlationId, callConnectionId: session.callConnectionId });
 * if (!binding.ok) return { status: 401 };
 */
export function checkEventsBelongToCall(events: readonly EventIdentifiers[], known: KnownCallIdentifiers): CallBindingCheck {
  const compared = FIELDS.filter((f) => typeof known[f] === 'string' && known[f] !== '');
  if (compared.length === 0) throw new TypeError('checkEventsBelongToCall needs at least one known identifier');
  for (const [index, event] of events.entries()) {
    for (const field of compared) {
      const carried = event.data?.[field];
      if (typeof carried === 'string' && carried !== '' && carried !== known[field]) {
        return { ok: false, index, field, detail: `events[${index}].data.${field} belongs to another call` };
      }
    }
  }
  return { ok: true };
}
