import { z } from 'zod';
import { DEFAULT_MEDIA_HUB } from './bindings.js';

/**
 * Every environment variable the app reads, in one table.
 *
 * The table is the single source of truth for `loadConfig`, for `local.settings.sample.json`
 * and for the infrastructure consistency test: a setting that is not listed here is not read.
 */

export const ENVIRONMENTS = ['dev', 'test', 'staging', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Where a setting may legitimately come from; `local` settings carry keys and are refused in prod. */
export type SettingScope = 'all' | 'local';

export interface SettingSpec<T> {
  /** Parses the raw string (undefined when unset) into the typed value. */
  readonly schema: z.ZodType<T, string | undefined>;
  /** What the variable expects, used verbatim in error messages and docs. */
  readonly expects: string;
  readonly description: string;
  /** Placeholder written to local.settings.sample.json. */
  readonly sample: string;
  readonly secret?: boolean;
  readonly scope?: SettingScope;
}

const trimmed = z
  .string()
  .transform((v) => v.trim())
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

function optionalString(): z.ZodType<string | undefined, string | undefined> {
  return trimmed;
}

function stringWithDefault(fallback: string, pattern?: RegExp): z.ZodType<string, string | undefined> {
  return trimmed.transform((v, ctx) => {
    const value = v ?? fallback;
    if (pattern && !pattern.test(value)) {
      ctx.addIssue({ code: 'custom', message: `does not match ${pattern.source}` });
      return z.NEVER;
    }
    return value;
  });
}

function integer(fallback: number, min: number, max: number): z.ZodType<number, string | undefined> {
  return trimmed.transform((v, ctx) => {
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `got "${v}"` });
      return z.NEVER;
    }
    const n = Number(v);
    if (n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `got ${n}, outside ${min}..${max}` });
      return z.NEVER;
    }
    return n;
  });
}

