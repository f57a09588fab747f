import type { AppConfig } from '../config/index.js';
import { AzureOpenAIChatAgent } from './azure-openai.js';
import { builtInResponder } from '../agents/built-in.js';
import { consoleLogger } from '../telemetry/logger.js';
import { AgentError, type ChatAgent, type ProfileLookup } from './types.js';
import type { DefinitionBinding } from '../agents/model-binding.js';

export * from './types.js';
export {
  failurePrompt,
  goodbyePrompt,
  greetingPrompt,
  notUnderstoodPrompt,
  repromptPrompt,
  silenceGoodbyePrompt,
  systemPrompt,
  transferFailedPrompt,
  transferHoldPrompt,
  transferUnavailablePrompt,
  type SystemPromptInput,
} from '../agents/built-in.js';
export { AzureOpenAIChatAgent, COGNITIVE_SERVICES_SCOPE, toAgentError } from './azure-openai.js';
export type { AzureOpenAIChatAgentSettings } from './azure-openai.js';
export { TOOL_NAMES, toolsFor } from './tools.js';
export type { ToolName } from './tools.js';

export interface ChatAgentDeps {
  /** The profile store's lookup ("welcome back"); without it the tool is not offered. */
  readonly lookupProfile?: ProfileLookup;
  /** Overrides the Entra ID token provider (tests, or a credential shared by the composition root). */
  readonly tokenProvider?: () => Promise<string>;
  /** The agent definitions: the model speaks as the call's active agent, with its tools. */
  readonly definitions?: DefinitionBinding;
}

export type ChatAgentConfig = Pick<AppConfig, 'agent'> & {
  readonly acs: Pick<AppConfig['acs'], 'transferTargetNumber'>;
  readonly limits?: Pick<AppConfig['limits'], 'toolArgumentsChars'>;
};

/**
 * The agent chosen by `AGENT_MODE`: `offline` (deterministic) or `azure-openai` (key when
 * AZURE_OPENAI_API_KEY is set, else `deps.tokenProvider`: Entra ID tokens of the app's credential).
 *
 * @example
 * const agent = await createChatAgent(config, { lookupProfile: (id) => profiles.get(id) });
 * const reply = await agent.respond({ callId, history, userText, context: { userId }, signal });
 */
export async function createChatAgent(config: ChatAgentConfig, deps: ChatAgentDeps = {}): Promise<ChatAgent> {
  const transferTargetNumber = config.acs.transferTargetNumber;
  // Offline without definitions: the support line the package ships, driven by its definition.
  if (config.agent.mode === 'offline') return builtInResponder({ transferTargetNumber, lookupProfile: deps.lookupProfile, logger: consoleLogger('warn', { component: 'agent' }) });

  if (!config.agent.endpoint) throw new AgentError('AZURE_OPENAI_ENDPOINT is not set', { code: 'config', retryable: false });
  const tokenProvider = deps.tokenProvider;
  if (!config.agent.apiKey && !tokenProvider) {
    throw new AgentError('AZURE_OPENAI_ENDPOINT without AZURE_OPENAI_API_KEY needs the app credential (a token provider)', { code: 'config', retryable: false });
  }
  return new AzureOpenAIChatAgent({
    endpoint: config.agent.endpoint,
    deployment: config.agent.chatDeployment,
    apiVersion: config.agent.apiVersion,
    ...(config.agent.apiKey ? { apiKey: config.agent.apiKey } : { tokenProvider }),
    transferTargetNumber,
    lookupProfile: deps.lookupProfile,
    ...(config.limits ? { maxToolArgumentsChars: config.limits.toolArgumentsChars } : {}),
    ...(deps.definitions ? { definitions: deps.definitions } : {}),
  });
}
