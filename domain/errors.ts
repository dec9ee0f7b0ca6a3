/**
 * Every error edgeclick answers is `{"error":{"code","message"}}` with a 4xx status (CONTRACT "Errors"),
 * or 503 when the deployment itself is not ready (a missing setting): never for anything the caller sent.
 * Code that meets bad input throws ApiError; the Workers' error handlers turn it into that shape.
 */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 503;

export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
    /** Headers the answer must carry, e.g. `Retry-After` on a 429 or `Allow` on a 405. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export function errorResponse(status: number, code: string, message: string, headers?: HeadersInit): Response {
  const res = Response.json(errorBody(code, message), { status, headers });
  res.headers.set("Cache-Control", "no-store");
  return res;
}

/** Turns anything thrown into a response: ApiError as itself, everything else as an opaque 500. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof ApiError) return errorResponse(err.status, err.code, err.message, err.headers);
  console.error("unhandled error", err instanceof Error ? err.stack : err);
  return errorResponse(500, "internal_error", "Something went wrong on our side; nothing was changed by this request.");
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} was not found.`);
export const methodNotAllowed = (allowed: string) =>
  new ApiError(405, "method_not_allowed", `This path answers ${allowed} only.`, { Allow: allowed });
