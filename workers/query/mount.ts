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
import { authenticate, requireAdmin, requireReader } from "./auth";

export type QueryVars = { Bindings: QueryEnv; Variables: { principal: Principal } };
export type QueryApp = OpenAPIHono<QueryVars>;
export type QueryContext = Context<QueryVars>;

export function queryApp(): QueryApp {
  return new OpenAPIHono<QueryVars>({
    // Query and path parameters that do not fit answer like every other bad input: a 400 naming the field.
    defaultHook: (result) => {
      // @hono/zod-validator hands the hook the input it read as `data` (which tells "missing" from "wrong").
      if (!result.success)
        throw new ApiError(400, "invalid_request", describeIssues(result.error, undefined, "data" in result ? result.data : undefined));
    },
  });
}

const AUTH: Record<Auth, MiddlewareHandler<QueryVars> | null> = {
  admin: async (c, next) => {
    const p = await authenticate(c.req.raw, c.env);
    requireAdmin(p);
    c.set("principal", p);
    await next();
  },
  reader: async (c, next) => {
    const p = await authenticate(c.req.raw, c.env);
    requireReader(p);
    c.set("principal", p);
    await next();
  },
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
