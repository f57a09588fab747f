import { createHash } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import type { Logger } from '../telemetry/logger.js';
import { AgentDefinitionError, AgentsError } from './errors.js';
import { DEFINITION_FILE, parseAgentCatalog, type AgentCatalog, type DefinitionFile, type DefinitionSource, type LoadOptions } from './loader.js';

/**
 * Definitions kept outside the package, so an agent changes without a redeploy: a Cosmos DB
 * container holding one document per file, or a Blob container holding the files themselves, and a
 * cache that serves the catalog it has and re-checks the source at most every `refreshMs`, reading
 * and re-parsing the files only when their version (the documents' `_etag`s, the blobs' ETags)
 * changed.
 */

/** One short token for a set of (file, entity tag) lines, whatever their order. */
function versionOf(lines: readonly string[]): string {
  return createHash('sha256').update([...lines].sort().join('\0')).digest('base64url').slice(0, 16);
}

/** The definitions could not be read from their source (the source is away, refuses, or is empty). */
export class AgentSourceError extends AgentsError {
  override name = 'AgentSourceError';
  constructor(
    message: string,
    readonly source: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A definition file as a Cosmos DB document (partition key `/scenario`: the file's folder, `_` at the top). */
export interface DefinitionDocument {
  readonly id: string;
  readonly scenario: string;
  readonly path: string;
  readonly text: string;
}

export function definitionDocument(file: DefinitionFile): DefinitionDocument {
  const folder = file.path.includes('/') ? file.path.split('/')[0]! : '_';
  return { id: file.path.replaceAll('/', '~'), scenario: folder, path: file.path, text: file.text };
}

export function cosmosSource(container: Container): DefinitionSource {
  const name = `cosmos:${container.database.id}/${container.id}`;
  const query = async <T>(text: string): Promise<T[]> => {
    try {
      return (await container.items.query<T>(text).fetchAll()).resources;
    } catch (error) {
      throw new AgentSourceError(`agent definitions could not be read from ${name}`, name, { cause: error });
    }
  };
  return {
    name,
    async files() {
      const documents = await query<Pick<DefinitionDocument, 'path' | 'text'>>('SELECT c.path, c.text FROM c');
      return documents.map((d) => ({ path: d.path, text: d.text })).sort((a, b) => a.path.localeCompare(b.path));
    },
    async version() {
      // `_etag` changes with every write of a document; the set of (path, etag) pairs names one version.
      const tags = await query<{ path: string; _etag: string }>('SELECT c.path, c._etag FROM c');
      return versionOf(tags.map((t) => `${t.path}\n${t._etag}`));
    },
  };
}

/** A Blob container holding the definition files under `prefix` (`routing.yaml`, `<scenario>/*.agent.yaml`…). */
export function blobSource(container: ContainerClient, prefix = ''): DefinitionSource {
  const name = `blob:${container.containerName}${prefix ? `/${prefix}` : ''}`;
  const list = async (): Promise<{ readonly name: string; readonly etag: string }[]> => {
    try {
      const blobs: { name: string; etag: string }[] = [];
      for await (const blob of container.listBlobsFlat({ prefix })) if (DEFINITION_FILE.test(blob.name)) blobs.push({ name: blob.name, etag: blob.properties.etag ?? '' });
      return blobs;
    } catch (error) {
      throw new AgentSourceError(`agent definitions could not be listed in ${name}`, name, { cause: error });
    }
  };
  return {
    name,
    async files() {
      const blobs = await list();
      const files = await Promise.all(
        blobs.map(async (blob) => {
          try {
            return { path: blob.name.slice(prefix.length), text: (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8') };
          } catch (error) {
            throw new AgentSourceError(`agent definition ${blob.name} could not be read from ${name}`, name, { cause: error });
          }
        }),
      );
      return files.sort((a, b) => a.path.localeCompare(b.path));
    },
    async version() {
      // A blob's ETag changes with every write; the set of (name, ETag) pairs names one version.
      return versionOf((await list()).map((b) => `${b.name}\n${b.etag}`));
    },
  };
}

/**
 * Puts a folder's definitions into the container, after checking they load: every file is upserted
 * and documents of files no longer in the folder are deleted. Instances pick the change up at their
 * next re-check. Throws {@link AgentDefinitionError} (and writes nothing) when the files do not load.
 */
export async function publishDefinitions(files: readonly DefinitionFile[], container: Container, options: LoadOptions = {}): Promise<{ readonly version: string; readonly written: number; readonly deleted: number }> {
  const catalog = parseAgentCatalog(files, options);
  const kept = new Set<string>();
  for (const file of files) {
    const document = definitionDocument(file);
    kept.add(document.id);
    await container.items.upsert(document);
  }
  const existing = (await container.items.query<{ id: string; scenario: string }>('SELECT c.id, c.scenario FROM c').fetchAll()).resources;
  const stale = existing.filter((d) => !kept.has(d.id));
  for (const d of stale) await container.item(d.id, d.scenario).delete();
  return { version: catalog.version, written: files.length, deleted: stale.length };
}

/**
 * {@link publishDefinitions} for a Blob container: each file becomes the blob `prefix + path`, and
 * definition blobs under `prefix` that the folder no longer has are deleted. Validated first.
 */
export async function publishDefinitionsToBlob(files: readonly DefinitionFile[], container: ContainerClient, prefix = '', options: LoadOptions = {}): Promise<{ readonly version: string; readonly written: number; readonly deleted: number }> {
  const catalog = parseAgentCatalog(files, options);
  const kept = new Set<string>();
  for (const file of files) {
    const blobName = `${prefix}${file.path}`;
    kept.add(blobName);
    await container.getBlockBlobClient(blobName).uploadData(Buffer.from(file.text, 'utf8'), { blobHTTPHeaders: { blobContentType: 'application/yaml' } });
  }
  let deleted = 0;
  for await (const blob of container.listBlobsFlat({ prefix })) {
    if (!DEFINITION_FILE.test(blob.name) || kept.has(blob.name)) continue;
    await container.deleteBlob(blob.name);
    deleted += 1;
  }
  return { version: catalog.version, written: files.length, deleted };
}

export interface CachedCatalogOptions extends LoadOptions {
  /** @default 60000 */
  readonly refreshMs?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class CachedCatalog {
  private current: AgentCatalog | undefined;
  /** The source's version of `current`, and of the last version refused (not re-read until it changes). */
  private currentSourceVersion: string | undefined;
  private refusedSourceVersion: string | undefined;
  private checkedAtMs = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<AgentCatalog> | undefined;

  constructor(
    private readonly source: DefinitionSource,
    private readonly options: CachedCatalogOptions,
  ) {}

  /**
   * The catalog. The first load fails loudly (bad definitions must not start serving calls); a bad
   * change later is logged with every problem and the last good catalog goes on serving.
   */
  async get(): Promise<AgentCatalog> {
    if (this.current && !this.stale()) return this.current;
    this.refreshing ??= this.reload(this.nowMs()).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * A catalog that always answers from the newest good version. A read once the refresh interval has
   * passed starts a re-check in the background and is answered from the version at hand, so no call
   * waits on the source. Loads (and fails) like {@link get} first.
   */
  async live(): Promise<AgentCatalog> {
    await this.get();
    const latest = (): AgentCatalog => {
      if (this.stale()) void this.get();
      return this.current!;
    };
    return {
      get routing() {
        return latest().routing;
      },
      get scenarios() {
        return latest().scenarios;
      },
      get unavailable() {
        return latest().unavailable;
      },
      get version() {
        return latest().version;
      },
      scenarioFor: (calledNumber) => latest().scenarioFor(calledNumber),
      scenario: (name) => latest().scenario(name),
    };
  }

  private nowMs(): number {
    return this.options.now?.() ?? Date.now();
  }

  private stale(): boolean {
    return this.nowMs() - this.checkedAtMs >= (this.options.refreshMs ?? 60_000);
  }

  private async reload(now: number): Promise<AgentCatalog> {
    let sourceVersion: string | undefined;
    try {
      sourceVersion = await this.source.version?.();
      if (this.current && sourceVersion !== undefined && (sourceVersion === this.currentSourceVersion || sourceVersion === this.refusedSourceVersion)) {
        this.checkedAtMs = now;
        return this.current;
      }
      const files = await this.source.files();
      if (files.length === 0) throw new AgentSourceError(`no agent definitions in ${this.source.name}`, this.source.name);
      const next = parseAgentCatalog(files, this.options);
      if (next.version !== this.current?.version) this.announce(next);
      this.current = next.version === this.current?.version ? this.current : next;
      this.currentSourceVersion = sourceVersion;
      this.checkedAtMs = now;
      return this.current;
    } catch (error) {
      if (!this.current) throw error;
      this.checkedAtMs = now;
      if (error instanceof AgentDefinitionError) this.refusedSourceVersion = sourceVersion;
      this.options.logger.error('agent definitions not reloaded; serving the last good version', { source: this.source.name, version: this.current.version, error: error as Error });
      return this.current;
    }
  }

  private announce(catalog: AgentCatalog): void {
    this.options.logger.info('agent definitions loaded', { source: this.source.name, version: catalog.version, scenarios: [...catalog.scenarios.keys()].join(',') });
    for (const problem of catalog.unavailable) {
      this.options.logger.warn('agent scenario left out: a setting it needs is not set; its numbers go to the default scenario', { file: problem.file, line: problem.line, field: problem.field, reason: problem.message });
    }
  }
}
