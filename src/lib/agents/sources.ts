import type { Container } from '@azure/cosmos';
import type { Logger } from '../telemetry/logger.js';
import { AgentsError } from './errors.js';
import { parseAgentCatalog, type AgentCatalog, type DefinitionFile, type DefinitionSource, type LoadOptions } from './loader.js';

/**
 * Definitions kept outside the package, so an agent changes without a redeploy: a Cosmos DB
 * container holding one document per file, and a cache that serves the catalog it has and re-reads
 * the source at most every `refreshMs`, re-parsing only when the files' version changed.
 */

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
  return {
    name: `cosmos:${container.id}`,
    async files() {
      const { resources } = await container.items.query<DefinitionDocument>('SELECT c.path, c.text FROM c').fetchAll();
      return resources.map((d) => ({ path: d.path, text: d.text })).sort((a, b) => a.path.localeCompare(b.path));
    },
  };
}

export interface CachedCatalogOptions extends LoadOptions {
  /** @default 60000 */
  readonly refreshMs?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class CachedCatalog {
  private current: AgentCatalog | undefined;
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
    const now = this.options.now?.() ?? Date.now();
    if (this.current && now - this.checkedAtMs < (this.options.refreshMs ?? 60_000)) return this.current;
    this.refreshing ??= this.reload(now).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async reload(now: number): Promise<AgentCatalog> {
    try {
      const files = await this.source.files();
      if (files.length === 0) throw new AgentsError(`no agent definitions in ${this.source.name}`);
      const next = parseAgentCatalog(files, this.options);
      if (next.version !== this.current?.version) this.options.logger.info('agent definitions loaded', { source: this.source.name, version: next.version });
      this.current = next.version === this.current?.version ? this.current : next;
      this.checkedAtMs = now;
      return this.current;
    } catch (error) {
      if (!this.current) throw error;
      this.checkedAtMs = now;
      this.options.logger.error('agent definitions not reloaded; serving the last good version', { source: this.source.name, version: this.current.version, error: error as Error });
      return this.current;
    }
  }
}
