import { AppError } from '../errors.js';
import { SETTINGS, SETTING_NAMES, type Environment, type RawSettings, type SettingName } from './settings.js';

export { SETTINGS, SETTING_NAMES, ENVIRONMENTS } from './settings.js';
export type { Environment, SettingName, SettingSpec } from './settings.js';

export interface ConfigIssue {
  readonly variable: SettingName;
  readonly expects: string;
  readonly problem: string;
}

/** Every offending setting at once, so a deployment is fixed in one pass. */
export class ConfigError extends AppError {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(
      `Invalid configuration (${issues.length} setting${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.variable}: ${i.problem}; expected ${i.expects}`).join('\n'),
      { code: 'invalid_config', context: { settings: issues.map((i) => i.variable).join(',') } },
    );
  }
}

export interface RedisConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly cluster: boolean;
  readonly auth: 'none' | 'key' | 'entra';
  readonly password: string | undefined;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface AppConfig {
  readonly env: Environment;
  readonly keyPrefix: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly managedIdentityClientId: string | undefined;
  readonly redis: RedisConfig;
  readonly cosmos: {
    readonly endpoint: string | undefined;
    readonly key: string | undefined;
    readonly database: string;
    readonly auditTtlDays: number;
  };
  readonly archive: {
    /** Keys `userIdFromPhoneNumber`; undefined only outside prod, where ids fall back to an unkeyed domain tag. */
    readonly userIdSalt: string | undefined;
  };
  readonly acs: {
    readonly endpoint: string | undefined;
    readonly connectionString: string | undefined;
    readonly callbackBaseUrl: string | undefined;
    readonly callbackAuth: 'jwt' | 'signature' | 'jwt+signature';
    readonly callbackSigningKey: string | undefined;
    readonly jwtIssuer: string;
    readonly jwtAudience: string | undefined;
    readonly jwtMaxLifetimeSeconds: number;
    readonly jwksUrl: string;
    readonly sourceNumber: string | undefined;
    readonly transferTargetNumber: string | undefined;
    readonly cognitiveServicesEndpoint: string | undefined;
    readonly voice: string;
    readonly locale: string;
  };
  readonly webPubSub: {
    readonly endpoint: string | undefined;
    readonly connectionString: string | undefined;
    readonly hub: string;
    readonly mediaMode: 'off' | 'realtime';
    readonly audioFormat: 'pcm24KMono' | 'pcm16KMono';
    readonly relayEnabled: boolean;
    /** A standby relay per call keeps the caller's audio for a takeover (see media/standby.ts). */
    readonly relayStandby: boolean;
    /**
     * The Web PubSub resources calls are sharded across (one for most deployments). Shard 0 also
     * carries the relays' control group. Each entry has a connection string (local) or an endpoint.
     */
    readonly shards: ReadonlyArray<{ readonly endpoint?: string; readonly connectionString?: string }>;
  };
  readonly agent: {
    readonly mode: 'offline' | 'azure-openai';
    readonly endpoint: string | undefined;
    readonly apiKey: string | undefined;
    readonly apiVersion: string;
    readonly chatDeployment: string;
    readonly realtimeDeployment: string;
    readonly ttsDeployment: string;
  };
  readonly agents: {
    /** Where the agent definitions are (`AGENTS_DIR`), relative to the app root. */
    readonly definitionsDir: string;
    /** `files`: AGENTS_DIR, read once; `cosmos`: a container of COSMOS_DATABASE; `blob`: a Blob container (`AGENTS_SOURCE`); both re-checked. */
    readonly source: 'files' | 'cosmos' | 'blob';
    readonly cosmosContainer: string;
    /** The Blob container (and folder) URL when the source is `blob`. */
    readonly blobContainerUrl: string | undefined;
    /** A connection string for that account, local runs only (Azurite). */
    readonly blobConnectionString: string | undefined;
    readonly refreshSeconds: number;
  };
  /** Bounds on text that comes from outside (the caller, the network, the model). */
  readonly limits: {
    readonly recognizedTextChars: number;
    readonly dtmfTones: number;
    readonly toolArgumentsChars: number;
    readonly modelOutputChars: number;
    readonly contextFieldChars: number;
    /** `TURN_BUDGET_MS`: how long the callback turn may take to have an answer ready. */
    readonly turnBudgetMs: number;
  };
  readonly lifecycle: {
    readonly maxCallDurationSeconds: number;
    readonly silenceReprompts: number;
    readonly archiveRetryHorizonSeconds: number;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A value that is still the text of a reference the platform was meant to replace: an App Service Key
 * Vault reference that has not resolved (the app then receives the literal `@Microsoft.KeyVault(…)`), or a
 * `%NAME%` / `${NAME}` placeholder from a template or parameter file that was never substituted. Taken
 * as a value, it would pass most checks (a Key Vault reference is longer than 32 characters) and become a
 * secret that changes as soon as the reference resolves.
 */
export function unresolvedReference(value: string | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^@Microsoft\.KeyVault\(/i.test(v)) {
    return 'an unresolved Key Vault reference (the platform could not read the secret: check that the app identity holds Key Vault Secrets User on it and that the SecretUri exists)';
  }
  if (/%[A-Za-z_][A-Za-z0-9_]*%/.test(v)) return 'an unsubstituted %NAME% placeholder';
  if (/\$\{[A-Za-z_][A-Za-z0-9_]*(?:=[^}]*)?\}/.test(v)) return 'an unsubstituted ${NAME} placeholder';
  return undefined;
}

function parseEach(env: Env): { raw: Partial<RawSettings>; issues: ConfigIssue[] } {
  const raw: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const name of SETTING_NAMES) {
    const setting = SETTINGS[name];
    // Said without the value: a reference names where a secret lives.
    const unresolved = unresolvedReference(env[name]);
    if (unresolved) {
      issues.push({ variable: name, expects: setting.expects, problem: unresolved });
      continue;
    }
    const result = setting.schema.safeParse(env[name]);
    if (result.success) {
      raw[name] = result.data;
    } else {
      const problem = result.error.issues.map((i) => i.message).join('; ');
      issues.push({ variable: name, expects: setting.expects, problem });
    }
  }
  return { raw: raw as Partial<RawSettings>, issues };
}

