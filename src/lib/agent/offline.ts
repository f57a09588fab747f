import { performance } from 'node:perf_hooks';
import {
  goodbyePrompt,
  greetingPrompt,
  repromptPrompt,
  transferHoldPrompt,
  transferUnavailablePrompt,
} from './prompts.js';
import { misunderstandingsInARow, silencesInARow } from './turn-streaks.js';
import { AgentError, type AgentInput, type AgentReply, type ChatAgent, type ProfileLookup, type ToolCall } from './types.js';

/** How the echo reply below begins: an agent turn that did not understand the caller. */
const ECHO_PREFIX = 'I heard ';

/**
 * A deterministic responder for the offline demo and tests: keyword intents over a small FAQ table,
 * the same tools as the model (end_call, transfer_to_human, lookup_profile), and replies that read
 * like a conversation. Same input, same output.
 */

export interface OfflineResponderSettings {
  readonly transferTargetNumber?: string | undefined;
  readonly lookupProfile?: ProfileLookup | undefined;
}

interface Topic {
  readonly id: string;
  /** What the caller is asking about, echoed back ("About your order: …"). */
  readonly label: string;
  readonly patterns: readonly RegExp[];
  readonly answer: string;
}

export const FAQ_TOPICS: readonly Topic[] = [
  {
    id: 'opening_hours',
    label: 'our opening hours',
    patterns: [/\bopening hours?\b/, /\b(open|close|closing)\b/, /\bhours\b/, /\bweekend\b/],
    answer: "We're open Monday to Friday from 8 am to 8 pm, and Saturdays from 9 am to 5 pm. We're closed on Sundays.",
  },
  {
    id: 'order_status',
    label: 'your order',
    patterns: [/\border\b/, /\b(delivery|deliver(ed)?|shipping|shipped|parcel|package|tracking)\b/],
    answer: 'Orders usually ship within two working days, and you can follow yours with the tracking link in your confirmation email. If it is late, I can connect you to our team.',
  },
  {
    id: 'billing',
    label: 'billing',
    patterns: [/\b(bill|billing|billed|invoice|charge[ds]?|payment|refund|pay)\b/],
    answer: 'Invoices are sent by email at the start of each month, and refunds reach your account within five working days. For a specific charge, a colleague can look into it with you.',
  },
  {
    id: 'address_change',
    label: 'changing your address',
    patterns: [/\baddress\b/, /\b(moving|moved|move house|relocat\w*)\b/],
    answer: "You can change your address in your online account under Profile, and it takes effect for the next delivery. If you'd rather, our team can update it for you.",
  },
  {
    id: 'account_access',
    label: 'your account',
    patterns: [/\b(password|log ?in|sign ?in|locked|account)\b/],
    answer: 'You can reset your password with the "Forgot password" link on the sign-in page; the email arrives within a few minutes.',
  },
];

const HUMAN = /\b(human|agent|representative|operator|real person|a person|speak to (a|an|some)\w*|talk to (a|an|some)\w*)\b/;
const GOODBYE = /\b(bye|goodbye|good bye|that'?s all|that is all|nothing else|no more questions|hang up|i'?m done|we'?re done)\b/;
const THANKS = /\b(thanks|thank you|cheers)\b/;
const HELLO = /^(hi|hello|hey|good (morning|afternoon|evening))\b/;

function normalize(text: string): string {
  return text.toLowerCase().replace(/[’`]/g, "'").replace(/[^a-z0-9' ]+/g, ' ').replace(/\s+/g, ' ').trim();
}

function matchTopic(text: string): Topic | undefined {
  return FAQ_TOPICS.find((topic) => topic.patterns.some((p) => p.test(text)));
}

export class OfflineResponder implements ChatAgent {
  constructor(private readonly settings: OfflineResponderSettings = {}) {}

  async respond(input: AgentInput): Promise<AgentReply> {
    const startedAt = performance.now();
    if (input.signal?.aborted) throw new AgentError('The reply was aborted', { code: 'aborted', retryable: false, cause: input.signal.reason });
    const { text, toolCalls } = await this.decide(input);
    input.onTextDelta?.(text);
    const totalMs = performance.now() - startedAt;
    return { text, toolCalls, timings: { firstTokenMs: totalMs, totalMs } };
  }

  private async decide(input: AgentInput): Promise<{ text: string; toolCalls: ToolCall[] }> {
    const said = normalize(input.userText);
    const callStart = input.history.length === 0;

    if (said === '') {
      if (callStart) return this.greeting(input);
      return { text: repromptPrompt(silencesInARow(input.history) + 1), toolCalls: [] };
    }
    if (HUMAN.test(said)) return this.transfer(input, 'caller asked for a human');
    if (GOODBYE.test(said)) return { text: goodbyePrompt(), toolCalls: [{ id: toolId(input, 'end_call'), name: 'end_call', reason: 'caller said goodbye' }] };

    const topic = matchTopic(said);
    if (topic) return { text: `About ${topic.label}: ${topic.answer} Is there anything else I can help with?`, toolCalls: [] };
    if (THANKS.test(said)) return { text: "You're welcome! Is there anything else I can help with?", toolCalls: [] };
    if (HELLO.test(said)) return { text: 'Hello! I can help with opening hours, an order, billing or an address change. What do you need?', toolCalls: [] };

    // Not understood twice in a row: a person will do better than a third guess.
    if (misunderstandingsInARow(input.history, ECHO_PREFIX) >= 2 && this.settings.transferTargetNumber) {
      return this.transfer(input, 'caller not understood three times');
    }
    const echo = input.userText.trim().replace(/\s+/g, ' ').slice(0, 120);
    return {
      text: `${ECHO_PREFIX}"${echo}". I can help with opening hours, an order, billing or an address change, or put you through to a colleague. What would you like?`,
      toolCalls: [],
    };
  }

  private async greeting(input: AgentInput): Promise<{ text: string; toolCalls: ToolCall[] }> {
    const userId = typeof input.context.userId === 'string' ? input.context.userId : undefined;
    if (!userId || !this.settings.lookupProfile) return { text: greetingPrompt(), toolCalls: [] };
    const profile = await this.settings.lookupProfile(userId);
    return { text: greetingPrompt(profile), toolCalls: [{ id: toolId(input, 'lookup_profile'), name: 'lookup_profile', found: profile !== undefined }] };
  }

  private transfer(input: AgentInput, reason: string): { text: string; toolCalls: ToolCall[] } {
    const target = this.settings.transferTargetNumber;
    if (!target) return { text: transferUnavailablePrompt(), toolCalls: [] };
    return { text: transferHoldPrompt(), toolCalls: [{ id: toolId(input, 'transfer_to_human'), name: 'transfer_to_human', reason, targetNumber: target }] };
  }
}

/** Deterministic tool-call ids (turn number), so transcripts of two runs compare equal. */
function toolId(input: AgentInput, name: string): string {
  return `offline-${name}-${input.history.length}`;
}
