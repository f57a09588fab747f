import { HOST_SETTINGS, PLATFORM_SETTINGS, type SettingsSources } from './settings-sources.js';

/**
 * Every disagreement between what the code reads and what infra/ and local.settings.sample.json set,
 * one readable line each. Empty means consistent.
 */
export function settingsProblems(s: SettingsSources): string[] {
  const problems: string[] = [];
  const infra = new Map(s.infra.map((i) => [i.name, i]));
  const sample = new Set(s.sample);
  const known = new Map(s.settings.map((x) => [x.name, x]));
  const setIn = (names: ReadonlySet<string> | Map<string, unknown>, name: string) =>
    names.has(name) || [...names.keys()].some((n) => n.startsWith(`${name}__`));

  // 1. Everything the app reads in Azure is set by infra.
  for (const setting of s.settings) {
    if (setting.local) continue;
    if (!infra.has(setting.name)) problems.push(`${setting.name}: read by the config module but not set by infra`);
  }
  for (const name of s.hostJson) {
    if (!infra.has(name)) problems.push(`${name}: referenced by host.json but not set by infra`);
    if (!sample.has(name)) problems.push(`${name}: referenced by host.json but missing from local.settings.sample.json`);
  }
  for (const name of s.bindings) {
    if (!setIn(infra, name)) problems.push(`${name}: used by a function binding but not set by infra (as ${name} or ${name}__*)`);
    if (!setIn(sample, name)) problems.push(`${name}: used by a function binding but missing from local.settings.sample.json`);
  }

  // 2. Code reads settings only through the config module (or platform-provided variables).
  for (const read of s.envReads) {
    if (!known.has(read.name) && !PLATFORM_SETTINGS.has(read.name) && !(read.name in HOST_SETTINGS)) {
      problems.push(`${read.name}: read from process.env in ${read.file} but not declared in SETTINGS`);
    }
  }

  // 3. Infra sets nothing that nothing reads, no key-based setting, and secrets only by reference.
  const readByApp = new Set([...s.settings.filter((x) => !x.local).map((x) => x.name), ...s.hostJson]);
  for (const item of s.infra) {
    const setting = known.get(item.name);
    const host = HOST_SETTINGS[item.name];
    const binding = s.bindings.some((b) => item.name === b || item.name.startsWith(`${b}__`));
    if (setting?.local) {
      problems.push(`${item.name}: key-based (scope 'local') setting must not be set by infra; production uses managed identity`);
    } else if (host && !host.cloud) {
      problems.push(`${item.name}: host setting not to be set in Azure (${host.why})`);
    } else if (!readByApp.has(item.name) && !host && !binding) {
      problems.push(`${item.name}: set by infra but nothing reads it`);
    }
    if (setting?.secret && !setting.local && !/^'@Microsoft\.KeyVault\(/.test(item.text)) {
      problems.push(`${item.name}: a secret; infra must set it as a Key Vault reference, got ${item.text}`);
    }
    if (setting && item.literal !== undefined && !setting.accepts(item.literal)) {
      problems.push(`${item.name}: infra sets "${item.literal}", which the config module rejects`);
    }
  }
  if (!infra.has('AzureWebJobsStorage__accountName')) {
    problems.push('AzureWebJobsStorage__accountName: the host must reach its storage by identity');
  }

  // 4. local.settings.sample.json lists exactly the app's settings plus the host's own.
  for (const setting of s.settings) {
    if (!sample.has(setting.name)) problems.push(`${setting.name}: in SETTINGS but missing from local.settings.sample.json`);
  }
  for (const name of s.sample) {
    const host = HOST_SETTINGS[name];
    const binding = s.bindings.some((b) => name === b || name.startsWith(`${b}__`));
    if (known.has(name) || s.hostJson.includes(name) || binding) continue;
    if (!host) problems.push(`${name}: in local.settings.sample.json but nothing reads it`);
    else if (!host.local) problems.push(`${name}: host setting for Azure only (${host.why}); not for local.settings`);
  }
  return problems;
}
