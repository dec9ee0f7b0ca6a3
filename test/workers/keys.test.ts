/**
 * `/v1/keys`: a second key, then the first revoked, with no moment without a working key; revoked keys
 * refused by query and ingest; never the last key; keys from before the keys table still work.
 */
import { describe, expect, it } from "vitest";
import type { D1Migration } from "cloudflare:test";
import { sha256Hex } from "../../domain/crypto";
import { ADMIN, adminPost, call, json, seedAd, testEnv } from "./helpers";

const Q = "http://query.test";
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const keys = (headers: Record<string, string>, query = "") => call(`${Q}/v1/keys${query}`, { headers });
const issue = (headers: Record<string, string>, body?: unknown) =>
  call(`${Q}/v1/keys`, { method: "POST", headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const revoke = (headers: Record<string, string>, keyId: string) => call(`${Q}/v1/keys/${keyId}`, { method: "DELETE", headers });
const campaigns = (key: string) => call(`${Q}/v1/campaigns`, { headers: bearer(key) }).then((r) => r.status);

interface KeyList {
  account: string;
  keys: { key_id: string; created_at: string; last_used_at: string | null; current: boolean }[];
}

describe("/v1/keys", () => {
  it("rotates an advertiser's key: a second key works at once, the first is refused once revoked", async () => {
    const s = await seedAd();
    const created = await issue(bearer(s.key));
    expect(created.status).toBe(201);
    const second = await json<{ key_id: string; api_key: string }>(created);
    expect(second).toEqual({ key_id: expect.stringMatching(/^key_/), api_key: expect.stringMatching(/^ek_adv_/) });
    expect([await campaigns(s.key), await campaigns(second.api_key)]).toEqual([200, 200]);

    const listed = await keys(bearer(second.api_key));
    expect(listed.status).toBe(200);
    const list = await json<KeyList>(listed);
    expect(list.account).toBe(s.advertiser_id);
    expect(list.keys).toHaveLength(2);
    expect(list.keys.map((k) => k.current)).toEqual([false, true]);
    // Ids and times only: neither key nor its hash.
    const text = JSON.stringify(list);
    for (const secret of [s.key, second.api_key, await sha256Hex(s.key)]) expect(text).not.toContain(secret);
    // Both keys were used just now; each isolate writes that at most every few minutes.
    expect(list.keys.every((k) => k.last_used_at !== null)).toBe(true);

    const first = list.keys[0].key_id;
    const revoked = await revoke(bearer(second.api_key), first);
    expect(revoked.status).toBe(200);
    expect(await json(revoked)).toEqual({ key_id: first, revoked: true });
    expect(await campaigns(s.key)).toBe(401);
    expect(await campaigns(second.api_key)).toBe(200);
    expect((await json<KeyList>(await keys(bearer(second.api_key)))).keys.map((k) => k.key_id)).toEqual([second.key_id]);

    // Never the last key.
    const last = await revoke(bearer(second.api_key), second.key_id);
    expect(last.status).toBe(409);
    expect(await json(last)).toEqual({ error: { code: "last_key", message: expect.any(String) } });
    expect(await campaigns(second.api_key)).toBe(200);
  });

  it("rotates a publisher's key: the revoked key can no longer post events", async () => {
    const pub = await adminPost<{ publisher_id: string; api_key: string }>("publishers", { name: "Rotating news" });
    const second = await json<{ key_id: string; api_key: string }>(await issue(bearer(pub.api_key)));
    expect(second.api_key).toMatch(/^ek_pub_/);
    const post = (key: string) =>
      call("http://ingest.test/v1/events", { method: "POST", headers: bearer(key), body: "[]" }).then((r) => r.status);
    expect([await post(pub.api_key), await post(second.api_key)]).toEqual([202, 202]);
    const list = await json<KeyList>(await keys(bearer(second.api_key)));
    const old = list.keys.find((k) => !k.current)!.key_id;
    expect((await revoke(bearer(second.api_key), old)).status).toBe(200);
    expect([await post(pub.api_key), await post(second.api_key)]).toEqual([401, 202]);
    // A publisher key reads no metrics, keys or not.
    expect(await campaigns(second.api_key)).toBe(403);
  });

  it("lets the admin manage any account's keys, and keeps accounts apart", async () => {
    const a = await seedAd();
    const b = await seedAd();
    const forA = await issue(ADMIN, { advertiser_id: a.advertiser_id });
    expect(forA.status).toBe(201);
    const { key_id } = await json<{ key_id: string }>(forA);
    const adminList = await json<KeyList>(await keys(ADMIN, `?advertiser_id=${a.advertiser_id}`));
    expect(adminList.keys.map((k) => k.current)).toEqual([false, false]);
    // Another advertiser cannot see, revoke or issue A's keys.
    expect((await revoke(bearer(b.key), key_id)).status).toBe(404);
    expect((await keys(bearer(b.key), `?advertiser_id=${a.advertiser_id}`)).status).toBe(403);
    expect((await issue(bearer(b.key), { advertiser_id: a.advertiser_id })).status).toBe(403);
    expect((await revoke(ADMIN, key_id)).status).toBe(200);
    expect((await revoke(ADMIN, key_id)).status).toBe(404);
  });

  it("refuses bad input with a clear 4xx and issues nothing", async () => {
    const s = await seedAd();
    const before = (await json<KeyList>(await keys(bearer(s.key)))).keys.length;
    const cases: [Record<string, string>, unknown, number, string][] = [
      [ADMIN, {}, 400, "invalid_request"],
      [ADMIN, { advertiser_id: s.advertiser_id, publisher_id: "pub_x" }, 400, "invalid_request"],
      [ADMIN, { advertiser_id: "adv_missing" }, 404, "not_found"],
      [bearer(s.key), { surprise: 1 }, 400, "invalid_request"],
      [{}, {}, 401, "unauthorized"],
      [bearer("ek_adv_nope"), {}, 401, "unauthorized"],
    ];
    for (const [headers, body, status, code] of cases) {
      const res = await issue(headers, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(await json(res)).toEqual({ error: { code, message: expect.any(String) } });
    }
    expect((await json<KeyList>(await keys(bearer(s.key)))).keys).toHaveLength(before);
  });

  it("keeps keys issued before the keys table working (migration 0008)", async () => {
    // An advertiser and a publisher as the registry held them before 0008: the key hash on the account row only.
    const legacy = { adv: `ek_adv_legacy${crypto.randomUUID()}`, pub: `ek_pub_legacy${crypto.randomUUID()}` };
    const [advId, pubId] = [`adv_legacy${Date.now()}`, `pub_legacy${Date.now()}`];
    await testEnv.DB.batch([
      testEnv.DB.prepare("INSERT INTO advertisers (advertiser_id, name, api_key_hash, created_at) VALUES (?, 'Old', ?, 1)").bind(
        advId,
        await sha256Hex(legacy.adv),
      ),
      testEnv.DB.prepare("INSERT INTO publishers (publisher_id, name, api_key_hash, created_at) VALUES (?, 'Old', ?, 1)").bind(
        pubId,
        await sha256Hex(legacy.pub),
      ),
    ]);
    const migrations = (testEnv as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS;
    const moves = migrations.find((m) => m.name.startsWith("0008_"))!.queries.filter((q) => /INSERT INTO api_keys/.test(q));
    expect(moves).toHaveLength(2);
    const keyCount = () =>
      testEnv.DB.prepare("SELECT COUNT(*) AS n FROM api_keys")
        .first<{ n: number }>()
        .then((r) => r!.n);
    const before = await keyCount();
    for (const q of moves) await testEnv.DB.prepare(q).run();
    expect(await keyCount()).toBe(before + 2);
    // Run again: nothing moves twice.
    for (const q of moves) await testEnv.DB.prepare(q).run();
    expect(await keyCount()).toBe(before + 2);
    expect(await campaigns(legacy.adv)).toBe(200);
    const post = await call("http://ingest.test/v1/events", { method: "POST", headers: bearer(legacy.pub), body: "[]" });
    expect(post.status).toBe(202);
  });
});
