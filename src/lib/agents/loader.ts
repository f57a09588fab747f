import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { AgentDefinitionError, type DefinitionProblem } from './errors.js';
import { AgentDefinitionSchema, RoutingSchema, ScenarioSchema, type AgentDefinition, type Routing, type Scenario } from './schema.js';

/**
 * Loads agent definitions: `routing.yaml` at the top, one folder per scenario holding
 * `scenario.yaml` and a `<agent>.agent.yaml` per agent. Every problem in every file is collected
 * (file, line, column, field) before the load fails, so one run shows all there is to fix.
 */

export interface DefinitionFile {
  /** Relative, with `/` separators: `routing.yaml`, `support/scenario.yaml`, `support/support.agent.yaml`. */
  readonly path: string;
  readonly text: string;
}

/** Where definitions come from: a folder here, Cosmos DB in Azure. */
export interface DefinitionSource {
  readonly name: string;
  files(): Promise<readonly DefinitionFile[]>;
  /**
   * A cheap token that changes whenever any file changes (Cosmos DB: the documents' `_etag`s), so a
   * re-check reads the files only when there is something new. Without it every re-check reads them.
   */
  version?(): Promise<string>;
}

export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly agents: ReadonlyMap<string, AgentDefinition>;
  /** The setting that holds the transfer number, resolved at load time (undefined: transfers are off). */
  readonly transferTargetNumber: string | undefined;
}

export interface AgentCatalog {
  readonly routing: Routing;
  readonly scenarios: ReadonlyMap<string, LoadedScenario>;
  /**
   * Scenarios left out because a setting they need (`${SETTING}` in a tool URL, a key) is not set in
   * this deployment; calls routed to them go to the default scenario.
   */
  readonly unavailable: readonly DefinitionProblem[];
  /** A hash of every file's text: same files, same version. */
  readonly version: string;
  /** The scenario of a called number; the routing's default for numbers no route names. */
  scenarioFor(calledNumber?: string): LoadedScenario;
  scenario(name: string): LoadedScenario | undefined;
}

export interface LoadOptions {
  /** App settings for `${SETTING}` in tool URLs and the scenario's transfer setting. @default process.env */
  readonly settings?: Readonly<Record<string, string | undefined>>;
}

/** The files a definitions folder holds (routing.yaml, <scenario>/scenario.yaml, *.agent.yaml), by name. */
export const DEFINITION_FILE = /\.ya?ml$/;

export function folderSource(dir: string): DefinitionSource {
  return {
    name: dir,
    files: async () => definitionFilesIn(dir),
  };
}

/** The `.yaml` files under `dir` (not `schema/` or dot folders), sorted; read synchronously: a few small files, at start. */
export function definitionFilesIn(dir: string, rel = ''): DefinitionFile[] {
  const out: DefinitionFile[] = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory() && entry.name !== 'schema' && !entry.name.startsWith('.')) out.push(...definitionFilesIn(dir, child));
    else if (entry.isFile() && DEFINITION_FILE.test(entry.name)) out.push({ path: child, text: readFileSync(path.join(dir, child), 'utf8') });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Reads the folder and parses it; throws {@link AgentDefinitionError} naming every problem. */
export async function loadAgentCatalog(dir: string, options: LoadOptions = {}): Promise<AgentCatalog> {
  return parseAgentCatalog(await folderSource(dir).files(), options);
}

interface Parsed<T> {
  readonly value: T | undefined;
  readonly locate: (field: readonly PropertyKey[]) => { line: number; column: number };
}

