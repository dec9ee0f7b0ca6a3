/** Who is asking: the admin token, an advertiser key or a publisher key. */
import { secretEquals } from "../../domain/crypto";
import { ApiError } from "../../domain/errors";
import { principalForKey, type Principal } from "../../domain/registry";
import { bearer } from "../http";

export async function authenticate(req: Request, env: QueryEnv): Promise<Principal> {
  const token = bearer(req);
  if (!token) throw new ApiError(401, "unauthorized", "Send a key as `Authorization: Bearer <key>`.");
  if (env.ADMIN_TOKEN && (await secretEquals(token, env.ADMIN_TOKEN))) return { role: "admin" };
  const p = await principalForKey(env.DB, token);
  if (!p) throw new ApiError(401, "unauthorized", "That key is not valid.");
  return p;
}

export function requireAdmin(p: Principal): void {
  if (p.role !== "admin") throw new ApiError(403, "forbidden", "This endpoint needs the admin token.");
}

/** Advertisers read their own campaigns; the admin reads all; publishers read none. */
export function requireReader(p: Principal): asserts p is Extract<Principal, { role: "admin" | "advertiser" }> {
  if (p.role === "publisher") throw new ApiError(403, "forbidden", "Publisher keys can post events but not read metrics.");
}

/** The advertiser a reader is limited to, or null for the admin. */
export function tenantOf(p: Principal): string | null {
  return p.role === "advertiser" ? p.advertiser_id : null;
}
