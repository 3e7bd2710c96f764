/** The API client, typed from the server's own OpenAPI document (web/openapi.json →
 * src/generated/api.d.ts at build time): no request or response shape is written by hand. */
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api";

export type Schemas = components["schemas"];

/** Same origin: `copyvault serve` serves this app and the API together. */
export const api = createClient<paths>({ baseUrl: window.location.origin });

/** An error answer of the API: its stable code, the server's message and the HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly status: number,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful answer; an ApiFailure for any error answer. */
export async function ok<T>(request: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await request;
  if (response.ok && data !== undefined) return data;
  const body = (error ?? {}) as { error?: { code?: string; message?: string } };
  throw new ApiFailure(
    body.error?.code ?? "http_error",
    body.error?.message ?? response.statusText,
    response.status,
  );
}

/** How long a page waits for the index to reach a block it just saw mined. */
const INDEX_WAIT_MS = 30_000;

/** Wait until the server's index includes `block` (what the API shows lags the chain a little):
 * a page redrawn after its own transaction then shows that transaction. */
export async function indexedThrough(block: bigint): Promise<void> {
  const end = Date.now() + INDEX_WAIT_MS;
  while (Date.now() < end) {
    const health = await ok(api.GET("/v1/health"));
    if (BigInt(health.indexer.cursor ?? -1) >= block) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
