/**
 * A campaign object written by schema 1 (every key, counter and register its own row) is converted on
 * its first start under the new code: counts, unique-user registers, dedup keys, IP counters, receipts
 * and the events still in its outbox all carry over, and the old tables are gone.
 */
import { describe, expect, it } from "vitest";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { INVALID_REASONS, SUSPICIOUS_REASONS } from "../../domain/event";
import { hllPoint, sketchEstimate, sketchFromBytes } from "../../domain/hll";
import { HORIZONS } from "../../durable-objects/campaign";
import { campaignStub } from "../../durable-objects/client";
import { makeEvent, uniq } from "./fixtures";
import { testEnv, waitFor } from "./helpers";

const REASONS = [...INVALID_REASONS, ...SUSPICIOUS_REASONS];
// Schema 1, as the previous release created it.
const V1 = `
CREATE TABLE IF NOT EXISTS receipt (uid TEXT NOT NULL, role INTEGER NOT NULL, answer TEXT NOT NULL, exp INTEGER NOT NULL, PRIMARY KEY (uid, role)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_event (event_id TEXT PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_user_minute (minute INTEGER NOT NULL, ad_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (minute, ad_id, user_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ip_second (second INTEGER NOT NULL, ip_hash TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (second, ip_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ip_minute (minute INTEGER NOT NULL, ip_hash TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, ip_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cell (
  id INTEGER PRIMARY KEY, g INTEGER NOT NULL, ts INTEGER NOT NULL, late INTEGER NOT NULL,
  ad_id TEXT NOT NULL, country TEXT NOT NULL, device_type TEXT NOT NULL, os TEXT NOT NULL, publisher_id TEXT NOT NULL, ad_format TEXT NOT NULL,
  clicks INTEGER NOT NULL, cost INTEGER NOT NULL, suspicious INTEGER NOT NULL, duplicates INTEGER NOT NULL, invalid INTEGER NOT NULL,
  ${REASONS.map((r) => `r_${r} INTEGER NOT NULL`).join(", ")},
  UNIQUE (g, ts, late, ad_id, country, device_type, os, publisher_id, ad_format));
CREATE TABLE IF NOT EXISTS hll (cell_id INTEGER NOT NULL, idx INTEGER NOT NULL, rho INTEGER NOT NULL, PRIMARY KEY (cell_id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT, bytes INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirty_minute (ts INTEGER PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS late_arrival (ts INTEGER PRIMARY KEY, events INTEGER NOT NULL, clicks INTEGER NOT NULL);
`;

describe("schema migration", () => {
  it("converts a schema-1 object on first start, keeping counts, registers, dedup keys, receipts and its outbox", async () => {
    const campaign_id = uniq("cmp");
    const stub = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const t = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
    const users = ["u1", "u2", "u3"];
    const events = users.map((user_id, i) =>
      makeEvent({ campaign_id, ad_id: "ad1", user_id, ip_hash: "ip1", timestamp: t + i, received_at: t + i }),
    );
    await runInDurableObject(stub, (_o, state) => {
      const sql = state.storage.sql;
      for (const q of V1.split(";")
        .map((s) => s.trim())
        .filter(Boolean))
        sql.exec(q);
      for (const [k, v] of [
        ["campaign_id", campaign_id],
        ["shard", "0"],
        ["advertiser_id", "adv_test"],
      ])
        sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, v);
      for (const [i, e] of events.entries()) {
        sql.exec("INSERT INTO seen_event VALUES (?, ?)", e.event_id, e.timestamp + HORIZONS.stateMs);
        sql.exec("INSERT OR IGNORE INTO seen_user_minute VALUES (?, ?, ?)", Math.floor(t / 60_000), e.ad_id, e.user_id);
        sql.exec(
          "INSERT INTO receipt VALUES (?, 0, ?, ?)",
          e.uid,
          JSON.stringify({ verdict: "clean", reason: null, late: false }),
          e.received_at + 2 * 86_400_000,
        );
        sql.exec("INSERT OR REPLACE INTO ip_second VALUES (?, 'ip1', ?)", Math.floor(t / 1000), i + 1);
        sql.exec("INSERT OR REPLACE INTO ip_minute VALUES (?, 'ip1', ?)", Math.floor(t / 60_000), i + 1);
        sql.exec(
          "INSERT INTO outbox (bytes, body) VALUES (1, ?)",
          JSON.stringify({ ...e, verdict: "clean", reason: null, late: false, shard: 0 }),
        );
      }
      for (const [g, step] of [
        [0, 60_000],
        [1, 3_600_000],
        [2, 86_400_000],
      ]) {
        const id = sql
          .exec<{ id: number }>(
            `INSERT INTO cell (g, ts, late, ad_id, country, device_type, os, publisher_id, ad_format, clicks, cost, suspicious, duplicates, invalid, ${REASONS.map((r) => `r_${r}`).join(", ")})
           VALUES (?, ?, 0, 'ad1', 'US', 'desktop', 'Windows', '', '', 3, 1500000, 0, 0, 0, ${REASONS.map(() => "0").join(", ")}) RETURNING id`,
            g,
            Math.floor(t / step) * step,
          )
          .one().id;
        for (const u of users) {
          const { idx, rho } = hllPoint(u);
          sql.exec("INSERT INTO hll VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET rho = MAX(rho, excluded.rho)", id, idx, rho);
        }
      }
    });

    await evictDurableObject(stub);
    const again = campaignStub(testEnv.CAMPAIGN, campaign_id, 0);
    const day = async () => (await again.cells({ granularity: "day", from: t - 86_400_000, to: t + 86_400_000, sketches: true }))[0];
    const before = await day();
    expect(before).toMatchObject({ clicks: 3, cost_micros: 1_500_000, duplicates: 0 });
    expect(sketchEstimate(sketchFromBytes(before.users!))).toBe(3);
    // The outbox became log rows, waiting only for the archive.
    expect((await again.backlog()).log_rows).toBe(1);

    // A replayed receipt gets its first answer; a resend of the event (new receipt) is a duplicate.
    expect(await again.record(0, [events[0]])).toEqual([{ verdict: "clean", reason: null, late: false }]);
    expect((await again.record(0, [{ ...events[1], uid: "r-new" }]))[0]).toMatchObject({ verdict: "duplicate", reason: "event_id" });
    // The IP's counters carried over: 8 more events in its second are clean, the 11th of the second is not.
    const more = Array.from({ length: 8 }, (_, i) =>
      makeEvent({ campaign_id, ad_id: "ad1", ip_hash: "ip1", timestamp: t + 10 + i, received_at: t + 10 + i }),
    );
    const verdicts = (await again.record(0, more)).map((o) => o.reason);
    expect(verdicts).toEqual([null, null, null, null, null, null, null, "ip_burst_second"]);
    expect((await day()).clicks).toBe(10);

    const tables = await runInDurableObject(again, (_o, state) =>
      state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .toArray()
        .map((r) => r.name),
    );
    expect(tables.filter((n) => !n.startsWith("_cf") && !n.startsWith("sqlite_"))).toEqual(["blob", "keys", "log", "meta"]);

    // The migrated outbox reaches the archive.
    await runDurableObjectAlarm(again);
    await waitFor("migrated events archived", async () => (await again.backlog()).open_messages === 0);
  });
});
