/**
 * One definition per endpoint: method, path, who may call it, its inputs (the zod schemas that validate
 * them), its answers and its errors. Routing, validation, authentication and the OpenAPI document are all
 * derived from it (workers/query/app.ts, workers/ingest/index.ts), so none of them can drift from another.
 *
 * Query and path parameters are zod objects that @hono/zod-openapi validates. JSON bodies are documented
 * from their zod schema but read by edgeclick itself (workers/http.ts), because our bodies have size
 * limits, accept a missing Content-Type and answer `empty_body`/`invalid_json` the way the API promises.
 */
import type { RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";

/** `account`: any key that belongs to an account (advertiser or publisher), or the admin token. */
export type Auth = "admin" | "reader" | "publisher" | "advertiser" | "account" | "none";
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429;
export type Tag = "admin" | "ingest" | "query" | "account" | "docs";

/** The OpenAPI security requirement of each kind of caller. */
export const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  admin: [{ adminToken: [] }],
  reader: [{ advertiserKey: [] }, { adminToken: [] }],
  publisher: [{ publisherKey: [] }],
  account: [{ advertiserKey: [] }, { publisherKey: [] }, { adminToken: [] }],
  advertiser: [{ advertiserKey: [] }],
  none: [],
};

export const SECURITY_SCHEMES = {
  adminToken: "The admin token (locally `dev-admin-token`).",
  advertiserKey: "An advertiser's API key (ek_adv_…): reads only its own campaigns and ads.",
  publisherKey: "A publisher's API key (ek_pub_…): may post events and manage its own keys (/v1/keys).",
};

/** Every error edgeclick answers, by status: the shared response's name and what it means. */
export const ERRORS: Record<ErrorStatus, [name: string, description: string]> = {
  400: [
    "BadRequest",
    "Bad input (invalid_request, invalid_json, empty_body, invalid_range, range_too_large, …); the message names the field.",
  ],
  401: ["Unauthorized", "No key, or a key that is not valid (unauthorized)."],
  403: ["Forbidden", "The key is valid but may not do this (forbidden)."],
  404: ["NotFound", "Unknown, or not yours: another advertiser's campaign or ad answers the same as a missing one."],
  409: ["Conflict", "The request would break a rule of the current state (last_key: an account keeps at least one key)."],
  413: ["PayloadTooLarge", "The body is too large (payload_too_large, too_many_events)."],
  429: [
    "TooManyRequests",
    "Over a rate limit (rate_limited); nothing of the request was recorded. `Retry-After` says how many seconds until it would fit.",
  ],
};

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe("snake_case, stable; branch on this."),
      message: z.string().describe("A sentence for people."),
    }),
  })
  .describe("Every error edgeclick answers (always a 4xx for bad input).");

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of what a zod schema accepts. */
export function inputSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12", unrepresentable: "any" });
  return json;
}

export interface BodySpec<B extends z.ZodType = z.ZodType> {
  schema: B;
  /** Largest body accepted, in bytes (413 above). */
  maxBytes: number;
  /** An empty body reads as `{}` (every field has a default). */
  optional: boolean;
}

type Params = z.ZodObject | undefined;

export interface Endpoint<Q extends Params = Params, P extends Params = Params, B extends z.ZodType | undefined = z.ZodType | undefined> {
  method: "get" | "post" | "patch" | "put" | "delete";
  /** OpenAPI form: `/v1/campaigns/{id}` (routingPath gives Hono's). */
  path: string;
  /** What @hono/zod-openapi registers: the OpenAPI operation with its path, and the zod schemas it validates. */
  readonly route: RouteConfig;
  auth: Auth;
  query: Q;
  params: P;
  body: B extends z.ZodType ? BodySpec<B> : undefined;
}

/** What a handler receives, already validated and typed from its definition. */
export interface Input<E extends Endpoint> {
  query: E["query"] extends z.ZodObject ? z.output<E["query"]> : Record<string, never>;
  params: E["params"] extends z.ZodObject ? z.output<E["params"]> : Record<string, never>;
  body: E["body"] extends BodySpec<infer B> ? z.output<B> : undefined;
}

