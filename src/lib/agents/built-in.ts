import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallerProfile, ProfileLookup } from '../agent/types.js';
import { once } from '../once.js';
import type { Logger } from '../telemetry/logger.js';
import { AgentsError } from './errors.js';
import { definitionFilesIn, parseAgentCatalog, type AgentCatalog, type DefinitionFile } from './loader.js';
import { ScenarioResponder } from './offline-responder.js';
import { AgentPrompts } from './prompts.js';
import { ToolRunner } from './tools.js';

/**
 * The agent an app runs when it has no definitions of its own (no `AGENTS_DIR` folder), and the words
 * of its fixed prompts where no call's agent is known: the support line this package ships as a
 * definition (`agents/support`), read once on first use. No agent is written in TypeScript.
 */

const SCENARIO = 'support';

/** The package's own `agents/` folder: up from this module to the folder holding package.json (the app root, deployed or not). */
function packageAgentsDir(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'agents', SCENARIO))) return path.join(dir, 'agents');
    if (path.dirname(dir) === dir) throw new AgentsError(`the built-in agent needs the package's agents/${SCENARIO} folder, and there is none above ${fileURLToPath(import.meta.url)}`);
  }
}

// The support scenario alone, as the default of its own routing: other scenarios may need settings.
// Computed once: the package's files and what is parsed from them never change.
const builtInFiles = once((): readonly DefinitionFile[] => [{ path: 'routing.yaml', text: `default: ${SCENARIO}\n` }, ...definitionFilesIn(packageAgentsDir(), SCENARIO)]);

/** The built-in support line as a catalog; `TRANSFER_TARGET_NUMBER` in `settings` turns transfers on. */
export function builtInCatalog(settings: Readonly<Record<string, string | undefined>> = {}): AgentCatalog {
  return parseAgentCatalog(builtInFiles(), { settings });
}

/** The built-in support agent's words (greeting, fixed prompts, the model's system prompt). */
export const builtInPrompts = once((): AgentPrompts => {
  const loaded = builtInCatalog().scenario(SCENARIO)!;
  return new AgentPrompts(loaded.agents.get(loaded.scenario.entry)!, loaded.scenario);
});

/** The deterministic built-in support agent (tools: end_call, transfer_to_human when a number is set, lookup_profile). */
export function builtInResponder(options: { readonly transferTargetNumber?: string | undefined; readonly lookupProfile?: ProfileLookup | undefined; readonly logger: Logger }): ScenarioResponder {
  const catalog = builtInCatalog({ TRANSFER_TARGET_NUMBER: options.transferTargetNumber });
  return new ScenarioResponder({ catalog, tools: new ToolRunner({ lookupProfile: options.lookupProfile, settings: {}, logger: options.logger }) });
}

export interface SystemPromptInput {
  readonly context: Readonly<Record<string, unknown>>;
  readonly canTransfer: boolean;
  readonly canLookUpProfile: boolean;
}

// The built-in agent's words one by one, for the places that speak without a call's agent at hand.
export const greetingPrompt = (profile?: CallerProfile): string => builtInPrompts().greeting(profile);
export const outboundGreetingPrompt = (purpose: string): string => builtInPrompts().outboundGreeting(purpose);
/** `attempt` counts silences so far (1 = the first). */
export const repromptPrompt = (attempt: number): string => builtInPrompts().reprompt(attempt);
export const notUnderstoodPrompt = (): string => builtInPrompts().notUnderstood();
export const goodbyePrompt = (): string => builtInPrompts().goodbye();
export const silenceGoodbyePrompt = (): string => builtInPrompts().silenceGoodbye();
export const transferHoldPrompt = (): string => builtInPrompts().hold();
export const transferUnavailablePrompt = (): string => builtInPrompts().transferUnavailable();
export const transferFailedPrompt = (): string => builtInPrompts().transferFailed();
export const failurePrompt = (): string => builtInPrompts().failure();
export const troublePrompt = (): string => builtInPrompts().trouble();
export const systemPrompt = (input: SystemPromptInput): string => builtInPrompts().systemPrompt(input);
