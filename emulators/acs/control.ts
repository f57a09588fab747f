import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallerScript, CallRecording, PlaceCallOptions } from './caller.js';
import type { EmulatedCall } from './call.js';

/**
 * A small unauthenticated control API for running the emulator as a process (`/emulator/*`, local
 * use only): ring the app with a scripted caller, run the Event Grid handshake, inspect calls.
 *
 * - `POST /emulator/calls` `{ eventGridUrl, from, to, steps, … }` → 202 `{ runId }`; the call runs in the background
 * - `GET /emulator/calls` → every call's state and counts; `GET /emulator/runs/{runId}` → the recording when done
 * - `POST /emulator/eventgrid/validate` `{ endpointUrl }` → the handshake result
 */

export interface ControlTarget {
  readonly calls: ReadonlyMap<string, EmulatedCall>;
  placeCall(script: CallerScript, options: PlaceCallOptions): Promise<CallRecording>;
  readonly eventGrid: { validate(endpointUrl: string): Promise<{ status: number; body: string; validated: boolean }> };
}

export class ControlApi {
  private readonly runs = new Map<string, { done: boolean; recording?: CallRecording; error?: string }>();
  private nextRunId = 1;

  constructor(private readonly target: ControlTarget) {}

  /** Returns false when the path is not a control path. */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): boolean {
    const path = new URL(req.url ?? '/', 'http://emulator.invalid').pathname;
    if (!path.startsWith('/emulator/')) return false;
    void this.dispatch(req.method ?? 'GET', path, body).then(
      ({ status, payload }) => send(res, status, payload),
      (error: unknown) => send(res, 400, { error: { code: 'BadRequest', message: error instanceof Error ? error.message : String(error) } }),
    );
    return true;
  }

  private async dispatch(method: string, path: string, body: Buffer): Promise<{ status: number; payload: unknown }> {
    if (method === 'POST' && path === '/emulator/calls') {
      const request = JSON.parse(body.toString('utf8') || '{}') as CallerScript & PlaceCallOptions;
      if (!request.eventGridUrl || !request.from || !request.to) throw new Error('eventGridUrl, from and to are required');
      const runId = String(this.nextRunId++);
      const run: { done: boolean; recording?: CallRecording; error?: string } = { done: false };
      this.runs.set(runId, run);
      this.target.placeCall({ ...request, steps: request.steps ?? [] }, request).then(
        (recording) => Object.assign(run, { done: true, recording }),
        (error: unknown) => Object.assign(run, { done: true, error: String(error) }),
      );
      return { status: 202, payload: { runId } };
    }
    if (method === 'GET' && path === '/emulator/calls') {
      const calls = [...this.target.calls.values()].map((c) => ({
        callConnectionId: c.callConnectionId,
        serverCallId: c.serverCallId,
        direction: c.direction,
        state: c.state,
        endedBy: c.endedBy,
        requests: c.requests.map((r) => `${r.operation} ${r.status}`),
        events: c.events.map((e) => e.type),
        heard: c.heardPlays.map((p) => p.text),
      }));
      return { status: 200, payload: { calls } };
    }
    const run = /^\/emulator\/runs\/(\d+)$/.exec(path);
    if (method === 'GET' && run) {
      const found = this.runs.get(run[1] ?? '');
      return found ? { status: 200, payload: found } : { status: 404, payload: { error: { code: 'NotFound', message: 'No such run.' } } };
    }
    if (method === 'POST' && path === '/emulator/eventgrid/validate') {
      const { endpointUrl } = JSON.parse(body.toString('utf8') || '{}') as { endpointUrl?: string };
      if (!endpointUrl) throw new Error('endpointUrl is required');
      return { status: 200, payload: await this.target.eventGrid.validate(endpointUrl) };
    }
    return { status: 404, payload: { error: { code: 'NotFound', message: `No control operation ${method} ${path}.` } } };
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) }).end(text);
}
