/** Who may call the ingest Worker's endpoints, as their definitions say (domain/api/routes.ts `auth`). */
import { ApiError } from "../../domain/errors";
import { noteKeyUse, principalForKey, type Principal } from "../../domain/registry";
import { bearer } from "../http";

export type Publisher = Extract<Principal, { role: "publisher" }>;

/** The publisher a request's key belongs to, or a 401/403. Its use is noted in the background (at most every few minutes). */
export async function publisherOf(req: Request, env: IngestEnv, ctx: Pick<ExecutionContext, "waitUntil">): Promise<Publisher> {
  const key = bearer(req);
  if (!key) throw new ApiError(401, "unauthorized", "Send your publisher API key as `Authorization: Bearer <key>`.");
  const p = await principalForKey(env.DB, key);
  if (!p) throw new ApiError(401, "unauthorized", "That API key is not valid.");
  if (p.role !== "publisher") throw new ApiError(403, "forbidden", "Only publisher keys may post events.");
  const used = noteKeyUse(env.DB, p);
  if (used) ctx.waitUntil(used);
  return p;
}