export function parseAgentCatalog(files: readonly DefinitionFile[], options: LoadOptions = {}): AgentCatalog {
  const settings = options.settings ?? process.env;
  const problems: DefinitionProblem[] = [];
  const byPath = new Map(files.map((f) => [f.path, f]));

  const routingFile = byPath.get('routing.yaml');
  if (!routingFile) problems.push({ file: 'routing.yaml', line: 0, column: 0, field: '', message: 'missing: it names the default scenario' });
  const routing = routingFile ? parseFile(routingFile, RoutingSchema, problems).value : undefined;

  const scenarios = new Map<string, LoadedScenario>();
  const unavailable: DefinitionProblem[] = [];
  const unavailableNames = new Set<string>();
  for (const file of files.filter((f) => /^[^/]+\/scenario\.ya?ml$/.test(f.path))) {
    const folder = file.path.split('/')[0]!;
    const parsed = parseFile(file, ScenarioSchema, problems);
    const scenario = parsed.value;
    if (!scenario) continue;
    const at = (field: PropertyKey[], message: string) => problems.push({ file: file.path, ...parsed.locate(field), field: field.join('.'), message });
    if (scenario.name !== folder) at(['name'], `must match its folder "${folder}"`);
    const agents = new Map<string, AgentDefinition>();
    const missingSettings: DefinitionProblem[] = [];
    scenario.agents.forEach((name, i) => {
      const agentFile = byPath.get(`${folder}/${name}.agent.yaml`);
      if (!agentFile) return at(['agents', i], `no file ${folder}/${name}.agent.yaml`);
      const agent = parseAgentFile(agentFile, settings, problems, missingSettings);
      if (agent && agent.name !== name) problems.push({ file: agentFile.path, line: 1, column: 1, field: 'name', message: `must be "${name}", the name the scenario gives it` });
      if (agent) agents.set(name, agent);
    });
    if (!scenario.agents.includes(scenario.entry)) at(['entry'], `"${scenario.entry}" is not one of the scenario's agents`);
    scenario.handoffs.forEach((h, i) => {
      if (!scenario.agents.includes(h.from)) at(['handoffs', i, 'from'], `"${h.from}" is not one of the scenario's agents`);
      if (!scenario.agents.includes(h.to)) at(['handoffs', i, 'to'], `"${h.to}" is not one of the scenario's agents`);
      if (h.mode === 'announced' && !h.announcement) at(['handoffs', i, 'announcement'], 'an announced handoff needs the words the caller hears');
    });
    scenario.tests.forEach((test, i) => {
      test.expect.handoffs.forEach((to, j) => {
        if (!scenario.agents.includes(to)) at(['tests', i, 'expect', 'handoffs', j], `"${to}" is not one of the scenario's agents`);
      });
    });
    const transferTargetNumber = settings[scenario.transfer.setting] || undefined;
    if (missingSettings.length > 0) {
      unavailable.push(...missingSettings);
      unavailableNames.add(scenario.name);
    } else {
      scenarios.set(scenario.name, { scenario, agents, transferTargetNumber });
    }
  }

  if (routing) {
    const routingParsed = parseFile(routingFile!, RoutingSchema, []);
    if (unavailableNames.has(routing.default)) problems.push(...unavailable.filter((p) => p.file.startsWith(`${routing.default}/`)));
    else if (!scenarios.has(routing.default)) problems.push({ file: 'routing.yaml', ...routingParsed.locate(['default']), field: 'default', message: `no scenario "${routing.default}" (folders: ${[...scenarios.keys()].join(', ') || 'none'})` });
    routing.routes.forEach((route, i) => {
      if (!scenarios.has(route.scenario) && !unavailableNames.has(route.scenario)) problems.push({ file: 'routing.yaml', ...routingParsed.locate(['routes', i, 'scenario']), field: `routes.${i}.scenario`, message: `no scenario "${route.scenario}"` });
    });
  }
  if (problems.length > 0 || !routing) throw new AgentDefinitionError(problems);

  const version = createHash('sha256')
    .update(files.map((f) => `${f.path}\n${f.text}`).join('\0'))
    .digest('base64url')
    .slice(0, 16);
  const routes = new Map(routing.routes.filter((r) => scenarios.has(r.scenario)).map((r) => [r.number, r.scenario]));
  return {
    routing,
    scenarios,
    unavailable,
    version,
    scenario: (name) => scenarios.get(name),
    scenarioFor: (calledNumber) => scenarios.get((calledNumber && routes.get(calledNumber)) || routing.default)!,
  };
}

function parseAgentFile(file: DefinitionFile, settings: Readonly<Record<string, string | undefined>>, problems: DefinitionProblem[], missingSettings: DefinitionProblem[]): AgentDefinition | undefined {
  const parsed = parseFile(file, AgentDefinitionSchema, problems);
  const agent = parsed.value;
  if (!agent) return undefined;
  const at = (field: PropertyKey[], message: string) => problems.push({ file: file.path, ...parsed.locate(field), field: field.join('.'), message });
  const unset = (field: PropertyKey[], message: string) => missingSettings.push({ file: file.path, ...parsed.locate(field), field: field.join('.'), message });
  const names = new Set<string>();
  const tools = agent.tools.map((tool, i) => {
    if (names.has(tool.name)) at(['tools', i, 'name'], `"${tool.name}" is listed twice`);
    names.add(tool.name);
    if (tool.kind !== 'http') return tool;
    const url = tool.url.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (whole, name: string) => {
      const value = settings[name];
      if (!value) unset(['tools', i, 'url'], `setting ${name} is not set`);
      return value ?? whole;
    });
    if (!/^(https?:\/\/|\$\{)/.test(url)) at(['tools', i, 'url'], 'must be an http(s) URL');
    if (tool.auth.type === 'key' && !settings[tool.auth.setting]) unset(['tools', i, 'auth', 'setting'], `setting ${tool.auth.setting} is not set`);
    return { ...tool, url };
  });
  if (names.has('verify_caller') && !agent.verification) at(['verification'], 'verify_caller needs verification settings');
  return { ...agent, tools };
}

function parseFile<S extends z.ZodType>(file: DefinitionFile, schema: S, problems: DefinitionProblem[]): Parsed<z.infer<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locate = (field: readonly PropertyKey[]) => positionOf(doc, lines, field);
  for (const error of [...doc.errors, ...doc.warnings]) {
    const pos = lines.linePos(error.pos[0]);
    problems.push({ file: file.path, line: pos.line, column: pos.col, field: '', message: error.message.split('\n')[0]! });
  }
  if (doc.errors.length > 0) return { value: undefined, locate };
  const result = schema.safeParse(doc.toJS());
  if (result.success) return { value: result.data, locate };
  for (const issue of result.error.issues) {
    problems.push({ file: file.path, ...locate(issue.path), field: issue.path.join('.'), message: issue.message });
  }
  return { value: undefined, locate };
}

/** The line of the deepest node along `field` that exists (a missing field points at its parent). */
function positionOf(doc: Document, lines: LineCounter, field: readonly PropertyKey[]): { line: number; column: number } {
  for (let depth = field.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(field.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}
