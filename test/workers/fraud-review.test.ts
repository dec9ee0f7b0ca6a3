/**
 * Batch fraud review's publisher spikes (r2-batch/fraud.ts), through HTTP against the real R2, D1 and objects: a
 * publisher's week archived as the aggregator writes it, then a day far above it, found with the baseline as its
 * evidence and, applied, credited to the advertiser.
 */
import { describe, expect, it } from "vitest";
import { BILLING_COUNTS, type FraudReviewResult } from "../../domain/billing";
import type { RecordedEvent } from "../../domain/event";
import { DAY, HOUR, dateStart, utcDate } from "../../domain/time";
import { REVIEW_MAX_EVENTS, reviewFraud } from "../../r2-batch/fraud";
import { overlayOf } from "../../r2-batch/rollup";
import { archiveMessage } from "../../workers/aggregator/archive";
import { makeEvent } from "./fixtures";
import { ADMIN, adminPost, call, json, testEnv } from "./helpers";

/** The spike day: two days ago (UTC), so its seven days before are all within the archive's reach. */
const DATE = utcDate(Date.now() - 2 * DAY);
const DAY_START = dateStart(DATE)!;

/** Invalid events are a bot's, so a recalculation judges them as they were recorded. */
const BOT = "Googlebot/2.1 (+http://www.google.com/bot.html)";

let seq = 0;
/** `n` events of a publisher on the day `daysBefore` the day starting at `dayStart`, a second apart from 01:00 UTC. */
const eventsOf = (dayStart: number, campaign: string, publisher: string, daysBefore: number, n: number, invalid = 0): RecordedEvent[] =>
  Array.from({ length: n }, (_, i) => {
    const t = dayStart - daysBefore * DAY + HOUR + i * 1000;
    return {
      ...makeEvent({
        timestamp: t,
        received_at: t,
        campaign_id: campaign,
        publisher_id: publisher,
        ...(i < invalid ? { user_agent: BOT } : {}),
      }),
      verdict: i < invalid ? "invalid" : "clean",
      reason: i < invalid ? "bot_ua" : null,
      late: false,
      shard: 0,
      seq: seq++,
    };
  });

const day = (campaign: string, publisher: string, daysBefore: number, n: number, invalid = 0) =>
  eventsOf(DAY_START, campaign, publisher, daysBefore, n, invalid);

const archive = (campaign: string, events: RecordedEvent[]) => archiveMessage(testEnv.ARCHIVE, `${campaign}.0-${seq++}`, events);

const post = (path: string, body: unknown) =>
  call(`http://query.test${path}`, { method: "POST", headers: ADMIN, body: JSON.stringify(body) });

async function billed(campaignId: string) {
  const row = await testEnv.DB.prepare(`SELECT ${BILLING_COUNTS.join(", ")} FROM billing_daily WHERE campaign_id = ? AND date = ?`)
    .bind(campaignId, DATE)
    .first<Record<string, number>>();
  return { clicks: row?.clicks, invalid: row?.invalid_clicks };
}

type Finding = { finding_id: string; kind: string; subject: string; status: string; evidence: Record<string, unknown> };

async function findings(): Promise<Finding[]> {
  return (await json<{ findings: Finding[] }>(await call("http://query.test/v1/admin/fraud-review", { headers: ADMIN }))).findings;
}