const ok = (description: string, schema: z.ZodType, example?: unknown) => ({
  description,
  content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});

/** A success answered as JSON. */
export function jsonAnswer(status: number, description: string, schema: z.ZodType) {
  return { [status]: ok(description, schema) };
}

/**
 * A success answered as JSON, or as CSV when asked (`format=csv` or `Accept: text/csv`): the rows of the
 * JSON answer (`rows` names them), one per line under a header row.
 */
export function jsonOrCsvAnswer(status: number, description: string, schema: z.ZodType, rows: string) {
  const csv = {
    description:
      `${description}. As CSV (RFC 4180, CRLF, UTF-8, a header row, streamed): the \`${rows}\` rows, nested fields as ` +
      "`parent.child` columns (one per reason code, 0 where the JSON leaves a code out), with " +
      "`Content-Disposition: attachment; filename=…`.",
    content: { ...ok(description, schema).content, "text/csv": { schema: z.string() } },
  };
  return { [status]: csv };
}

export function endpoint<Q extends Params = undefined, P extends Params = undefined, B extends z.ZodType | undefined = undefined>(d: {
  method: "get" | "post" | "patch" | "put" | "delete";
  /** OpenAPI form: `/v1/campaigns/{id}`. */
  path: string;
  id: string;
  tag: Tag;
  summary: string;
  description?: string;
  auth: Auth;
  query?: Q;
  params?: P;
  body?: { schema: B; maxBytes?: number; optional?: boolean; example?: unknown };
  /** Parameters documented but read by the handler itself (the lenient `/click`); built only for the document. */
  parameters?: () => RouteConfig["parameters"];
  /** A body documented but read by the handler itself (NDJSON or JSON events). */
  content?: NonNullable<RouteConfig["request"]>["body"];
  responses: RouteConfig["responses"];
  errors: ErrorStatus[];
}): Endpoint<Q, P, B> {
  // The OpenAPI operation is built on first use: only the query Worker needs it, and the JSON Schemas in it
  // are not free to make, so the ingest Worker (which routes by method and path) never pays for them.
  let route: RouteConfig | null = null;
  const build = (): RouteConfig => {
    const responses: RouteConfig["responses"] = { ...d.responses };
    for (const status of d.errors) responses[status] = { $ref: `#/components/responses/${ERRORS[status][0]}` };
    const body = d.body?.schema
      ? {
          required: !d.body.optional,
          content: {
            "application/json": {
              schema: inputSchema(d.body.schema),
              ...(d.body.example === undefined ? {} : { example: d.body.example }),
            },
          },
        }
      : d.content;
    const parameters = d.parameters?.();
    return {
      method: d.method,
      path: d.path,
      operationId: d.id,
      tags: [d.tag],
      summary: d.summary,
      ...(d.description ? { description: d.description } : {}),
      security: SECURITY[d.auth],
      ...(parameters ? { parameters } : {}),
      request: { ...(d.query ? { query: d.query } : {}), ...(d.params ? { params: d.params } : {}), ...(body ? { body } : {}) },
      responses,
    };
  };
  const spec = d.body?.schema
    ? { schema: d.body.schema, maxBytes: d.body.maxBytes ?? 64 * 1024, optional: d.body.optional ?? false }
    : undefined;
  return {
    method: d.method,
    path: d.path,
    get route() {
      route ??= build();
      return route;
    },
    auth: d.auth,
    query: d.query as Q,
    params: d.params as P,
    body: spec as Endpoint<Q, P, B>["body"],
  };
}

/** Hono's routing form of an OpenAPI path: `{id}` → `:id`. */
export function routingPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ":$1");
}

/** Query parameters of a zod object, documented but not validated by the router (see `parameters`). */
export function documentedQuery(schema: z.ZodObject, notes: Record<string, string> = {}): NonNullable<RouteConfig["parameters"]> {
  const json = inputSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name,
    in: "query" as const,
    required: required.has(name),
    ...(notes[name] ? { description: notes[name] } : {}),
    schema,
  }));
}
