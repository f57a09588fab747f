/**
 * `npm run settings:from-azd -- [--callback-base-url https://<tunnel>] [--with-secrets] [--env <name>] [--out local.settings.json]`
 *
 * Writes local.settings.json for `func start` against the azd environment's resources, from
 * `azd env get-values`. --with-secrets reads the callback signing key and the user id salt from the
 * environment's Key Vault with `az` (the developer needs Key Vault Secrets User, granted with developer
 * access); without it a fresh local signing key is generated and USER_ID_SALT stays empty (dev only).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAzdEnv } from './azd-env.js';
import { localSettingsFromAzd } from './local-settings.js';

const { values } = parseArgs({
  options: {
    'callback-base-url': { type: 'string' },
    'with-secrets': { type: 'boolean', default: false },
    env: { type: 'string' },
    out: { type: 'string', default: 'local.settings.json' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run settings:from-azd -- [--callback-base-url URL] [--with-secrets] [--env NAME] [--out FILE] [--force]');
  process.exit(0);
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not installed (see README, "Prerequisites")`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

try {
  const env = parseAzdEnv(run('azd', ['env', 'get-values', ...(values.env ? ['-e', values.env] : [])]));
  const secret = (name: string) =>
    run('az', ['keyvault', 'secret', 'show', '--vault-name', env.AZURE_KEY_VAULT_NAME ?? '', '--name', name, '--query', 'value', '-o', 'tsv']).trim();
  const settings = localSettingsFromAzd(env, {
    ...(values['callback-base-url'] ? { callbackBaseUrl: values['callback-base-url'] } : {}),
    ...(values['with-secrets'] ? { secrets: { callbackSigningKey: secret('acs-callback-signing-key'), userIdSalt: secret('user-id-salt') } } : {}),
  });
  if (existsSync(values.out) && !values.force) throw new Error(`${values.out} exists; pass --force to replace it`);
  writeFileSync(values.out, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  console.log(`wrote ${values.out} for ${env.AZURE_ENV_NAME ?? 'the current azd environment'}`);
} catch (err) {
  console.error(`settings:from-azd: ${(err as Error).message}`);
  process.exit(1);
}
