import { redact } from '../telemetry/logger.js';
import type { CallerProfile } from './types.js';

/**
 * Fixed prompts, spoken without asking a model (they must work when the model is down), and the
 * system prompt of the chat model.
 */

export const COMPANY_NAME = 'Contoso';

export function greetingPrompt(profile?: CallerProfile): string {
  if (profile?.displayName) {
    return `Welcome back, ${profile.displayName}! Thanks for calling ${COMPANY_NAME} again. How can I help you today?`;
  }
  if (profile && (profile.callCount ?? 0) > 0) {
    return `Welcome back! Thanks for calling ${COMPANY_NAME} again. How can I help you today?`;
  }
  return `Hello, thanks for calling ${COMPANY_NAME}. I'm your virtual assistant. How can I help you today?`;
}

/** `attempt` counts silences so far (1 = the first). */
export function repromptPrompt(attempt: number): string {
  return attempt <= 1 ? "Sorry, I didn't catch that. How can I help you?" : 'Are you still there? You can ask me about opening hours, an order, billing or an address change.';
}

export function notUnderstoodPrompt(): string {
  return "Sorry, I didn't quite understand. Could you say that again in a few words?";
}

export function goodbyePrompt(): string {
  return `Thank you for calling ${COMPANY_NAME}. Goodbye!`;
}

export function silenceGoodbyePrompt(): string {
  return `I can't hear anything, so I'll end the call now. Please call us again any time. Goodbye!`;
}

export function transferHoldPrompt(): string {
  return 'Of course. Please hold while I connect you to one of our team.';
}

export function transferUnavailablePrompt(): string {
  return "I'm sorry, no one from our team is available to take the call right now. Is there something I can help with?";
}

export function transferFailedPrompt(): string {
  return "I'm sorry, I couldn't connect you. Please try again later, or tell me what you need.";
}

export function failurePrompt(): string {
  return "I'm sorry, something went wrong on our side. Please call again in a few minutes. Goodbye!";
}

export interface SystemPromptInput {
  readonly context: Readonly<Record<string, unknown>>;
  readonly canTransfer: boolean;
  readonly canLookUpProfile: boolean;
}

/** Context values as `key: value` lines; phone numbers masked, nested values as JSON, long values cut. */
function contextLines(context: Readonly<Record<string, unknown>>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(context)) {
    if (value === undefined || value === null || value === '') continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    lines.push(`- ${key}: ${redact(text).slice(0, 500)}`);
  }
  return lines;
}

export function systemPrompt(input: SystemPromptInput): string {
  const rules = [
    `You are the friendly phone assistant of ${COMPANY_NAME}, speaking with a caller on a phone line.`,
    'Your words are read aloud by text-to-speech: answer in one to three short sentences, no lists, no markdown, no emojis, no URLs.',
    'Ask one question at a time. If you did not understand, ask the caller to rephrase.',
    "You can help with opening hours (weekdays 8 am to 8 pm, Saturdays 9 am to 5 pm), order status, billing questions and address changes. Never invent order or account details; offer a human for anything you cannot resolve.",
    'When the caller says goodbye or has nothing else, say a short goodbye and call end_call.',
  ];
  if (input.canTransfer) {
    rules.push('When the caller asks for a human, an agent or a representative, or is upset, say that you will connect them and call transfer_to_human.');
  } else {
    rules.push('No human agents are available on this line; if asked, apologise and keep helping.');
  }
  if (input.canLookUpProfile) {
    rules.push("Call lookup_profile once if knowing the caller (their name, their last call) would help you; don't mention the tool.");
  }
  const lines = contextLines(input.context);
  if (lines.length > 0) rules.push('', 'About this call:', ...lines);
  return rules.join('\n');
}
