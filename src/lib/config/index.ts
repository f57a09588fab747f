import { SETTINGS, SETTING_NAMES, type Environment, type RawSettings, type SettingName } from './settings.js';

export { SETTINGS, SETTING_NAMES, ENVIRONMENTS } from './settings.js';
export type { Environment, SettingName, SettingSpec } from './settings.js';

export interface ConfigIssue {
  readonly variable: SettingName;
  readonly expects: string;
  readonly problem: string;
}

/** Every offending setting at once, so a deployment is fixed in one pass. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(
      `Invalid configuration (${issues.length} setting${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i.variable}: ${i.problem}; expected ${i.expects}`).join('\n'),
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
  };
  readonly lifecycle: {
    readonly maxCallDurationSeconds: number;
    readonly silenceReprompts: number;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

function parseEach(env: Env): { raw: Partial<RawSettings>; issues: ConfigIssue[] } {
  const raw: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const name of SETTING_NAMES) {
    const setting = SETTINGS[name];
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
    if (!s.WEBPUBSUB_ENDPOINT && !s.WEBPUBSUB_CONNECTION_STRING) {
      add('WEBPUBSUB_ENDPOINT', 'missing (and no WEBPUBSUB_CONNECTION_STRING) while media is on');
    }
  }
  if (s.WEBPUBSUB_CONNECTION_STRING && !/endpoint=[^;]+/i.test(s.WEBPUBSUB_CONNECTION_STRING)) {
    add('WEBPUBSUB_CONNECTION_STRING', 'malformed');
  }
  if (s.AGENT_MODE === 'azure-openai' && !s.AZURE_OPENAI_ENDPOINT) {
    add('AZURE_OPENAI_ENDPOINT', 'missing while AGENT_MODE=azure-openai');
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
    agents: { definitionsDir: s.AGENTS_DIR },
    lifecycle: {
      maxCallDurationSeconds: s.MAX_CALL_DURATION_SECONDS,
      silenceReprompts: s.SILENCE_REPROMPTS,
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

let cached: AppConfig | undefined;

/** The process-wide configuration, validated on first use (the app's start-up). */
export function getConfig(): AppConfig {
  cached ??= loadConfig(process.env);
  return cached;
}

/** For tests and dev hosts that change the environment between runs. */
export function resetConfig(): void {
  cached = undefined;
}
