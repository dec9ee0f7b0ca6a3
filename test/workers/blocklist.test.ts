import { describe, expect, it } from "vitest";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { BLOOM_CAPACITY, BLOOM_ERROR_RATE, ipItem, uaItem, type BlocklistSource } from "../../domain/blocklist";
import { Bloom, forgetBlocklistCache, newBloom, resolveBlocklisted } from "../../domain/bloom";
import type { Blocklist } from "../../durable-objects/blocklist";
import { ADMIN, BROWSER, call, drained, json, seedAd, testEnv } from "./helpers";

function sourceOf(name: string): { stub: DurableObjectStub<Blocklist>; source: BlocklistSource; calls: { contains: number } } {
  const stub = testEnv.BLOCKLIST.getByName(name);
  const calls = { contains: 0 };
  return {
    stub,
    calls,
    source: {
      version: () => stub.version(),
      snapshot: () => stub.snapshot(),
      contains: (items) => {
        calls.contains++;
        return stub.contains(items);
      },
    },
  };
}

describe("blocklist", () => {
  it("is a Bloom filter sized for 1M entries at 0.1 % false positives", () => {
    const f = newBloom();
    expect(BLOOM_CAPACITY).toBe(1_000_000);
    expect(BLOOM_ERROR_RATE).toBe(0.001);
    // m = -n ln p / (ln 2)^2 ≈ 14.38 Mbit, k = m/n ln 2 ≈ 10.
    expect(f.size).toBeGreaterThan(14_000_000);
    expect(f.hashes).toBe(10);
  });

  it("keeps its error rate: 10,000 members in a filter for 10,000 at 1 %, about 1 % of 100,000 others hit", () => {
    const f = Bloom.forCapacity(10_000, 0.01);
    for (let i = 0; i < 10_000; i++) f.add(`member-${i}`);
    for (let i = 0; i < 10_000; i++) expect(f.has(`member-${i}`)).toBe(true);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (f.has(`other-${i}`)) hits++;
    expect(hits / 100_000).toBeGreaterThan(0.005);
    expect(hits / 100_000).toBeLessThan(0.015);
  });

  it("judges exactly: members are blocked, and Bloom false positives are confirmed away", async () => {
    forgetBlocklistCache();
    const { stub, source, calls } = sourceOf(`bl-${crypto.randomUUID()}`);
    // Enough members that a few of 20,000 probes are Bloom false positives in a smaller filter; here the
    // exact check must clear every non-member whatever the filter says.
    const members = Array.from({ length: 2000 }, (_, i) => ipItem(`blocked-${i}`));
    expect((await stub.add([...members, uaItem("BadBot/1.0"), members[0]])).added).toBe(2001);
    const events = [
      { ip_hash: "blocked-7", user_agent: null },
      { ip_hash: "fine", user_agent: "BadBot/1.0" },
      ...Array.from({ length: 20_000 }, (_, i) => ({ ip_hash: `not-blocked-${i}`, user_agent: `Browser ${i}` })),
    ];
    const out = await resolveBlocklisted(source, events);
    expect(out[0]).toEqual({ ip: true, ua: false });
    expect(out[1]).toEqual({ ip: false, ua: true });
    expect(out.slice(2).filter((b) => b.ip || b.ua)).toHaveLength(0);
    // One exact round trip for the whole batch, only for Bloom hits.
    expect(calls.contains).toBe(1);
  });

  it("persists the filter: a fresh instance loads the same membership", async () => {
    forgetBlocklistCache();
    const name = `bl-${crypto.randomUUID()}`;
    const a = sourceOf(name);
    expect(await a.stub.add([ipItem("x")])).toEqual({ version: 1, added: 1 });
    expect((await a.stub.add([ipItem("x")])).added).toBe(0);
    const snap = await a.stub.snapshot();
    expect(snap!.bits.length).toBe(Math.ceil(snap!.size / 8));
    expect(await resolveBlocklisted(a.source, [{ ip_hash: "x", user_agent: null }])).toEqual([{ ip: true, ua: false }]);
  });

  it("rebuilds a filter stored in another format from the exact set", async () => {
    const name = `bl-${crypto.randomUUID()}`;
    const { stub } = sourceOf(name);
    await stub.add([ipItem("old"), uaItem("OldBot/1")]);
    // As an earlier release left it: other bits, no format mark.
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec("UPDATE bloom SET bits = zeroblob(length(bits))");
      state.storage.sql.exec("DELETE FROM meta WHERE k = 'format'");
    });
    await evictDurableObject(stub);
    const snap = await sourceOf(name).stub.snapshot();
    const f = new Bloom(snap!.size, snap!.hashes, snap!.bits);
    expect([f.has(ipItem("old")), f.has(uaItem("OldBot/1"))]).toEqual([true, true]);
    expect(snap!.version).toBe(1);
  });

  it("forgets removed entries: the filter is rebuilt without them, and the object keeps its version history", async () => {
    forgetBlocklistCache();
    const { stub, source } = sourceOf(`bl-${crypto.randomUUID()}`);
    await stub.add([ipItem("a"), ipItem("b"), uaItem("GoneBot/1")]);
    expect(await stub.remove([ipItem("a"), ipItem("a"), ipItem("never-there")])).toEqual({ version: 2, removed: 1 });
    expect(await stub.remove([ipItem("never-there")])).toEqual({ version: 2, removed: 0 });
    const snap = await stub.snapshot();
    const f = new Bloom(snap!.size, snap!.hashes, snap!.bits);
    expect([f.has(ipItem("a")), f.has(ipItem("b")), f.has(uaItem("GoneBot/1"))]).toEqual([false, true, true]);
    const events = [
      { ip_hash: "a", user_agent: null },
      { ip_hash: "b", user_agent: null },
    ];
    expect(await resolveBlocklisted(source, events)).toEqual([
      { ip: false, ua: false },
      { ip: true, ua: false },
    ]);
  });
});

