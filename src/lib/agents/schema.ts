import { z } from 'zod';

/**
 * The file formats of agents: an agent definition (`<name>.agent.yaml`), a scenario
 * (`scenario.yaml`: entry agent, agents, handoff graph, scripted conversations) and the routing of
 * called numbers to scenarios (`routing.yaml`). The same schemas validate files at load time and are
 * exported as JSON Schema for editors (`npm run agents:schema`).
 */

const NAME = /^[a-z][a-z0-9_]{0,39}$/;
const AgentName = z.string().regex(NAME, 'lower-case letters, digits and _, starting with a letter (at most 40)');
const Prompt = z.string().trim().min(1).max(1_000);
/** A JavaScript regular expression, matched against the caller's words lower-cased and without punctuation. */
const Pattern = z.string().min(1).max(300).refine(isRegExp, 'not a valid regular expression');

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

export const GreetingSchema = z.strictObject({
  /** A caller we do not know. */
  new: Prompt,
  /** A caller who called before, without a name on file. */
  returning: Prompt,
  /** A caller who called before, with `{displayName}`. */
  returningNamed: Prompt,
  /** An outbound call, with `{purpose}`. */
  outbound: Prompt.optional(),
});

export const PromptsSchema = z.strictObject({
  /** After 1, 2, … silences; the last one repeats. */
  reprompt: z.array(Prompt).min(1).max(10),
  hold: Prompt,
  goodbye: Prompt,
  silenceGoodbye: Prompt,
  failure: Prompt,
  transferFailed: Prompt,
  transferUnavailable: Prompt,
  notUnderstood: Prompt,
  /** Said when the agent could not answer (the model failed); the caller may try again. */
  trouble: Prompt.default("I'm sorry, I'm having trouble right now. Could you say that again?"),
  /** Said when a tool failed or timed out. */
  toolFailed: Prompt.default("I'm sorry, I couldn't get that information right now. Is there anything else I can help with?"),
  /** Said when a tool needs a verified caller and the caller is not verified. */
  verificationRequired: Prompt.default('Before I can help with that, I need to verify your identity. Please enter your PIN on the keypad.'),
});

const Intents = z.strictObject({
  human: z.array(Pattern).default([]),
  goodbye: z.array(Pattern).default([]),
  thanks: z.array(Pattern).default([]),
  hello: z.array(Pattern).default([]),
});

/** The offline responder's phrasings; the model ignores them. */
export const OfflineSchema = z.strictObject({
  intents: Intents,
  /** A knowledge answer: `{label}` and `{answer}`. */
  answer: Prompt.default('About {label}: {answer} Is there anything else I can help with?'),
  thanks: Prompt,
  hello: Prompt,
  /** Not understood: `{heard}` is the caller's words (cut at 120 characters). */
  fallback: Prompt.refine((p) => p.includes('{heard}'), 'must contain {heard}'),
  /** Transfer to a person after this many misunderstandings in a row (0: never). */
  transferAfterMisunderstandings: z.int().min(0).max(10).default(2),
});

export const KnowledgeSchema = z.strictObject({
  id: AgentName,
  /** What the caller asks about, as the agent says it back ("our opening hours"). */
  label: z.string().min(1).max(200),
  patterns: z.array(Pattern).min(1),
  answer: Prompt,
});

const BuiltinToolName = z.enum(['end_call', 'transfer_to_human', 'lookup_profile', 'verify_caller']);
export type BuiltinToolName = z.infer<typeof BuiltinToolName>;

/** JSON Schema of a tool's parameters (an object), as the model sees it. */
const ParametersSchema = z
  .looseObject({ type: z.literal('object'), properties: z.record(z.string(), z.unknown()).default({}), required: z.array(z.string()).optional() })
  .default({ type: 'object', properties: {} });

const ToolCommon = {
  name: AgentName,
  description: z.string().min(1).max(1_000).optional(),
  /** Refused (and the refusal spoken) until `verify_caller` succeeded on this call. */
  requiresVerifiedCaller: z.boolean().default(false),
  /** Offline: caller words that make the offline responder call this tool. */
  patterns: z.array(Pattern).default([]),
  /** Offline: how the result is said; `{field}` is a field of the tool's result. */
  say: Prompt.optional(),
};

export const BuiltinToolSchema = z.strictObject({ ...ToolCommon, name: BuiltinToolName, kind: z.literal('builtin').default('builtin') });

const HttpAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  /** A bearer token for `scope` from the app's managed identity. */
  z.strictObject({ type: z.literal('managedIdentity'), scope: z.string().url() }),
  /** A key from an app setting (a Key Vault reference in Azure), sent in `header`. */
  z.strictObject({ type: z.literal('key'), header: z.string().min(1).default('x-api-key'), setting: z.string().regex(/^[A-Z][A-Z0-9_]*$/) }),
]);

export const HttpToolSchema = z.strictObject({
  ...ToolCommon,
  kind: z.literal('http'),
  description: z.string().min(1).max(1_000),
  /** `{param}` is replaced by the argument (URL-encoded); `${SETTING}` by an app setting at load time. */
  url: z.string().min(1),
  method: z.enum(['GET', 'POST']).default('GET'),
  parameters: ParametersSchema,
  auth: HttpAuth.default({ type: 'none' }),
  timeoutMs: z.int().min(100).max(30_000).default(3_000),
  maxResponseBytes: z.int().min(256).max(1_048_576).default(65_536),
});

export const CodeToolSchema = z.strictObject({
  ...ToolCommon,
  kind: z.literal('code'),
  /** The name under which the TypeScript implementation is registered. */
  implementation: AgentName.optional(),
});

/** A tool: a built-in by its name alone (`- end_call`), or an object whose `kind` defaults to `builtin`. */
export const ToolSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { name: value, kind: 'builtin' } : value !== null && typeof value === 'object' && !('kind' in value) ? { ...value, kind: 'builtin' } : value),
  z.discriminatedUnion('kind', [BuiltinToolSchema.extend({ kind: z.literal('builtin') }), HttpToolSchema, CodeToolSchema]),
);

export const VerificationSchema = z.strictObject({
  method: z.literal('pin').default('pin'),
  pinDigits: z.int().min(4).max(12).default(4),
  /** Wrong PINs before the caller is locked out for the rest of the state's TTL. */
  maxAttempts: z.int().min(1).max(10).default(3),
  /** How long a verification holds (capped by the authentication_state TTL). */
  verifiedForSeconds: z.int().min(60).max(3_600).default(900),
  prompts: z.strictObject({
    askPin: Prompt,
    verified: Prompt,
    wrongPin: Prompt,
    lockedOut: Prompt,
    noProfile: Prompt,
  }),
});