function boolean(fallback: boolean): z.ZodType<boolean, string | undefined> {
  return trimmed.transform((v, ctx) => {
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    if (['true', '1', 'yes'].includes(lower)) return true;
    if (['false', '0', 'no'].includes(lower)) return false;
    ctx.addIssue({ code: 'custom', message: `got "${v}"` });
    return z.NEVER;
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  fallback: T[number],
): z.ZodType<T[number], string | undefined> {
  return trimmed.transform((v, ctx) => {
    const value = v ?? fallback;
    if (!(values as readonly string[]).includes(value)) {
      ctx.addIssue({ code: 'custom', message: `got "${value}"` });
      return z.NEVER;
    }
    return value as T[number];
  });
}

function optionalUrl(protocols: readonly string[]): z.ZodType<string | undefined, string | undefined> {
  return trimmed.transform((v, ctx) => {
    if (v === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL' });
      return z.NEVER;
    }
    if (!protocols.includes(parsed.protocol)) {
      ctx.addIssue({ code: 'custom', message: `protocol ${parsed.protocol} not allowed` });
      return z.NEVER;
    }
    return v.replace(/\/+$/, '');
  });
}

/** A comma-separated list of URLs (empty entries ignored); undefined when unset or empty. */
function optionalUrlList(protocols: readonly string[]): z.ZodType<readonly string[] | undefined, string | undefined> {
  return trimmed.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const urls: string[] = [];
    for (const entry of v.split(',').map((e) => e.trim()).filter(Boolean)) {
      let parsed: URL;
      try {
        parsed = new URL(entry);
      } catch {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not a URL` });
        return z.NEVER;
      }
      if (!protocols.includes(parsed.protocol)) {
        ctx.addIssue({ code: 'custom', message: `protocol ${parsed.protocol} not allowed` });
        return z.NEVER;
      }
      urls.push(entry.replace(/\/+$/, ''));
    }
    return urls.length === 0 ? undefined : urls;
  });
}

/** A comma-separated list of strings (empty entries ignored); undefined when unset or empty. */
function optionalList(): z.ZodType<readonly string[] | undefined, string | undefined> {
  return trimmed.transform((v) => {
    const items = v?.split(',').map((e) => e.trim()).filter(Boolean) ?? [];
    return items.length === 0 ? undefined : items;
  });
}

function urlWithDefault(fallback: string): z.ZodType<string, string | undefined> {
  return optionalUrl(['https:', 'http:']).transform((v) => v ?? fallback);
}

const HTTP = ['https:', 'http:'] as const;
const E164 = /^\+[1-9]\d{6,14}$/;

function optionalPhoneNumber(): z.ZodType<string | undefined, string | undefined> {
  return trimmed.transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (!E164.test(v)) {
      // The value is a phone number: never echo it back into an error message.
      ctx.addIssue({ code: 'custom', message: 'not an E.164 number' });
      return z.NEVER;
    }
    return v;
  });
}

function optionalSecret(minLength: number): z.ZodType<string | undefined, string | undefined> {
  return trimmed.transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (v.length < minLength) {
      // The value is a secret: say what is wrong with it, never what it is.
      ctx.addIssue({ code: 'custom', message: `shorter than ${minLength} characters` });
      return z.NEVER;
    }
    return v;
  });
}

function spec<T>(s: SettingSpec<T>): SettingSpec<T> {
  return s;
}

export const SETTINGS = {
  APP_ENV: spec({
    schema: oneOf(ENVIRONMENTS, 'dev'),
    expects: `one of ${ENVIRONMENTS.join(', ')}`,
    description: 'Deployment environment; part of every Redis key.',
    sample: 'dev',
  }),
  REDIS_KEY_PREFIX: spec({
    schema: stringWithDefault('rtvoice', /^[a-z][a-z0-9-]{0,31}$/),
    expects: 'a lowercase identifier (letters, digits, dashes; at most 32 characters)',
    description: 'Application prefix of every Redis key.',
    sample: 'rtvoice',
  }),
  LOG_LEVEL: spec({
    schema: oneOf(['debug', 'info', 'warn', 'error'] as const, 'info'),
    expects: 'one of debug, info, warn, error',
    description: 'Minimum level of the app’s own logs.',
    sample: 'info',
  }),

  REDIS_HOST: spec({
    schema: stringWithDefault('127.0.0.1'),
    expects: 'a host name',
    description: 'Redis host (Azure Managed Redis: <name>.<region>.redis.azure.net).',
    sample: '127.0.0.1',
  }),
  REDIS_PORT: spec({
    schema: integer(6379, 1, 65535),
    expects: 'a port number 1..65535',
    description: 'Redis port (Azure Managed Redis: 10000).',
    sample: '6379',
  }),
  REDIS_TLS: spec({
    schema: boolean(false),
    expects: 'true or false',
    description: 'Connect to Redis over TLS (required by Azure Managed Redis).',
    sample: 'false',
  }),
  REDIS_CLUSTER: spec({
    schema: boolean(false),
    expects: 'true or false',
    description: 'Use the Redis Cluster protocol (Azure Managed Redis with the OSS cluster policy).',
    sample: 'false',
  }),
  REDIS_AUTH: spec({
    schema: oneOf(['none', 'key', 'entra'] as const, 'none'),
    expects: 'one of none, key, entra',
    description: 'Redis authentication: none (local), key (access key) or entra (managed identity).',
    sample: 'none',
  }),
  REDIS_PASSWORD: spec({
    schema: optionalString(),
    expects: 'the Redis access key, when REDIS_AUTH=key',
    description: 'Redis access key (local runs only).',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  REDIS_COMMAND_TIMEOUT_MS: spec({
    schema: integer(250, 10, 10_000),
    expects: 'milliseconds 10..10000',
    description: 'A Redis command that takes longer fails, so callers learn quickly that Redis is down.',
    sample: '250',
  }),
  REDIS_CONNECT_TIMEOUT_MS: spec({
    schema: integer(2000, 50, 60_000),
    expects: 'milliseconds 50..60000',
    description: 'Timeout of one Redis connection attempt.',
    sample: '2000',
  }),

  AZURE_CLIENT_ID: spec({
    schema: optionalString(),
    expects: 'the client id of the user-assigned managed identity',
    description: 'User-assigned managed identity used by DefaultAzureCredential (cloud only).',
    sample: '',
  }),

  COSMOS_ENDPOINT: spec({
    schema: optionalUrl(HTTP),
    expects: 'an https URL of the Cosmos DB account',
    description: 'Cosmos DB for NoSQL account endpoint.',
    sample: 'https://localhost:8081',
  }),
  COSMOS_KEY: spec({
    schema: optionalString(),
    expects: 'the Cosmos DB account key (local runs only)',
    description: 'Cosmos DB key; leave empty to use managed identity.',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  COSMOS_DATABASE: spec({
    schema: stringWithDefault('rtvoice', /^[A-Za-z0-9_-]{1,255}$/),
    expects: 'a database name',
    description: 'Cosmos DB database holding transcripts, profiles, analytics and audit.',
    sample: 'rtvoice',
  }),
  AUDIT_TTL_DAYS: spec({
    schema: integer(365, 1, 3650),
    expects: 'days 1..3650',
    description: 'Retention of audit documents.',
    sample: '365',
  }),
  USER_ID_SALT: spec({
    schema: optionalSecret(32),
    expects: 'a random secret of at least 32 characters',
    description:
      'HMAC key of caller numbers into user ids, so ids cannot be matched against enumerated numbers (Key Vault reference in Azure; required in prod). Never change it after first use: every existing profile would be orphaned.',
    sample: '',
    secret: true,
  }),

  ACS_ENDPOINT: spec({
    schema: optionalUrl(HTTP),
    expects: 'the https endpoint of the Communication Services resource',
    description: 'ACS endpoint (managed identity auth).',
    sample: '',
  }),
  ACS_CONNECTION_STRING: spec({
    schema: optionalString(),
    expects: 'endpoint=…;accesskey=…',
    description: 'ACS connection string (local runs only).',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  ACS_CALLBACK_BASE_URL: spec({
    schema: optionalUrl(HTTP),
    expects: 'the public base URL of this Function App, e.g. https://<app>.azurewebsites.net',
    description: 'Base of the per-call callback URL given to ACS.',
    sample: 'http://localhost:7071',
  }),
  ACS_CALLBACK_AUTH: spec({
    schema: oneOf(['jwt', 'signature', 'jwt+signature'] as const, 'jwt+signature'),
    expects: 'one of jwt, signature, jwt+signature',
    description: 'How ACS callbacks are authenticated; never neither.',
    sample: 'jwt+signature',
  }),
  ACS_CALLBACK_SIGNING_KEY: spec({
    schema: optionalString(),
    expects: 'a random secret of at least 32 characters',
    description: 'HMAC key for the per-call signature in callback URLs (Key Vault reference in Azure).',
    sample: '',
    secret: true,
  }),
  ACS_JWT_ISSUER: spec({
    schema: stringWithDefault('https://acscallautomation.communication.azure.com'),
    expects: 'the issuer of ACS callback tokens',
    description: 'Expected `iss` of ACS-signed callback JWTs.',
    sample: 'https://acscallautomation.communication.azure.com',
  }),
  ACS_JWT_AUDIENCE: spec({
    schema: optionalString(),
    expects: 'the immutable resource id of the ACS resource',
    description: 'Expected `aud` of ACS-signed callback JWTs.',
    sample: '',
  }),
  ACS_JWT_MAX_LIFETIME_SECONDS: spec({
    schema: integer(900, 60, 3600),
    expects: 'seconds 60..3600',
    description: 'Longest lifetime an ACS callback JWT may claim (ACS issues 5-minute tokens).',
    sample: '900',
  }),
  ACS_JWKS_URL: spec({
    schema: urlWithDefault('https://acscallautomation.communication.azure.com/calling/keys'),
    expects: 'a URL serving the JWKS',
    description: 'Signing keys of ACS callback JWTs.',
    sample: 'https://acscallautomation.communication.azure.com/calling/keys',
  }),
  ACS_SOURCE_NUMBER: spec({
    schema: optionalPhoneNumber(),
    expects: 'an E.164 phone number (+15550100)',
    description: 'Caller id for outbound calls.',
    sample: '',
  }),
  TRANSFER_TARGET_NUMBER: spec({
    schema: optionalPhoneNumber(),
    expects: 'an E.164 phone number (+15550100)',
    description: 'Where `transfer_to_human` sends the caller.',
    sample: '',
  }),
  COGNITIVE_SERVICES_ENDPOINT: spec({
    schema: optionalUrl(HTTP),
    expects: 'the https endpoint of the AI services resource connected to ACS',
    description: 'Speech for ACS recognize and play.',
    sample: '',
  }),
  AGENTS_DIR: spec({
    schema: stringWithDefault('agents'),
    expects: 'a folder path',
    description: 'Agent definitions (`routing.yaml`, a folder per scenario), relative to the app root.',
    sample: 'agents',
  }),
  AGENTS_SOURCE: spec({
    schema: oneOf(['files', 'cosmos', 'blob'] as const, 'files'),
    expects: 'files, cosmos or blob',
    description:
      'Where agent definitions load from: `files` reads AGENTS_DIR once at start; `cosmos` reads the AGENTS_COSMOS_CONTAINER container of COSMOS_DATABASE (one document per file), `blob` the files under AGENTS_BLOB_CONTAINER_URL (`npm run agents:publish` writes either), and both are re-checked every AGENTS_REFRESH_SECONDS, so an agent changes without a redeploy.',
    sample: 'files',
  }),
  AGENTS_BLOB_CONTAINER_URL: spec({
    schema: optionalUrl(HTTP),
    expects: 'the URL of a Blob container, optionally with a folder: https://<account>.blob.core.windows.net/<container>[/<folder>]',
    description: 'Blob container (and folder) of the agent definitions when AGENTS_SOURCE=blob; read with the app identity (Storage Blob Data Reader or above).',
    sample: '',
  }),
  AGENTS_BLOB_CONNECTION_STRING: spec({
    schema: optionalString(),
    expects: 'a storage connection string (local runs only, e.g. Azurite)',
    description: 'Storage account key for AGENTS_BLOB_CONTAINER_URL; leave empty to use managed identity.',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  AGENTS_COSMOS_CONTAINER: spec({
    schema: stringWithDefault('agentDefinitions', /^[A-Za-z0-9_-]{1,255}$/),
    expects: 'a container name',
    description: 'Cosmos DB container of the agent definitions (partition key `/scenario`) when AGENTS_SOURCE=cosmos.',
    sample: 'agentDefinitions',
  }),
  AGENTS_REFRESH_SECONDS: spec({
    schema: integer(60, 5, 86400),
    expects: 'seconds 5..86400',
    description:
      'How often, at most, the app re-checks the definitions (Cosmos DB `_etag`s, blob ETags) when AGENTS_SOURCE=cosmos or blob; a changed version that does not validate is refused and logged, and the last good one keeps serving.',
    sample: '60',
  }),
  AGENT_VOICE: spec({
    schema: stringWithDefault('en-US-AvaMultilingualNeural'),
    expects: 'a neural voice name',
    description: 'Voice of text-to-speech played by ACS.',
    sample: 'en-US-AvaMultilingualNeural',
  }),
  AGENT_LOCALE: spec({
    schema: stringWithDefault('en-US', /^[a-z]{2,3}-[A-Z]{2}$/),
    expects: 'a locale such as en-US',
    description: 'Speech recognition and synthesis locale.',
    sample: 'en-US',
  }),

  WEBPUBSUB_ENDPOINT: spec({
    schema: optionalUrl(HTTP),
    expects: 'the https endpoint of the Web PubSub resource',
    description: 'Azure Web PubSub endpoint (managed identity auth).',
    sample: '',
  }),
  WEBPUBSUB_CONNECTION_STRING: spec({
    schema: optionalString(),
    expects: 'Endpoint=…;AccessKey=…;Version=1.0;',
    description: 'Web PubSub connection string (local runs only).',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  WEBPUBSUB_ENDPOINTS: spec({
    schema: optionalUrlList(HTTP),
    expects: 'comma-separated https endpoints of the Web PubSub shards',
    description: 'Every Web PubSub resource calls are sharded across (replaces WEBPUBSUB_ENDPOINT when set).',
    sample: '',
  }),
  WEBPUBSUB_CONNECTION_STRINGS: spec({
    schema: optionalList(),
    expects: 'comma-separated Web PubSub connection strings',
    description: 'Connection strings of the Web PubSub shards (local runs only; replaces WEBPUBSUB_CONNECTION_STRING).',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  WEBPUBSUB_HUB: spec({
    schema: stringWithDefault(DEFAULT_MEDIA_HUB, /^[A-Za-z][A-Za-z0-9_]{0,127}$/),
    expects: 'a hub name (letters, digits, underscore)',
    description: 'Web PubSub hub carrying media.',
    sample: 'media',
  }),
  MEDIA_MODE: spec({
    schema: oneOf(['off', 'realtime'] as const, 'off'),
    expects: 'off or realtime',
    description: 'off: ACS recognize/play turns; realtime: media streaming through Web PubSub.',
    sample: 'off',
  }),
  MEDIA_AUDIO_FORMAT: spec({
    schema: oneOf(['pcm24KMono', 'pcm16KMono'] as const, 'pcm24KMono'),
    expects: 'pcm24KMono or pcm16KMono',
    description: 'Audio format of the media stream.',
    sample: 'pcm24KMono',
  }),
  RELAY_ENABLED: spec({
    schema: boolean(false),
    expects: 'true or false',
    description: 'The relay role: start the media relay in this app\'s instances (only the relay app, whose instances are always ready).',
    sample: 'false',
  }),
  RELAY_STANDBY: spec({
    schema: boolean(false),
    expects: 'true or false',
    description: 'A standby relay per call: a second relay hears the caller too and keeps the last 30 s of the caller\'s speech, so a relay that dies loses no caller turn (doubles the inbound group\'s Web PubSub messages).',
    sample: 'false',
  }),

  AGENT_MODE: spec({
    schema: oneOf(['offline', 'azure-openai'] as const, 'offline'),
    expects: 'offline or azure-openai',
    description: 'offline: deterministic responder; azure-openai: Azure OpenAI models.',
    sample: 'offline',
  }),
  AZURE_OPENAI_ENDPOINT: spec({
    schema: optionalUrl(HTTP),
    expects: 'the https endpoint of the Azure OpenAI resource',
    description: 'Azure OpenAI endpoint.',
    sample: '',
  }),
  AZURE_OPENAI_API_KEY: spec({
    schema: optionalString(),
    expects: 'an Azure OpenAI key (local runs only)',
    description: 'Azure OpenAI key; leave empty to use managed identity.',
    sample: '',
    secret: true,
    scope: 'local',
  }),
  AZURE_OPENAI_API_VERSION: spec({
    schema: stringWithDefault('2025-04-01-preview', /^\d{4}-\d{2}-\d{2}(-preview)?$/),
    expects: 'an API version such as 2025-04-01-preview',
    description: 'Azure OpenAI data-plane API version.',
    sample: '2025-04-01-preview',
  }),
  AZURE_OPENAI_CHAT_DEPLOYMENT: spec({
    schema: stringWithDefault('gpt-4o-mini'),
    expects: 'a deployment name',
    description: 'Chat completions deployment.',
    sample: 'gpt-4o-mini',
  }),
  AZURE_OPENAI_REALTIME_DEPLOYMENT: spec({
    schema: stringWithDefault('gpt-realtime'),
    expects: 'a deployment name',
    description: 'Realtime (voice-to-voice) deployment.',
    sample: 'gpt-realtime',
  }),
  AZURE_OPENAI_TTS_DEPLOYMENT: spec({
    schema: stringWithDefault('gpt-4o-mini-tts'),
    expects: 'a deployment name',
    description: 'Text-to-speech deployment for fixed prompts.',
    sample: 'gpt-4o-mini-tts',
  }),

  MAX_CALL_DURATION_SECONDS: spec({
    schema: integer(3600, 60, 4 * 3600),
    expects: 'seconds 60..14400',
    description: 'A call is hung up after this long.',
    sample: '3600',
  }),
  SILENCE_REPROMPTS: spec({
    schema: integer(2, 0, 10),
    expects: 'a count 0..10',
    description: 'Re-prompts after silence before the agent says goodbye.',
    sample: '2',
  }),
  LIMIT_RECOGNIZED_TEXT_CHARS: spec({
    schema: integer(2_000, 100, 100_000),
    expects: 'characters 100..100000',
    description: 'Longest caller utterance kept (recognized by ACS, or transcribed on the media path); longer ones are cut and the turn records it.',
    sample: '2000',
  }),
  LIMIT_DTMF_TONES: spec({
    schema: integer(64, 1, 1_000),
    expects: 'a count 1..1000',
    description: 'Most DTMF tones taken from one recognize result.',
    sample: '64',
  }),
  LIMIT_TOOL_ARGUMENTS_CHARS: spec({
    schema: integer(4_096, 256, 100_000),
    expects: 'characters 256..100000',
    description: 'Longest tool-call arguments the model may send; longer ones are not parsed.',
    sample: '4096',
  }),
  LIMIT_MODEL_OUTPUT_CHARS: spec({
    schema: integer(4_000, 200, 100_000),
    expects: 'characters 200..100000',
    description: 'Longest agent reply spoken and kept (on the media path: the stored transcript); longer ones are cut and the turn records it.',
    sample: '4000',
  }),
  TURN_BUDGET_MS: spec({
    schema: integer(6_000, 500, 60_000),
    expects: 'milliseconds 500..60000',
    description: 'How long a callback turn may take to have its answer ready: the reads, the profile lookup and the model call share it, and the write and the ACS request that follow get as long again. When it runs out the caller hears the apology, the turn records timedOut, and the call analytics count it (timedOutTurns).',
    sample: '6000',
  }),
  LIMIT_CONTEXT_FIELD_CHARS: spec({
    schema: integer(512, 32, 10_000),
    expects: 'characters 32..10000',
    description: 'Longest text value written to a conversation context field (caller name, purpose…).',
    sample: '512',
  }),
  ARCHIVE_RETRY_HORIZON_SECONDS: spec({
    schema: integer(86_400, 60, 7 * 86_400),
    expects: 'seconds 60..604800',
    description: 'How long finalize and archive are retried (on durable timers, through a Cosmos DB outage) before a call is given up.',
    sample: '86400',
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

export type RawSettings = {
  [K in SettingName]: (typeof SETTINGS)[K] extends SettingSpec<infer T> ? T : never;
};
