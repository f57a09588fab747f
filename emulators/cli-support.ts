/**
 * What every command-line entry point shares: `--help`, flags checked against what the command
 * knows, and failures a person can act on printed as one line, not a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../src/lib/config/index.js';
import { RedisServerMissingError } from './redis/server.js';
import { PortInUseError } from './local-services.js';

export type CliOptions = NonNullable<ParseArgsConfig['options']>;

export interface CliSpec<O extends CliOptions> {
  /** e.g. `npm run dev -- [options]` */
  readonly usage: string;
  readonly summary: string;
  readonly options: O;
  /** One line per option, by name. */
  readonly describe: Readonly<Record<keyof O & string, string>>;
  readonly positionals?: boolean;
  readonly epilogue?: string;
}

/** A mistake in how the command was called; printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure with a known remedy; printed as its message, exit code 1. */
export class FriendlyError extends Error {
  override readonly name = 'FriendlyError';
}

export function helpText<O extends CliOptions>(spec: CliSpec<O>): string {
  const rows = Object.entries(spec.options).map(([name, option]) => {
    const flag = `--${name}${option.type === 'string' ? ' <value>' : ''}`;
    const fallback = option.default === undefined || option.default === false ? '' : ` (default ${String(option.default)})`;
    return [flag, `${spec.describe[name as keyof O & string]}${fallback}`] as const;
  });
  rows.push(['--help', 'print this help and exit']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [`usage: ${spec.usage}`, '', spec.summary, '', 'options:', ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`), ...(spec.epilogue ? ['', spec.epilogue] : [])].join('\n');
}

/** Parses argv; `--help` prints the help and exits 0; an unknown or malformed flag is a UsageError. */
export function parseCli<O extends CliOptions>(spec: CliSpec<O>, argv: readonly string[] = process.argv.slice(2)) {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(spec));
    process.exit(0);
  }
  try {
    return parseArgs({ args: [...argv], options: spec.options, allowPositionals: spec.positionals ?? false, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? String(error));
  }
}

/** A port flag's value: an integer 0..65535 (0: any free port). */
export function portValue(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new UsageError(`--${flag} expects a port number 0..65535, got "${value}"`);
  return port;
}

/** The one line (or the config error's list) a person sees for a failure, or undefined for a bug. */
export function friendlyMessage(error: unknown): string | undefined {
  if (error instanceof ConfigError) return `${error.message}\nFix these settings (environment or local.settings.json "Values"); README "Configuration" says what each expects.`;
  if (error instanceof RedisServerMissingError || error instanceof PortInUseError || error instanceof FriendlyError) return error.message;
  if (error instanceof UsageError) return `${error.message} (see --help)`;
  return undefined;
}

/** Runs a command's main: exit code from it, known failures as one line, anything else with its stack. */
export function runCli(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      const friendly = friendlyMessage(error);
      console.error(friendly === undefined ? error : `${name}: ${friendly}`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
