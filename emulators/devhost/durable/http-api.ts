import { DurableRequestError } from '../errors.js';
import type { DurableEngine } from './engine.js';
import { managementPayload, type DurableClientData } from './client-data.js';
import type { InstanceStatus } from './instance.js';

export interface ApiResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/**
 * The Durable Functions HTTP API below the webhook path, with the status codes durable-functions'
 * `DurableClient` interprets: start → 202 with the management payload; status → 200 when done, 202
 * while running, 400 when failed or terminated, 404 unknown; raise event / terminate → 202, 404
 * unknown, 410 already finished; purge → 200 `{ instancesDeleted }` or 404.
 */
export function handleDurableApi(
  engine: DurableEngine,
  clientData: DurableClientData,
  request: { method: string; path: string; query: URLSearchParams; body: string },
): ApiResponse {
  const segments = request.path.split('/').filter(Boolean).map(decodeURIComponent);
  const [resource, id, verb, eventName] = segments;
  try {
    if (request.method === 'POST' && resource === 'orchestrators' && id && segments.length <= 3) {
      const input = request.body.trim() === '' ? undefined : (JSON.parse(request.body) as unknown);
      const status = engine.start(id, { ...(verb ? { instanceId: verb } : {}), input });
      const payload = managementPayload(clientData, status.instanceId);
      return { status: 202, body: payload, headers: { location: payload.statusQueryGetUri ?? '' } };
    }
    if (resource !== 'instances') return { status: 404, body: { message: `no durable API at ${request.path}` } };
    if (request.method === 'GET' && !id) return { status: 200, body: engine.list() };
    if (!id) return { status: 405, body: { message: 'method not allowed' } };
    if (request.method === 'GET' && !verb) {
      const status = engine.status(id, { showHistory: request.query.get('showHistory') === 'true' });
      return status ? { status: statusCode(status), body: status } : { status: 404, body: { message: `No instance with ID '${id}' found.` } };
    }
    if (request.method === 'DELETE' && !verb) {
      const deleted = engine.purge(id);
      return deleted ? { status: 200, body: { instancesDeleted: deleted } } : { status: 404, body: { message: `No instance with ID '${id}' found.` } };
    }
    if (request.method === 'POST' && verb === 'raiseEvent' && eventName) {
      const payload = request.body.trim() === '' ? undefined : (JSON.parse(request.body) as unknown);
      engine.raiseEvent(id, eventName, payload);
      return { status: 202 };
    }
    if (request.method === 'POST' && verb === 'terminate') {
      engine.terminate(id, request.query.get('reason') ?? '');
      return { status: 202 };
    }
    return { status: 501, body: { message: `${request.method} ${verb ?? ''} is not implemented by the dev host` } };
  } catch (error) {
    if (error instanceof DurableRequestError) return { status: error.status, body: { message: error.message } };
    if (error instanceof SyntaxError) return { status: 400, body: { message: `body is not JSON: ${error.message}` } };
    throw error;
  }
}

function statusCode(status: InstanceStatus): number {
  switch (status.runtimeStatus) {
    case 'Completed':
      return 200;
    case 'Failed':
    case 'Terminated':
      return 400;
    default:
      return 202;
  }
}
