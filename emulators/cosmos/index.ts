export { EMBEDDED_COSMOS_KEY, startEmbeddedCosmos, type EmbeddedCosmos, type EmbeddedCosmosOptions } from './embedded-server.js';
export {
  startCosmosFaultProxy,
  type CosmosFaultProxy,
  type CosmosOperation,
  type FaultKind,
  type FaultOptions,
  type ProxiedRequest,
  type RequestLog,
  type RequestMatch,
} from './fault-proxy.js';
