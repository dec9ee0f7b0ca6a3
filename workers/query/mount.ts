/**
 * How the query Worker serves an endpoint definition (domain/api): its route and validation through
 * @hono/zod-openapi, the caller checked as its `auth` says (before anything else is read), its JSON body
 * read within its size limit, and the handler given the validated input.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { Auth, Endpoint, Input } from "../../domain/api/define";
import { ApiError } from "../../domain/errors";
import type { Principal } from "../../domain/registry";
import { describeIssues, parseOr400 } from "../../domain/schemas";
import { readJson } from "../http";
import { noteKeyUse } from "../../domain/registry";
import { authenticate, requireAdmin, requireReader } from "./auth";

export type QueryVars = { Bindings: QueryEnv; Variables: { principal: Principal } };
export type QueryApp = OpenAPIHono<QueryVars>;
export type QueryContext = Context<QueryVars>;

export function queryApp(): QueryApp {
  return new OpenAPIHono<QueryVars>({
    // Query and path parameters that do not fit answer like every other bad input: a 400 naming the field.
    defaultHook: (result) => {
      if (result.success) return;
      // @hono/zod-validator hands the hook the input it read as `data` (which tells "missing" from "wrong").
      const input = "data" in result ? (result.data as Record<string, unknown>) : undefined;
      // A query parameter given twice reaches the schema as an array: say so, rather than "wrong type".
      const repeated = input && result.target === "query" ? Object.keys(input).find((k) => Array.isArray(input[k])) : undefined;
      if (repeated) throw new ApiError(400, "invalid_request", `${repeated}: must be given once`);
      throw new ApiError(400, "invalid_request", describeIssues(result.error, undefined, input));
    },
  });
}

/** The caller, checked by `require`, noted as having used its key (a write at most every few minutes), then the handler. */
const caller =
  (require: (p: Principal) => void): MiddlewareHandler<QueryVars> =>
  async (c, next) => {
    const p = await authenticate(c.req.raw, c.env);
    require(p);
    const used = noteKeyUse(c.env.DB, p);
    if (used) c.executionCtx.waitUntil(used);
    c.set("principal", p);
    await next();
  };

const AUTH: Record<Auth, MiddlewareHandler<QueryVars> | null> = {
  admin: caller(requireAdmin),
  reader: caller(requireReader),
  account: caller(() => {}),
  publisher: null,
  advertiser: null,
  none: null,
};

export function mount<E extends Endpoint>(
  app: QueryApp,
  e: E,
  handler: (c: QueryContext, input: Input<E>) => Response | Promise<Response>,
): void {
  const auth = AUTH[e.auth];
  if (e.auth === "publisher" || e.auth === "advertiser") throw new Error(`${e.route.path}: ${e.auth} endpoints live on the ingest Worker`);
  // The router has validated query and path already; their typed view comes from the definition (Input<E>).
  type Validated = { out: { query: unknown; param: unknown } };
  app.openapi({ ...e.route, middleware: auth ? [auth] : [] }, (async (c: Context<QueryVars, string, Validated>) => {
    const body = e.body
      ? parseOr400(e.body.schema, await readJson(c.req.raw, e.body.maxBytes, { allowEmpty: e.body.optional }))
      : undefined;
    const input = { query: e.query ? c.req.valid("query") : {}, params: e.params ? c.req.valid("param") : {}, body } as Input<E>;
    return handler(c as QueryContext, input);
  }) as never);
}
