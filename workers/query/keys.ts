/** `/v1/keys`: an account's own API keys (the admin: any account's). Rotation without downtime: issue, move, revoke. */
import * as api from "../../domain/api/routes";
import { ApiError, notFound } from "../../domain/errors";
import { issueKey, listKeys, revokeKey, type KeyOwner, type Principal } from "../../domain/registry";
import { mount, type QueryApp } from "./mount";

/** Whose keys a request means: the admin names exactly one account; a key means its own account and may name only that. */
function ownerOf(p: Principal, named: { advertiser_id?: string; publisher_id?: string }): KeyOwner {
  const asked: KeyOwner[] = [];
  if (named.advertiser_id) asked.push({ kind: "advertiser", id: named.advertiser_id });
  if (named.publisher_id) asked.push({ kind: "publisher", id: named.publisher_id });
  if (asked.length > 1) throw new ApiError(400, "invalid_request", "Name at most one of advertiser_id or publisher_id.");
  if (p.role === "admin") {
    if (!asked.length) throw new ApiError(400, "invalid_request", "The admin token names the account: give advertiser_id or publisher_id.");
    return asked[0];
  }
  const own: KeyOwner = p.role === "advertiser" ? { kind: "advertiser", id: p.advertiser_id } : { kind: "publisher", id: p.publisher_id };
  if (asked.length && (asked[0].kind !== own.kind || asked[0].id !== own.id))
    throw new ApiError(403, "forbidden", "A key manages only its own account's keys.");
  return own;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function keyRoutes(app: QueryApp): void {
  mount(app, api.createKey, async (c, { body }) => {
    const owner = ownerOf(c.get("principal"), body);
    const key = await issueKey(c.env.DB, owner);
    if (!key) throw notFound(`The ${owner.kind} ${owner.id}`);
    return c.json(key, 201);
  });

  mount(app, api.listKeys, async (c, { query }) => {
    const p = c.get("principal");
    const owner = ownerOf(p, query);
    const keys = await listKeys(c.env.DB, owner);
    if (!keys.length) throw notFound(`The ${owner.kind} ${owner.id}`);
    const current = p.role === "admin" ? null : p.key_id;
    return c.json({
      account: owner.id,
      keys: keys.map((k) => ({
        key_id: k.key_id,
        created_at: iso(k.created_at),
        last_used_at: iso(k.last_used_at),
        current: k.key_id === current,
      })),
    });
  });

  mount(app, api.revokeKey, async (c, { params }) => {
    const p = c.get("principal");
    // The admin revokes by id alone: find whose it is.
    const owner: KeyOwner | null =
      p.role === "admin"
        ? await c.env.DB.prepare("SELECT advertiser_id, publisher_id FROM api_keys WHERE key_id = ?")
            .bind(params.key_id)
            .first<{ advertiser_id: string | null; publisher_id: string | null }>()
            .then((r) =>
              !r ? null : r.advertiser_id ? { kind: "advertiser", id: r.advertiser_id } : { kind: "publisher", id: r.publisher_id! },
            )
        : ownerOf(p, {});
    const outcome = owner ? await revokeKey(c.env.DB, owner, params.key_id) : "missing";
    if (outcome === "missing") throw notFound(`Key ${params.key_id.slice(0, 64)}`);
    if (outcome === "last")
      throw new ApiError(409, "last_key", "That is the account's last key; issue another with POST /v1/keys before revoking it.");
    return c.json({ key_id: params.key_id, revoked: true as const });
  });
}