describe("batch fraud review: publisher spikes", () => {
  it("finds a volume spike and an invalid-rate jump against the publisher's own week, not a quiet publisher; applied, credits", async () => {
    const adv = await adminPost("advertisers", { name: "Spiked" });
    const c = (await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name: "Spiked", cost_per_click: 0.5 })).campaign_id;
    const tag = crypto.randomUUID().slice(0, 8);
    const [spiky, jumpy, quiet] = ["spiky", "jumpy", "quiet"].map((p) => `pub_${p}_${tag}`);
    for (let d = 1; d <= 7; d++) {
      await archive(c, [...day(c, spiky, d, 20), ...day(c, jumpy, d, 30, 1), ...day(c, quiet, d, 110)]);
    }
    // 120 is six times spiky's 20 a day; jumpy's 40 % invalid is 36 points above its 3.3 %; quiet stays quiet.
    await archive(c, [...day(c, spiky, 0, 120), ...day(c, jumpy, 0, 100, 40), ...day(c, quiet, 0, 130)]);
    await adminPost("rollup", { date: DATE });
    expect(await billed(c)).toEqual({ clicks: 120 + 60 + 130, invalid: 40 });

    expect((await post("/v1/admin/fraud-review", { from: DATE, to: DATE })).status).toBe(200);
    const mine = (await findings()).filter((f) => f.subject.endsWith(tag));
    expect(mine.map((f) => f.subject).sort()).toEqual([`publisher_id:${jumpy}`, `publisher_id:${spiky}`]);
    const spike = mine.find((f) => f.subject === `publisher_id:${spiky}`)!;
    expect(spike).toMatchObject({
      kind: "publisher_spike",
      status: "open",
      evidence: {
        field: "publisher_id",
        value: spiky,
        window_start: new Date(DAY_START).toISOString(),
        window_end: new Date(DAY_START + DAY).toISOString(),
        events: 120,
        campaigns: { [c]: 120 },
        invalid_rate: 0,
        baseline: { days: 7, events_per_day: 20, invalid_rate: 0 },
      },
    });
    expect(mine.find((f) => f.subject === `publisher_id:${jumpy}`)).toMatchObject({
      kind: "publisher_spike",
      evidence: { events: 100, invalid_rate: 0.4, baseline: { days: 7, events_per_day: 30, invalid_rate: 0.0333 } },
    });
    // Found, not applied: nothing credited yet.
    expect(await billed(c)).toEqual({ clicks: 310, invalid: 40 });

    const applied = await post(`/v1/admin/fraud-review/${spike.finding_id}/apply`, {});
    expect(applied.status).toBe(200);
    expect(await json(applied)).toMatchObject({ cause: "fraud_review", status: "applied", changed: 120 });
    expect(await billed(c)).toEqual({ clicks: 190, invalid: 160 });
    const overlay = await overlayOf(testEnv, [DATE], c);
    expect(overlay.size).toBe(120);
    expect(new Set([...overlay.values()].map((j) => `${j.verdict} ${j.reason}`))).toEqual(new Set(["invalid batch_publisher_spike"]));
    const { restatements } = await json<{ restatements: { cause: string; old: { clicks: number }; new: { clicks: number } }[] }>(
      await call(`http://query.test/v1/billing/restatements?campaign_id=${c}`, { headers: ADMIN }),
    );
    expect(restatements.map((r) => [r.cause, r.old.clicks, r.new.clicks])).toEqual([["fraud_review", 310, 190]]);
    expect((await findings()).find((f) => f.finding_id === spike.finding_id)?.status).toBe("applied");
  });

  it("runs on the daily cron over yesterday, once however often the cron fires, and stores findings for an admin to apply", async () => {
    const today = dateStart(utcDate(Date.now()))!;
    const yesterday = utcDate(today - DAY);
    const adv = await adminPost("advertisers", { name: "Daily" });
    const c = (await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name: "Daily", cost_per_click: 0.5 })).campaign_id;
    const pub = `pub_daily_${crypto.randomUUID().slice(0, 8)}`;
    for (let d = 1; d <= 7; d++) await archive(c, eventsOf(today - DAY, c, pub, d, 20));
    await archive(c, eventsOf(today - DAY, c, pub, 0, 150));
    // The cron's own entry point, over RPC as the batch Worker serves it; its time is the cron's scheduled time.
    const batch = testEnv.BATCH as unknown as { dailyFraudReview(now: number): Promise<FraudReviewResult | null> };
    const mine = async () => (await findings()).filter((f) => f.subject === `publisher_id:${pub}`);

    // Not before yesterday's late events may have arrived.
    expect(await batch.dailyFraudReview(today + 10 * 60_000)).toBeNull();
    expect(await mine()).toEqual([]);

    // The cron fires twice at once, then again ten minutes later: one review, one finding.
    const runs = await Promise.all([batch.dailyFraudReview(today + 2 * HOUR), batch.dailyFraudReview(today + 2 * HOUR)]);
    const ran = runs.filter((r) => r !== null);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ from: yesterday, to: yesterday, capped: false });
    expect(ran[0]!.stored).toBeGreaterThanOrEqual(1);
    expect(await batch.dailyFraudReview(today + 2 * HOUR + 10 * 60_000)).toBeNull();
    const found = await mine();
    expect(found).toMatchObject([{ kind: "publisher_spike", status: "open", evidence: { events: 150, baseline: { days: 7 } } }]);
    // Found, not applied: billing of yesterday is left to the admin.
    expect(
      await testEnv.DB.prepare("SELECT count(*) AS n FROM recalculations WHERE finding_id = ?").bind(found[0].finding_id).first("n"),
    ).toBe(0);

    // An admin review of the same day finds it again and stores nothing twice.
    const again = await json<FraudReviewResult>(await post("/v1/admin/fraud-review", { from: yesterday, to: yesterday }));
    expect(again).toMatchObject({ stored: 0, capped: false });
    expect(again.found).toBeGreaterThanOrEqual(1);
    expect(await mine()).toHaveLength(1);

    // Past its cap a review reads no further and claims no spike it could not measure against a whole baseline.
    const capped = await reviewFraud(testEnv, yesterday, yesterday, Date.now(), 200);
    expect(capped).toMatchObject({ found: 0, capped: true });
    expect(capped.events_read).toBeLessThan(REVIEW_MAX_EVENTS);
  });
});
