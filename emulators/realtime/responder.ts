/**
 * What the emulated model answers. Deterministic: keyword rules pick a tool call or a reply, and after
 * a tool output the reply acknowledges it. Tests may pass their own responder.
 */

export type ResponderInput = {
  readonly sessionId: string;
  readonly correlationId: string | undefined;
  /** The latest user utterance (transcribed or sent as a text item); empty for an unprompted response. */
  readonly userText: string;
  /** Set when this response follows tool outputs. */
  readonly toolOutputs: ReadonlyArray<{ readonly name: string; readonly output: string }>;
  readonly instructions: string;
  readonly toolNames: readonly string[];
  /** Instructions of this response.create, if any (e.g. "greet the caller"). */
  readonly responseInstructions: string | undefined;
  /** 1 for the first response of the session. */
  readonly responseNumber: number;
};

export type ResponderReply =
  | { readonly text: string }
  | { readonly toolCall: { readonly name: string; readonly arguments: Record<string, unknown> } };

export type Responder = (input: ResponderInput) => ResponderReply | Promise<ResponderReply>;

/** The emulator's default responder. */
export const defaultResponder: Responder = (input) => {
  const lastTool = input.toolOutputs[input.toolOutputs.length - 1];
  if (lastTool !== undefined) {
    if (lastTool.name === 'end_call') return { text: 'Thank you for calling. Goodbye!' };
    if (lastTool.name === 'transfer_to_human') return { text: 'Please hold while I connect you.' };
    return { text: 'Thanks, I found your details.' };
  }
  const text = input.userText.toLowerCase();
  const offers = (name: string): boolean => input.toolNames.includes(name);
  if (input.userText === '') return { text: 'Hello, how can I help you today?' };
  if (/\b(human|person|agent|representative)\b/.test(text) && offers('transfer_to_human')) {
    return { toolCall: { name: 'transfer_to_human', arguments: { reason: 'caller asked for a person' } } };
  }
  if (/\b(bye|goodbye)\b/.test(text) && offers('end_call')) {
    return { toolCall: { name: 'end_call', arguments: { reason: 'caller said goodbye' } } };
  }
  if (/\b(account|profile|who am i)\b/.test(text) && offers('lookup_profile')) {
    return { toolCall: { name: 'lookup_profile', arguments: {} } };
  }
  return { text: `You said: ${input.userText.replace(/[.!?]+$/, '')}.` };
};
