// After `npm run build`: package.json `main` (the glob the Functions host loads) must match one built
// module per function file, or the deployed app would start with functions missing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const main = JSON.parse(readFileSync('package.json', 'utf8')).main;
const match = /^(.*)\/\*\.js$/.exec(main ?? '');
if (!match) throw new Error(`package.json main must be a "<dir>/*.js" glob, not ${JSON.stringify(main)}`);
const builtDir = match[1];
const functions = readdirSync('src/functions').filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
const missing = functions.filter((name) => !existsSync(join(builtDir, `${name}.js`)));
if (missing.length > 0) {
  console.error(`check-build: ${main} does not match the built ${missing.join(', ')}`);
  process.exit(1);
}
const built = readdirSync(builtDir).filter((f) => f.endsWith('.js'));
process.stdout.write(`check-build: ${main} matches ${built.length} built modules (${functions.length} function files)\n`);
