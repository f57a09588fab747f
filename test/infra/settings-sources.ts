import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SETTINGS, type SettingName } from '../../src/lib/config/settings.js';
import { declarations, entry, literalString, matching, objectEntries, tokenize } from './bicep-text.js';

/**
 * Every place a setting name comes from, gathered so settings-consistency can compare them.
 * Pure data in, plain lists out: the comparison itself lives in `settingsProblems`.
 */

export const REPO = new URL('../../', import.meta.url).pathname;

/**
 * Settings the Functions host reads itself (not the app's code), so they are not in SETTINGS.
 * Each is allowed where noted and nowhere else; none is required by this list (what is required
 * comes from host.json and the bindings).
 */
export const HOST_SETTINGS: Readonly<Record<string, { readonly local: boolean; readonly cloud: boolean; readonly why: string }>> = {
  AzureWebJobsStorage: { local: true, cloud: false, why: 'a connection string: Azurite locally; refused in Azure (identity-based instead)' },
  AzureWebJobsStorage__accountName: { local: false, cloud: true, why: 'identity-based host storage (and the Durable task hub)' },
  AzureWebJobsStorage__credential: { local: false, cloud: true, why: 'identity-based host storage: managedidentity' },
  AzureWebJobsStorage__clientId: { local: false, cloud: true, why: 'which user-assigned identity the host uses for storage' },
  FUNCTIONS_WORKER_RUNTIME: { local: true, cloud: false, why: 'Core Tools needs it; Flex Consumption rejects it (runtime is in functionAppConfig)' },
  FUNCTIONS_EXTENSION_VERSION: { local: true, cloud: false, why: 'Flex Consumption rejects it (runtime is in functionAppConfig)' },
  AzureWebJobsFeatureFlags: { local: true, cloud: false, why: 'worker indexing flag for older Core Tools; the default in Azure' },
  APPLICATIONINSIGHTS_CONNECTION_STRING: { local: true, cloud: true, why: 'telemetry destination (ingestion address, not a credential)' },
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: { local: false, cloud: true, why: 'Entra ID telemetry ingestion with the app identity' },
  languageWorkers__node__arguments: { local: false, cloud: true, why: "Node flags of the worker: the young generation that keeps GC pauses shortest in the callback and turn-persistence tails (bench/results/callbacks-young-generation.json)" },
};

/** Set by the platform in every Function App; code may read them without anyone setting them. */
export const PLATFORM_SETTINGS = new Set([
  'WEBSITE_INSTANCE_ID',
  'WEBSITE_SITE_NAME',
  'WEBSITE_HOSTNAME',
  'WEBSITE_OWNER_NAME',
  'CONTAINER_NAME',
  'NODE_ENV',
  'CI',
]);

export interface SettingsSources {
  /** SETTINGS, with their scope and secret flags. */
  readonly settings: ReadonlyArray<{
    readonly name: string;
    readonly local: boolean;
    readonly secret: boolean;
    /** Whether the config module accepts this raw value. */
    readonly accepts: (value: string) => boolean;
  }>;
  /** `%NAME%` references in host.json. */
  readonly hostJson: readonly string[];
  /** Binding `connection` names and `%NAME%` references in src/functions. */
  readonly bindings: readonly string[];
  /** `process.env.NAME` / `process.env['NAME']` reads anywhere in src, with the file. */
  readonly envReads: ReadonlyArray<{ readonly name: string; readonly file: string }>;
  /** App settings of the Function App in infra/, with their raw value text. */
  readonly infra: ReadonlyArray<{ readonly name: string; readonly literal: string | undefined; readonly text: string }>;
  /** Keys of `Values` in local.settings.sample.json. */
  readonly sample: readonly string[];
}

export function read(path: string): string {
  return readFileSync(join(REPO, path), 'utf8');
}

function filesUnder(dir: string, extension: string): string[] {
  const out: string[] = [];
  for (const item of readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })) {
    if (item.isFile() && item.name.endsWith(extension)) out.push(relative(REPO, join(item.parentPath, item.name)));
  }
  return out.sort();
}

export function hostJsonReferences(hostJson: string): string[] {
  return [...new Set([...hostJson.matchAll(/%([A-Za-z_][A-Za-z0-9_]*)%/g)].map((m) => m[1]!))];
}

export function bindingReferences(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/\bconnection\s*:\s*['"`]([A-Za-z_][A-Za-z0-9_]*)['"`]/g)) names.add(m[1]!);
  for (const m of source.matchAll(/['"`][^'"`\n]*%([A-Za-z_][A-Za-z0-9_]*)%[^'"`\n]*['"`]/g)) names.add(m[1]!);
  return [...names];
}

export function envReferences(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  for (const m of source.matchAll(/process\.env\[\s*['"`]([A-Za-z_][A-Za-z0-9_]*)['"`]\s*\]/g)) names.add(m[1]!);
  return [...names];
}

/** The `properties` of the one `Microsoft.Web/sites/config` resource named 'appsettings'. */
export function appSettingsOf(bicep: string): SettingsSources['infra'] {
  const tokens = tokenize(bicep);
  const configs = declarations(tokens).filter(
    (d) => d.kind === 'resource' && !d.existing && d.target?.startsWith('Microsoft.Web/sites/config@') && d.body !== undefined,
  );
  const appSettings = configs.filter((d) => {
    const name = entry(tokens, d.body!, 'name');
    return name && literalString(tokens, name) === 'appsettings';
  });
  if (appSettings.length !== 1) {
    throw new Error(`expected exactly one sites/config 'appsettings' resource, found ${appSettings.length}`);
  }
  const properties = entry(tokens, appSettings[0]!.body!, 'properties');
  if (!properties || tokens[properties.start]?.text !== '{' || matching(tokens, properties.start) !== properties.end - 1) {
    throw new Error("the appsettings 'properties' must be one object literal (no union(), no variables) so it can be checked");
  }
  return objectEntries(tokens, properties.start).map((e) => ({
    name: e.key,
    literal: literalString(tokens, e),
    text: tokens
      .slice(e.start, e.end)
      .map((t) => (t.kind === 'string' ? `'${t.text}'` : t.text))
      .join(' '),
  }));
}

export function gatherSources(): SettingsSources {
  const settings = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const spec = SETTINGS[name] as { scope?: string; secret?: boolean; schema: { safeParse(v: unknown): { success: boolean } } };
    return { name, local: spec.scope === 'local', secret: spec.secret === true, accepts: (v: string) => spec.schema.safeParse(v).success };
  });
  const functionFiles = filesUnder('src/functions', '.ts');
  const sourceFiles = filesUnder('src', '.ts');
  return {
    settings,
    hostJson: hostJsonReferences(read('host.json')),
    bindings: [...new Set(functionFiles.flatMap((f) => bindingReferences(read(f))))],
    envReads: sourceFiles.flatMap((file) => envReferences(read(file)).map((name) => ({ name, file }))),
    infra: appSettingsOf(read('infra/modules/function-app.bicep')),
    sample: Object.keys((JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> }).Values),
  };
}