/** Rules that involve more than one variable; each names the variable to change. */
function crossCheck(s: RawSettings): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (variable: SettingName, problem: string, expects = SETTINGS[variable].expects) =>
    issues.push({ variable, problem, expects });

  if (s.REDIS_AUTH === 'key' && !s.REDIS_PASSWORD) add('REDIS_PASSWORD', 'missing while REDIS_AUTH=key');
  if (s.REDIS_AUTH !== 'key' && s.REDIS_PASSWORD) {
    add('REDIS_PASSWORD', `set while REDIS_AUTH=${s.REDIS_AUTH}`, 'empty unless REDIS_AUTH=key');
  }
  if (s.REDIS_AUTH === 'entra' && !s.REDIS_TLS) add('REDIS_TLS', 'false while REDIS_AUTH=entra', 'true');

  const needsSignature = s.ACS_CALLBACK_AUTH !== 'jwt';
  if (needsSignature && (!s.ACS_CALLBACK_SIGNING_KEY || s.ACS_CALLBACK_SIGNING_KEY.length < 32)) {
    add(
      'ACS_CALLBACK_SIGNING_KEY',
      s.ACS_CALLBACK_SIGNING_KEY ? 'shorter than 32 characters' : `missing while ACS_CALLBACK_AUTH=${s.ACS_CALLBACK_AUTH}`,
    );
  }
  if (s.ACS_CALLBACK_AUTH !== 'signature' && !s.ACS_JWT_AUDIENCE) {
    add('ACS_JWT_AUDIENCE', `missing while ACS_CALLBACK_AUTH=${s.ACS_CALLBACK_AUTH}`);
  }
  if (!s.ACS_ENDPOINT && !s.ACS_CONNECTION_STRING) {
    add('ACS_ENDPOINT', 'missing (and no ACS_CONNECTION_STRING)');
  }
  if (s.ACS_CONNECTION_STRING && !/^endpoint=[^;]+;accesskey=[^;]+$/i.test(s.ACS_CONNECTION_STRING)) {
    add('ACS_CONNECTION_STRING', 'malformed');
  }
  if (!s.ACS_CALLBACK_BASE_URL) add('ACS_CALLBACK_BASE_URL', 'missing');
  if (!s.COSMOS_ENDPOINT) add('COSMOS_ENDPOINT', 'missing');

  if (s.MEDIA_MODE === 'realtime' || s.RELAY_ENABLED) {
    if (!s.WEBPUBSUB_ENDPOINT && !s.WEBPUBSUB_CONNECTION_STRING && !s.WEBPUBSUB_ENDPOINTS && !s.WEBPUBSUB_CONNECTION_STRINGS) {
      add('WEBPUBSUB_ENDPOINT', 'missing (and no WEBPUBSUB_CONNECTION_STRING) while media is on');
    }
  }
  if (s.WEBPUBSUB_CONNECTION_STRING && !/endpoint=[^;]+/i.test(s.WEBPUBSUB_CONNECTION_STRING)) {
    add('WEBPUBSUB_CONNECTION_STRING', 'malformed');
  }
  const malformedShard = s.WEBPUBSUB_CONNECTION_STRINGS?.findIndex((c) => !/endpoint=[^;]+/i.test(c)) ?? -1;
  if (malformedShard >= 0) add('WEBPUBSUB_CONNECTION_STRINGS', `entry ${malformedShard + 1} malformed`);
  if (s.AGENT_MODE === 'azure-openai' && !s.AZURE_OPENAI_ENDPOINT) {
    add('AZURE_OPENAI_ENDPOINT', 'missing while AGENT_MODE=azure-openai');
  } else if ((s.MEDIA_MODE === 'realtime' || s.RELAY_ENABLED) && !s.AZURE_OPENAI_ENDPOINT) {
    // The relay bridges every media call to the Azure OpenAI realtime deployment, whatever AGENT_MODE says.
    add('AZURE_OPENAI_ENDPOINT', `missing while ${s.MEDIA_MODE === 'realtime' ? 'MEDIA_MODE=realtime' : 'RELAY_ENABLED=true'}`);
  }
  if (s.AGENTS_SOURCE === 'blob' && !s.AGENTS_BLOB_CONTAINER_URL) add('AGENTS_BLOB_CONTAINER_URL', 'missing while AGENTS_SOURCE=blob');
  if (s.AGENTS_BLOB_CONTAINER_URL && new URL(s.AGENTS_BLOB_CONTAINER_URL).pathname.split('/').filter(Boolean).length === 0) {
    add('AGENTS_BLOB_CONTAINER_URL', 'names no container');
  }
  if (s.MEDIA_MODE === 'off' && s.RELAY_ENABLED) {
    add('RELAY_ENABLED', 'true while MEDIA_MODE=off (no call would ever reach the relay)', 'false unless MEDIA_MODE=realtime');
  }

  if (s.APP_ENV === 'prod') {
    // Keys are for local runs; production authenticates every data plane with managed identity.
    for (const name of SETTING_NAMES) {
      const setting = SETTINGS[name];
      if ('scope' in setting && setting.scope === 'local' && s[name] !== undefined) {
        add(name, 'set while APP_ENV=prod', 'empty in prod (use managed identity)');
      }
    }
    if (s.REDIS_AUTH === 'none') add('REDIS_AUTH', 'none while APP_ENV=prod', 'key or entra');
    // Without a secret key, anyone with the algorithm can test phone numbers against a user id.
    if (!s.USER_ID_SALT) add('USER_ID_SALT', 'missing while APP_ENV=prod');
  }
  return issues;
}

