/**
 * `npm start`: build, then `func start` (Azure Functions Core Tools) in this folder, with any extra
 * arguments passed on. Says what to install when Core Tools or local.settings.json are missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FriendlyError, helpText, runCli } from './cli-support.js';

export const START_CLI = {
  usage: 'npm start [-- <func start options>]',
  summary:
    'Builds the app (npm run build) and runs it under Azure Functions Core Tools (func start), reading local.settings.json.\n' +
    'Against the local emulators: npm run emulators in another terminal, and cp local.settings.sample.json local.settings.json.\n' +
    'Without Core Tools, npm run dev runs the same functions on the dev host.',
  options: {},
  describe: {},
  epilogue: 'Options after -- go to func start (e.g. npm start -- --port 7072 --verbose); func start --help lists them.',
} as const;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(helpText(START_CLI));
    return 0;
  }
  const func = spawnSync('func', ['--version'], { encoding: 'utf8' });
  if (func.error) {
    throw new FriendlyError(
      'Azure Functions Core Tools (func) is not installed: npm install -g azure-functions-core-tools@4 (or see README "Prerequisites"); npm run dev runs the app without it',
    );
  }
  if (!existsSync('local.settings.json')) {
    throw new FriendlyError('local.settings.json is missing: cp local.settings.sample.json local.settings.json (it works as it is with npm run emulators)');
  }
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) return build.status ?? 1;
  const child = spawn('func', ['start', ...args], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

runCli('start', main);