describe("DELETE /v1/admin/blocklist", () => {
  const blocklist = (method: string, body: unknown, headers = ADMIN) =>
    call("http://query.test/v1/admin/blocklist", { method, headers, body: JSON.stringify(body) });

  it("unblocks an IP for clicks after the answer; the verdicts already given stay", async () => {
    forgetBlocklistCache();
    const s = await seedAd();
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 20}`;
    const click = (user: string) =>
      call(`${s.click_url}&user_id=${user}`, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": ip } }).then((r) => r.status);
    expect((await blocklist("POST", { ips: [ip] })).status).toBe(200);
    expect(await click("before")).toBe(302);
    // Judged (a verdict given) before the entry goes.
    await drained();
    const removed = await blocklist("DELETE", { ips: [ip, "203.0.113.250"] });
    expect(removed.status).toBe(200);
    expect(await json(removed)).toEqual({ ips: 2, user_agents: 0, removed: 1, version: expect.any(Number) });
    expect(await click("after")).toBe(302);
    const live = await json<{ clicks: number; invalid_by_reason: Record<string, number> }>(
      await call(`http://query.test/v1/campaigns/${s.campaign_id}/live?minutes=5`, { headers: { Authorization: `Bearer ${s.key}` } }),
    );
    expect(live).toMatchObject({ clicks: 1, invalid_by_reason: { blocklisted_ip: 1 } });
  });

  it("refuses bad input with a 4xx and changes nothing", async () => {
    const before = await testEnv.BLOCKLIST.getByName("global").version();
    for (const [body, status] of [
      [{}, 400],
      [{ ips: ["not-an-ip"] }, 400],
      [{ ips: ["198.51.100.1"], extra: 1 }, 400],
    ] as const) {
      const res = await blocklist("DELETE", body);
      expect(res.status).toBe(status);
      expect(await json(res)).toMatchObject({ error: { code: "invalid_request" } });
    }
    expect((await blocklist("DELETE", { ips: ["198.51.100.1"] }, { Authorization: "Bearer nope" })).status).toBe(401);
    expect(await testEnv.BLOCKLIST.getByName("global").version()).toBe(before);
  });
});
