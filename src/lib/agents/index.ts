import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CallerProfile } from '../agent/types.js';
import type { Logger } from '../telemetry/logger.js';
import { loadAgentCatalog, type AgentCatalog } from './loader.js';
import { ScenarioResponder } from './offline-responder.js';
import { CodeToolRegistry, ToolRunner } from './tools.js';
import { CallerVerification, type AuthStateStore, type VerificationAuditEntry } from './verification.js';

export * from './errors.js';
export * from './schema.js';
export * from './loader.js';
export { AgentPrompts, fill } from './prompts.js';
export { ScenarioResponder, digitsOf } from './offline-responder.js';
export { CodeToolRegistry, ToolRunner, toolNamesOf, type CodeTool, type ToolCallContext, type ToolOutcome } from './tools.js';
export { CallerVerification, hashPin, pinMatches, type AuthState, type VerificationResult } from './verification.js';
export { nextStep, type NextStep } from './call-core.js';

/**
 * The definitions folder of the app (`AGENTS_DIR`, relative to the working directory, which is the
 * app root under the Functions host). Undefined when the folder does not exist: the app then runs the
 * built-in support agent, and says so.
 */
export async function loadAppAgents(dir: string, logger: Logger, settings: Readonly<Record<string, string | undefined>> = process.env): Promise<AgentCatalog | undefined> {
  const resolved = path.resolve(dir);
  if (!existsSync(resolved)) {
    logger.warn('no agent definitions folder; running the built-in support agent', { dir: resolved });
    return undefined;
  }
  const catalog = await loadAgentCatalog(resolved, { settings });
  logger.info('agent definitions loaded', { dir: resolved, version: catalog.version, scenarios: [...catalog.scenarios.keys()].join(',') });
  for (const problem of catalog.unavailable) {
    logger.warn('agent scenario left out: a setting it needs is not set; its numbers go to the default scenario', { file: problem.file, line: problem.line, field: problem.field, reason: problem.message });
  }
  return catalog;
}

export interface ScenarioAgentDeps {
  readonly catalog: AgentCatalog;
  readonly store: AuthStateStore;
  readonly audit: (entry: VerificationAuditEntry) => Promise<void>;
  readonly lookupProfile?: ((userId: string) => Promise<CallerProfile | undefined>) | undefined;
  readonly pinHashFor: (userId: string) => Promise<string | undefined>;
  readonly codeTools?: CodeToolRegistry;
  readonly settings?: Readonly<Record<string, string | undefined>>;
  readonly tokenFor?: (scope: string) => Promise<string>;
  readonly logger: Logger;
}

/** The offline agent of a catalog, with its tools, verification in Redis and audit wired in. */
export function createScenarioResponder(deps: ScenarioAgentDeps): { responder: ScenarioResponder; tools: ToolRunner; verification: CallerVerification } {
  const verification = new CallerVerification({ store: deps.store, audit: deps.audit, pinHashFor: deps.pinHashFor, logger: deps.logger });
  const tools = new ToolRunner({
    verification,
    lookupProfile: deps.lookupProfile,
    ...(deps.codeTools ? { codeTools: deps.codeTools } : {}),
    settings: deps.settings ?? process.env,
    ...(deps.tokenFor ? { tokenFor: deps.tokenFor } : {}),
    logger: deps.logger,
  });
  return { responder: new ScenarioResponder({ catalog: deps.catalog, tools, verification }), tools, verification };
}
