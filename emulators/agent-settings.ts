/**
 * Which agent the dev loop and the demo use: the offline responder, or real Azure OpenAI from the
 * environment or `local.settings.json`. Only the agent's settings are taken from there; Redis,
 * Cosmos, ACS and Web PubSub stay local whatever those files say.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, SETTINGS } from '../src/lib/config/index.js';
import { FriendlyError } from './cli-support.js';

export const AGENT_SETTING_NAMES = [
  'AGENT_MODE',
  'AZURE_OPENAI_ENDPOINT',
  'AZURE_OPENAI_API_KEY',
  'AZURE_OPENAI_API_VERSION',
  'AZURE_OPENAI_CHAT_DEPLOYMENT',
  'AZURE_OPENAI_REALTIME_DEPLOYMENT',
  'AZURE_OPENAI_TTS_DEPLOYMENT',
  'AGENT_VOICE',
  'AGENT_LOCALE',
  'SILENCE_REPROMPTS',
  'MAX_CALL_DURATION_SECONDS',
] as const;

export const DEFAULT_SETTINGS_FILE = 'local.settings.json';

export interface AgentSettingsOptions {
  /** `--azure`: use Azure OpenAI whatever AGENT_MODE says. */
  readonly azure?: boolean;
  /** `--offline`: use the offline responder whatever AGENT_MODE says. */
  readonly offline?: boolean;
  /** A local.settings.json to read; the default one may be absent, one named explicitly may not. */
  readonly settingsFile?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface AgentSettings {
  readonly settings: Record<string, string>;
  readonly mode: 'offline' | 'azure-openai';
  /** Where the settings came from, for the banner. */
  readonly sources: readonly string[];
}

/** The agent's settings: local.settings.json "Values", then the environment (which wins), then the flags. */
export function agentSettings(options: AgentSettingsOptions = {}): AgentSettings {
  const env = options.env ?? process.env;
  const file = options.settingsFile ?? DEFAULT_SETTINGS_FILE;
  const sources: string[] = [];
  const fromFile = readValues(file, options.settingsFile !== undefined);
  if (fromFile) sources.push(file);
  const settings: Record<string, string> = {};
  for (const name of AGENT_SETTING_NAMES) {
    const value = env[name] || fromFile?.[name];
    if (value) settings[name] = value;
    if (env[name]) sources.push(`$${name}`);
  }
  if (options.azure && options.offline) throw new FriendlyError('--azure and --offline exclude each other');
  if (options.azure) settings.AGENT_MODE = 'azure-openai';
  if (options.offline) settings.AGENT_MODE = 'offline';
  const mode = settings.AGENT_MODE === 'azure-openai' ? 'azure-openai' : 'offline';
  if (mode === 'azure-openai' && !settings.AZURE_OPENAI_ENDPOINT) {
    throw new ConfigError([
      {
        variable: 'AZURE_OPENAI_ENDPOINT',
        expects: SETTINGS.AZURE_OPENAI_ENDPOINT.expects,
        problem: `required for the Azure OpenAI agent (${options.azure ? '--azure' : 'AGENT_MODE=azure-openai'}); set it in the environment or ${file}, with AZURE_OPENAI_API_KEY or an \`az login\` that holds the Cognitive Services OpenAI User role`,
      },
    ]);
  }
  return { settings, mode, sources: [...new Set(sources)] };
}

function readValues(file: string, required: boolean): Record<string, string> | undefined {
  if (!existsSync(file)) {
    if (required) throw new FriendlyError(`${file} does not exist (copy local.settings.sample.json, or leave out --settings)`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FriendlyError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const values = (parsed as { Values?: unknown } | null)?.Values;
  if (typeof values !== 'object' || values === null) throw new FriendlyError(`${file} has no "Values" object (see local.settings.sample.json)`);
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
