/**
 * `npm run package`: the deployment zip of the Function App, the same for azd and Core Tools.
 *
 * Stages .package/app with exactly what the Functions host loads — dist/ (the build), host.json, the agent definitions (agents/), a
 * package.json without scripts or devDependencies, and the production dependency tree as installed
 * (`npm ls --omit=dev`) — then zips it to .package/rtvoice-api.zip. Both readings of .funcignore (azd's
 * gitignore rules and Core Tools' root-anchored ones) are applied to the staged tree and must agree, or
 * packaging fails: a tool that ships a different tree from the other is a deployment that cannot be
 * reproduced.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import { azdIgnores, coreToolsIgnores } from './funcignore.js';

export interface PackageResult {
  readonly stageDir: string;
  readonly zipPath: string;
  readonly files: number;
  readonly bytes: number;
  readonly zipBytes: number;
}

export class PackageError extends Error {
  override readonly name = 'PackageError';
}

/** Every file under `dir`, as forward-slash paths relative to it. */
export function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, base));
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(relative(base, full).split(sep).join('/'));
  }
  return out;
}

/** Root-relative folders of the production dependencies, as npm installed them. */
function productionPackages(root: string): string[] {
  let out: string;
  try {
    out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // npm ls exits 1 on problems in the tree (an extraneous or invalid package) but still lists it; a
    // missing production dependency is a broken install and stops the packaging.
    const e = err as { stdout?: string; stderr?: string };
    if (!e.stdout || /missing:/i.test(e.stderr ?? '')) throw new PackageError(`npm ls failed: ${(e.stderr ?? String(err)).trim().split('\n')[0]} (run npm ci)`);
    out = e.stdout;
  }
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== root)
    .map((line) => relative(root, line).split(sep).join('/'))
    .filter((path) => path.startsWith('node_modules/'));
}

function stagedPackageJson(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const keep = ['name', 'version', 'description', 'license', 'private', 'type', 'main', 'engines', 'dependencies'];
  return `${JSON.stringify(Object.fromEntries(keep.filter((k) => k in pkg).map((k) => [k, pkg[k]])), null, 2)}\n`;
}

export function buildPackage(root: string, outDir = join(root, '.package')): PackageResult {
  if (!existsSync(join(root, 'dist', 'src', 'functions'))) throw new PackageError('dist/src/functions is missing: run `npm run build` first');
  const stageDir = join(outDir, 'app');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(stageDir, { recursive: true });

  cpSync(join(root, 'dist', 'src'), join(stageDir, 'dist', 'src'), { recursive: true });
  copyFileSync(join(root, 'host.json'), join(stageDir, 'host.json'));
  // The agent definitions the app loads at start (AGENTS_DIR, relative to the app root); without them
  // the deployed app would fall back to the built-in agent.
  if (existsSync(join(root, 'agents'))) cpSync(join(root, 'agents'), join(stageDir, 'agents'), { recursive: true });
  writeFileSync(join(stageDir, 'package.json'), stagedPackageJson(root));
  for (const pkg of productionPackages(root)) {
    // Each package without its own node_modules: nested production dependencies are listed on their own.
    cpSync(join(root, pkg), join(stageDir, pkg), {
      recursive: true,
      filter: (src) => !relative(join(root, pkg), src).split(sep).includes('node_modules'),
    });
  }
  const funcignore = readFileSync(join(root, '.funcignore'), 'utf8');
  copyFileSync(join(root, '.funcignore'), join(stageDir, '.funcignore'));

  const azd = azdIgnores(funcignore);
  const coreTools = coreToolsIgnores(funcignore);
  const files = listFiles(stageDir);
  const disagreements = files.filter((f) => f !== '.funcignore' && azd(f) !== coreTools(f));
  if (disagreements.length > 0) {
    throw new PackageError(`.funcignore means different trees to azd and Core Tools: ${disagreements.slice(0, 10).join(', ')}`);
  }
  const shipped = files.filter((f) => !azd(f));
  const entries: Zippable = {};
  let bytes = 0;
  for (const file of shipped) {
    const full = join(stageDir, file);
    if (lstatSync(full).isSymbolicLink()) throw new PackageError(`${file} is a symbolic link; the package must hold real files`);
    const data = readFileSync(full);
    bytes += data.length;
    entries[file] = [data, { level: 6 }];
  }
  const zipPath = join(outDir, 'rtvoice-api.zip');
  mkdirSync(dirname(zipPath), { recursive: true });
  const zip = zipSync(entries);
  writeFileSync(zipPath, zip);
  return { stageDir, zipPath, files: shipped.length, bytes, zipBytes: zip.length };
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log('usage: npm run package   (builds, stages .package/app and writes .package/rtvoice-api.zip)');
    process.exit(0);
  }
  try {
    const result = buildPackage(process.cwd());
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(
      `package: ${relative(process.cwd(), result.zipPath)} — ${result.files} files, ${mib(result.bytes)} MiB unpacked, ${mib(result.zipBytes)} MiB zipped (staged in ${relative(process.cwd(), result.stageDir)})`,
    );
  } catch (err) {
    console.error(`package: ${(err as Error).message}`);
    process.exit(1);
  }
}
