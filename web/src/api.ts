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