function shape(s: RawSettings): AppConfig {
  return {
    env: s.APP_ENV,
    keyPrefix: s.REDIS_KEY_PREFIX,
    logLevel: s.LOG_LEVEL,
    managedIdentityClientId: s.AZURE_CLIENT_ID,
    redis: {
      host: s.REDIS_HOST,
      port: s.REDIS_PORT,
      tls: s.REDIS_TLS,
      cluster: s.REDIS_CLUSTER,
      auth: s.REDIS_AUTH,
      password: s.REDIS_PASSWORD,
      commandTimeoutMs: s.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: s.REDIS_CONNECT_TIMEOUT_MS,
    },
    cosmos: {
      endpoint: s.COSMOS_ENDPOINT,
      key: s.COSMOS_KEY,
      database: s.COSMOS_DATABASE,
      auditTtlDays: s.AUDIT_TTL_DAYS,
    },
    archive: {
      userIdSalt: s.USER_ID_SALT,
    },
    acs: {
      endpoint: s.ACS_ENDPOINT,
      connectionString: s.ACS_CONNECTION_STRING,
      callbackBaseUrl: s.ACS_CALLBACK_BASE_URL,
      callbackAuth: s.ACS_CALLBACK_AUTH,
      callbackSigningKey: s.ACS_CALLBACK_SIGNING_KEY,
      jwtIssuer: s.ACS_JWT_ISSUER,
      jwtAudience: s.ACS_JWT_AUDIENCE,
      jwtMaxLifetimeSeconds: s.ACS_JWT_MAX_LIFETIME_SECONDS,
      jwksUrl: s.ACS_JWKS_URL,
      sourceNumber: s.ACS_SOURCE_NUMBER,
      transferTargetNumber: s.TRANSFER_TARGET_NUMBER,
      cognitiveServicesEndpoint: s.COGNITIVE_SERVICES_ENDPOINT,
      voice: s.AGENT_VOICE,
      locale: s.AGENT_LOCALE,
    },
    webPubSub: {
      endpoint: s.WEBPUBSUB_ENDPOINT,
      connectionString: s.WEBPUBSUB_CONNECTION_STRING,
      hub: s.WEBPUBSUB_HUB,
      mediaMode: s.MEDIA_MODE,
      audioFormat: s.MEDIA_AUDIO_FORMAT,
      relayEnabled: s.RELAY_ENABLED,
      relayStandby: s.RELAY_STANDBY,
      shards: webPubSubShards(s.WEBPUBSUB_CONNECTION_STRINGS ?? (s.WEBPUBSUB_CONNECTION_STRING ? [s.WEBPUBSUB_CONNECTION_STRING] : []), s.WEBPUBSUB_ENDPOINTS ?? (s.WEBPUBSUB_ENDPOINT ? [s.WEBPUBSUB_ENDPOINT] : [])),
    },
    agent: {
      mode: s.AGENT_MODE,
      endpoint: s.AZURE_OPENAI_ENDPOINT,
      apiKey: s.AZURE_OPENAI_API_KEY,
      apiVersion: s.AZURE_OPENAI_API_VERSION,
      chatDeployment: s.AZURE_OPENAI_CHAT_DEPLOYMENT,
      realtimeDeployment: s.AZURE_OPENAI_REALTIME_DEPLOYMENT,
      ttsDeployment: s.AZURE_OPENAI_TTS_DEPLOYMENT,
    },
    agents: { definitionsDir: s.AGENTS_DIR, source: s.AGENTS_SOURCE, cosmosContainer: s.AGENTS_COSMOS_CONTAINER, blobContainerUrl: s.AGENTS_BLOB_CONTAINER_URL, blobConnectionString: s.AGENTS_BLOB_CONNECTION_STRING, refreshSeconds: s.AGENTS_REFRESH_SECONDS },
    limits: {
      recognizedTextChars: s.LIMIT_RECOGNIZED_TEXT_CHARS,
      dtmfTones: s.LIMIT_DTMF_TONES,
      toolArgumentsChars: s.LIMIT_TOOL_ARGUMENTS_CHARS,
      modelOutputChars: s.LIMIT_MODEL_OUTPUT_CHARS,
      contextFieldChars: s.LIMIT_CONTEXT_FIELD_CHARS,
      turnBudgetMs: s.TURN_BUDGET_MS,
    },
    lifecycle: {
      maxCallDurationSeconds: s.MAX_CALL_DURATION_SECONDS,
      silenceReprompts: s.SILENCE_REPROMPTS,
      archiveRetryHorizonSeconds: s.ARCHIVE_RETRY_HORIZON_SECONDS,
    },
  };
}

