/**
 * The slice of an HTTP request and response that call control deals in, so the logic runs the same
 * under the Functions host, the dev host and tests.
 */
export interface WebhookRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface WebhookResponse {
  readonly status: number;
  readonly jsonBody?: unknown;
  readonly headers?: Record<string, string>;
}

export function badRequest(reason: string): WebhookResponse {
  return { status: 400, jsonBody: { error: 'bad_request', reason } };
}

export function ok(body?: unknown): WebhookResponse {
  return body === undefined ? { status: 200 } : { status: 200, jsonBody: body };
}
