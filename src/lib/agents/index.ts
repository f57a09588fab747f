import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CallerProfile } from '../agent/types.js';
import type { ContainerClient } from '@azure/storage-blob';
import { resolveCredential, type CredentialInput } from '../app/credential.js';
import { createCosmosClient } from '../archive/client.js';
import type { AppConfig } from '../config/index.js';
import type { Logger } from '../telemetry/logger.js';
import { folderSource, type AgentCatalog } from './loader.js';
import { AgentSourceError, blobSource, CachedCatalog, cosmosSource } from './sources.js';
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
export { AgentSourceError, blobSource, CachedCatalog, cosmosSource, definitionDocument, publishDefinitions, publishDefinitionsToBlob, type DefinitionDocument } from './sources.js';

export interface AppAgentsConfig {
  readonly agents: AppConfig['agents'];
  readonly cosmos: AppConfig['cosmos'];
}

/**
 * The app's agent definitions, from where `AGENTS_SOURCE` says. `files`: the `AGENTS_DIR` folder
 * (relative to the working directory, which is the app root under the Functions host), read once;
 * undefined when the folder does not exist: the app then runs the built-in support agent, and says
 * so. `cosmos`: the `AGENTS_COSMOS_CONTAINER` container of `COSMOS_DATABASE`, through the app's
 * managed identity (the account key only locally), re-checked every `AGENTS_REFRESH_SECONDS`; the
 * catalog returned always answers from the newest version that validated.
 */
export async function openAppAgents(
  config: AppAgentsConfig,
  logger: Logger,
  settings: Readonly<Record<string, string | undefined>> = process.env,
  options: { readonly credential?: CredentialInput } = {},
): Promise<AgentCatalog | undefined> {
  if (config.agents.source === 'blob') {
    const container = await blobContainerOf(config.agents, options.credential);
    const { prefix } = blobLocation(config.agents.blobContainerUrl ?? '');
    return new CachedCatalog(blobSource(container, prefix), { settings, logger, refreshMs: config.agents.refreshSeconds * 1000 }).live();
  }
  if (config.agents.source === 'cosmos') {
    const client = await createCosmosClient(config.cosmos, options.credential ? { credential: options.credential } : {});
    const container = client.database(config.cosmos.database).container(config.agents.cosmosContainer);
    return new CachedCatalog(cosmosSource(container), { settings, logger, refreshMs: config.agents.refreshSeconds * 1000 }).live();
  }
  const resolved = path.resolve(config.agents.definitionsDir);
  if (!existsSync(resolved)) {
    logger.warn('no agent definitions folder; running the built-in support agent', { dir: resolved });
    return undefined;
  }
  // Files change with a deployment, which restarts the app: read once.
  return new CachedCatalog(folderSource(resolved), { settings, logger, refreshMs: Number.POSITIVE_INFINITY }).get();
}

/**
 * Where a Blob container URL points: `https://<account>.blob.core.windows.net/<container>[/<folder>]`,
 * or path-style with the account first (`http://127.0.0.1:10000/<account>/<container>`, Azurite).
 */
export function blobLocation(url: string): { readonly containerUrl: string; readonly containerName: string; readonly prefix: string } {
  const parsed = new URL(url);
  const segments = parsed.pathname.split('/').filter(Boolean);
  const pathStyle = /^(localhost|\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\])$/i.test(parsed.hostname);
  const account = pathStyle ? segments.shift() : undefined;
  const containerName = segments.shift();
  if (!containerName) throw new AgentSourceError(`the Blob URL ${parsed.origin}${parsed.pathname} names no container`, 'blob');
  const containerUrl = `${parsed.origin}/${account ? `${account}/` : ''}${containerName}`;
  return { containerUrl, containerName, prefix: segments.length > 0 ? `${segments.join('/')}/` : '' };
}

/** The definitions' container: with the app's credential in Azure, with a connection string locally. */
export async function blobContainerOf(agents: Pick<AppConfig['agents'], 'blobContainerUrl' | 'blobConnectionString'>, credential: CredentialInput | undefined): Promise<ContainerClient> {
  const { BlobServiceClient, ContainerClient } = await import('@azure/storage-blob');
  const { containerUrl, containerName } = blobLocation(agents.blobContainerUrl ?? '');
  if (agents.blobConnectionString) return BlobServiceClient.fromConnectionString(agents.blobConnectionString).getContainerClient(containerName);
  if (!credential) throw new AgentSourceError('AGENTS_BLOB_CONTAINER_URL without AGENTS_BLOB_CONNECTION_STRING needs the app credential', 'blob');
  return new ContainerClient(containerUrl, await resolveCredential(credential));
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