/**
 * Reads and validates every setting. Throws one {@link ConfigError} naming every offending variable.
 *
 * @example
 * const config = loadConfig(process.env);
 * config.redis.port; // 6379 unless REDIS_PORT says otherwise
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const { raw, issues } = parseEach(env);
  if (issues.length > 0) {
    // Report cross-field problems too, but only for variables that parsed on their own.
    const bad = new Set(issues.map((i) => i.variable));
    const partial = { ...raw } as RawSettings;
    const more = safeCrossCheck(partial).filter((i) => !bad.has(i.variable));
    throw new ConfigError([...issues, ...more]);
  }
  const settings = raw as RawSettings;
  const crossIssues = crossCheck(settings);
  if (crossIssues.length > 0) throw new ConfigError(crossIssues);
  return shape(settings);
}

function safeCrossCheck(partial: RawSettings): ConfigIssue[] {
  try {
    return crossCheck(partial);
  } catch {
    // A rule read a variable that failed to parse; that variable is already reported.
    return [];
  }
}

/** The shards: connection strings (local runs) take precedence over endpoints, as for a single resource. */
function webPubSubShards(connectionStrings: readonly string[], endpoints: readonly string[]): AppConfig['webPubSub']['shards'] {
  if (connectionStrings.length > 0) return connectionStrings.map((connectionString) => ({ connectionString }));
  return endpoints.map((endpoint) => ({ endpoint }));
}