/** A keypad menu; the one named `main` answers single keys (an agent taking a PIN reads digits as the PIN). */
export const DtmfMenuSchema = z.strictObject({
  prompt: Prompt,
  options: z.record(z.string().regex(/^[0-9*#]$/), z.strictObject({ say: Prompt.optional(), tool: AgentName.optional(), handoff: AgentName.optional(), knowledge: AgentName.optional() })),
});

export const AgentDefinitionSchema = z.strictObject({
  name: AgentName,
  description: z.string().max(1_000).optional(),
  /** Who the agent is, for the model ("the friendly phone assistant of Contoso"). */
  persona: z.string().min(1).max(2_000),
  /** Rules for the model, one sentence each. */
  instructions: z.array(z.string().min(1).max(2_000)).min(1),
  greeting: GreetingSchema,
  /** Said by this agent when a caller is handed back to it ("welcome back to …"). */
  returnGreeting: Prompt.optional(),
  prompts: PromptsSchema,
  voice: z.strictObject({ name: z.string().min(1).default('alloy'), locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/).default('en-US') }).default({ name: 'alloy', locale: 'en-US' }),
  model: z
    .strictObject({
      chat: z
        .strictObject({
          deployment: z.string().optional(),
          temperature: z.number().min(0).max(2).optional(),
          /** Lists the knowledge in the system prompt (off when the instructions already say it). */
          knowledgeInPrompt: z.boolean().default(true),
        })
        .default({ knowledgeInPrompt: true }),
      realtime: z.strictObject({ deployment: z.string().optional() }).default({}),
    })
    .default({ chat: { knowledgeInPrompt: true }, realtime: {} }),
  knowledge: z.array(KnowledgeSchema).default([]),
  tools: z.array(ToolSchema).default([]),
  verification: VerificationSchema.optional(),
  dtmf: z.record(AgentName, DtmfMenuSchema).default({}),
  offline: OfflineSchema,
});

export const HandoffSchema = z.strictObject({
  from: AgentName,
  to: AgentName,
  /** `announced`: the caller hears `announcement`; `discreet`: the next agent just carries on. */
  mode: z.enum(['announced', 'discreet']).default('announced'),
  shareContext: z.boolean().default(true),
  announcement: Prompt.optional(),
  /** Offline: caller words that trigger the handoff. */
  patterns: z.array(Pattern).default([]),
  /** Hand off as soon as the caller is verified (a verification agent's successor). */
  whenVerified: z.boolean().default(false),
});

const ScriptStep = z.union([
  z.strictObject({ say: z.string().max(500) }),
  z.strictObject({ dtmf: z.string().regex(/^[0-9*#]{1,16}$/) }),
  z.strictObject({ silence: z.literal(true) }),
]);

export const ConversationTestSchema = z.strictObject({
  name: z.string().min(1).max(200),
  /** The caller's profile for this conversation; `pin` is hashed before it is stored. */
  caller: z.strictObject({ displayName: z.string().optional(), pin: z.string().regex(/^[0-9]{4,12}$/).optional(), callCount: z.int().min(0).optional() }).default({}),
  steps: z.array(ScriptStep).min(1),
  expect: z.strictObject({
    tools: z.array(z.string()).default([]),
    handoffs: z.array(AgentName).default([]),
    outcome: z.enum(['completed', 'transferred', 'caller_silent', 'listening']),
    /** Words every one of which the caller heard at some point. */
    heard: z.array(z.string()).default([]),
    refused: z.array(z.string()).default([]),
  }),
});

export const ScenarioSchema = z.strictObject({
  name: AgentName,
  description: z.string().max(1_000).optional(),
  /** The company the agents speak for (`{company}` in prompts). */
  company: z.string().min(1).max(200),
  entry: AgentName,
  /** Agents of the scenario: `<name>.agent.yaml` next to this file. */
  agents: z.array(AgentName).min(1),
  handoffs: z.array(HandoffSchema).default([]),
  /** Where `transfer_to_human` goes: an app setting holding the number, never a value from the model. */
  transfer: z.strictObject({ setting: z.string().regex(/^[A-Z][A-Z0-9_]*$/).default('TRANSFER_TARGET_NUMBER') }).default({ setting: 'TRANSFER_TARGET_NUMBER' }),
  tests: z.array(ConversationTestSchema).default([]),
});

export const RoutingSchema = z.strictObject({
  default: AgentName,
  routes: z.array(z.strictObject({ number: z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'an E.164 number'), scenario: AgentName })).default([]),
});

export type AgentDefinition = z.infer<typeof AgentDefinitionSchema>;
export type AgentTool = AgentDefinition['tools'][number];
export type HttpTool = z.infer<typeof HttpToolSchema>;
export type Handoff = z.infer<typeof HandoffSchema>;
export type Scenario = z.infer<typeof ScenarioSchema>;
export type ConversationTest = z.infer<typeof ConversationTestSchema>;
export type Routing = z.infer<typeof RoutingSchema>;
export type VerificationSettings = z.infer<typeof VerificationSchema>;

interface JsonSchemaObject {
  readonly properties?: { readonly kind?: { readonly const?: string } };
  readonly required?: readonly string[];
}

/** JSON Schemas for editors (`# yaml-language-server: $schema=…`), one per file kind. */
export function jsonSchemas(): Record<'agent' | 'scenario' | 'routing', unknown> {
  const options = { io: 'input', unrepresentable: 'any' } as const;
  const agent = z.toJSONSchema(AgentDefinitionSchema, options) as unknown as { properties: { tools: { items: { oneOf?: JsonSchemaObject[] } } } };
  // The YAML shorthands the preprocessing accepts: a built-in by its name, and a built-in without `kind`.
  const variants = agent.properties.tools.items.oneOf ?? [];
  agent.properties.tools.items = {
    anyOf: [
      { type: 'string', enum: [...BuiltinToolName.options] },
      ...variants.map((v) => (v.properties?.kind?.const === 'builtin' ? { ...v, required: (v.required ?? []).filter((r) => r !== 'kind') } : v)),
    ],
  } as { oneOf?: JsonSchemaObject[] };
  return {
    agent,
    scenario: z.toJSONSchema(ScenarioSchema, options),
    routing: z.toJSONSchema(RoutingSchema, options),
  };
}
