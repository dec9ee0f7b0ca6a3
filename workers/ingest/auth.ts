/** Who may call the ingest Worker's endpoints, as their definitions say (domain/api/routes.ts `auth`). */
import { ApiError } from "../../domain/errors";
import { noteKeyUse, principalForKey, type Principal } from "../../domain/registry";
import { bearer } from "../http";

export type Publisher = Extract<Principal, { role: "publisher" }>;
export type Advertiser = Extract<Principal, { role: "advertiser" }>;

const WHAT = { publisher: "post events", advertiser: "post conversions" } as const;

/**
 * The account of `role` a request's key belongs to, or a 401/403. Its use is noted in the background (at
 * most every few minutes).
 */
export async function callerOf<R extends "publisher" | "advertiser">(
  role: R,
  req: Request,
  env: IngestEnv,
  ctx: Pick<ExecutionContext, "waitUntil">,
): Promise<Extract<Principal, { role: R }>> {
  const key = bearer(req);
  if (!key) throw new ApiError(401, "unauthorized", `Send your ${role} API key as \`Authorization: Bearer <key>\`.`);
  const p = await principalForKey(env.DB, key);
  if (!p) throw new ApiError(401, "unauthorized", "That API key is not valid.");
  if (p.role !== role) throw new ApiError(403, "forbidden", `Only ${role} keys may ${WHAT[role]}.`);
  const used = noteKeyUse(env.DB, p);
  if (used) ctx.waitUntil(used);
  return p as Extract<Principal, { role: R }>;
}
