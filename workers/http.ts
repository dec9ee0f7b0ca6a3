/** Pieces every Worker's Hono app shares: JSON errors for everything, never a stack trace. */
import type { Hono } from "hono";
import { concatBytes } from "../domain/bytes";
import { ApiError, errorResponse, methodNotAllowed as notAllowed, toErrorResponse } from "../domain/errors";

// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its bindings and variables
export function withJsonErrors<T extends Hono<any>>(app: T): T {
  app.notFound((c) => errorResponse(404, "not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`));
  app.onError((err) => toErrorResponse(err));
  return app;
}

/** A handler for the other methods of a path: 405 with `Allow`, so a wrong method is not mistaken for a wrong path. */
export const methodNotAllowed = (allowed: string) => (): Response => {
  throw notAllowed(allowed);
};

/**
 * Answers every other method on each routed path with 405 and `Allow` (GET implies HEAD). Called once all
 * routes are in, so the list is read from the router itself.
 */
// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its bindings and variables
export function closeMethods<T extends Hono<any>>(app: T): T {
  const methods = new Map<string, Set<string>>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    methods.set(r.path, (methods.get(r.path) ?? new Set()).add(r.method));
  }
  for (const [path, set] of methods) {
    const allowed = [...set].flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]));
    app.all(path, methodNotAllowed(allowed.join(", ")));
  }
  return app;
}

/** Reads at most `max` bytes of body as UTF-8, or answers 413/400. */
export async function readBody(req: Request, max: number): Promise<string> {
  const declared = Number(req.headers.get("Content-Length"));
  if (Number.isFinite(declared) && declared > max) {
    throw new ApiError(413, "payload_too_large", `The body may be at most ${max} bytes.`);
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new ApiError(413, "payload_too_large", `The body may be at most ${max} bytes.`);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(concatBytes(chunks));
  } catch {
    throw new ApiError(400, "invalid_encoding", "The body must be UTF-8.");
  }
}

/** A JSON body of at most `max` bytes (default 64 KiB), or a 4xx. */
export async function readJson(req: Request, max = 64 * 1024, opts: { allowEmpty?: boolean } = {}): Promise<unknown> {
  const text = await readBody(req, max);
  if (text.trim() === "") {
    if (opts.allowEmpty) return {};
    throw new ApiError(400, "empty_body", "Send a JSON object.");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(err as Error).message}`);
  }
}

/** `Authorization: Bearer <token>`, or null. */
export function bearer(req: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("Authorization") ?? "");
  return m ? m[1] : null;
}
