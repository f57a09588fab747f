/** The `CommunicationIdentifierModel` wire shape ACS uses in REST bodies and events. */
export interface IdentifierModel {
  kind?: string;
  rawId?: string;
  phoneNumber?: { value: string };
  communicationUser?: { id: string };
  [other: string]: unknown;
}

export type IdentifierInput = string | IdentifierModel;

/** "+15550100" → phone number; "8:acs:…" (or any other raw id) → ACS user; a model passes through. */
export function toIdentifier(input: IdentifierInput): IdentifierModel {
  if (typeof input !== 'string') return input;
  const phone = input.startsWith('4:') ? input.slice(2) : input;
  if (/^\+?\d[\d\s-]*$/.test(phone)) {
    return { kind: 'phoneNumber', rawId: `4:${phone}`, phoneNumber: { value: phone } };
  }
  return { kind: 'communicationUser', rawId: input, communicationUser: { id: input } };
}

export function rawIdOf(identifier: IdentifierModel | undefined): string {
  if (!identifier) return '';
  if (identifier.rawId) return identifier.rawId;
  if (identifier.phoneNumber) return `4:${identifier.phoneNumber.value}`;
  if (identifier.communicationUser) return identifier.communicationUser.id;
  return '';
}

/** The participant list ACS reports in ParticipantsUpdated and GET …/participants. */
export function participantModel(identifier: IdentifierModel): { identifier: IdentifierModel; isMuted: boolean; isOnHold: boolean } {
  return { identifier, isMuted: false, isOnHold: false };
}
