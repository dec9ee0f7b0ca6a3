import { DurableObject } from "cloudflare:workers";
import {
  RETRY_DELAYS_S,
  SIGNATURE_HEADER,
  evaluateAlerts,
  signature,
  windowTimes,
  type CampaignWindow,
  type Episodes,
  type NewAlert,
} from "../domain/alerts";
import type { CellPartial, CellQuery } from "../domain/cells";
import { newId } from "../domain/crypto";
import { fromMicros } from "../domain/event";
import type { Jurisdiction } from "../domain/jurisdiction";
import { logLine } from "../domain/log";
import { maxShards, type ShardPlan } from "../domain/sharding";
import { HOUR, MINUTE } from "../domain/time";
import { campaignStub } from "./client";

/** What the evaluator needs to know about a campaign (a CampaignRecord fits). */
export interface WatchedCampaign {
  campaign_id: string;
  shard_plan: ShardPlan;
  jurisdiction: Jurisdiction | null;
  daily_budget?: number | null;
}

export interface Webhook {
  url: string;
  secret: string;
}

export type DeliveryStatus = "pending" | "delivered" | "failed" | "no_webhook";

export interface AlertRecord extends NewAlert {
  alert_id: string;
  advertiser_id: string;
  at: number;
  delivery: DeliveryStatus;
  attempts: number;
}

interface Pending {
  alert_id: string;
  attempts: number;
  next_at: number;
}

/** Alerts kept for GET /v1/alerts; older ones go. */
const KEEP_ALERTS = 200;
const DELIVERY_TIMEOUT_MS = 10_000;

const traffic = (parts: CellPartial[]) => parts.reduce((n, p) => n + p.clicks + p.invalid, 0);

/**
 * One per advertiser (named by its id): its webhook, its alerts and their deliveries. An evaluation (the
 * query Worker's cron, each minute) reads the advertiser's campaign objects' cells and writes only when an
 * alert starts or an episode ends: most minutes it writes nothing. Pending deliveries are one row (the
 * outbox), retried by the alarm with backoff (RETRY_DELAYS_S).
 */
export class AlertBox extends DurableObject<IngestEnv> {
  constructor(ctx: DurableObjectState, env: IngestEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS alert (alert_id TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS alert_by_time ON alert(at);
    `);
  }

  #get<T>(k: string): T | null {
    const row = this.ctx.storage.sql.exec<{ v: string }>("SELECT v FROM state WHERE k = ?", k).toArray()[0];
    return row ? (JSON.parse(row.v) as T) : null;
  }

  #put(k: string, v: unknown): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO state (k, v) VALUES (?, ?)", k, JSON.stringify(v));
  }

  #alert(id: string): AlertRecord | null {
    const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM alert WHERE alert_id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.body) as AlertRecord) : null;
  }

  #saveAlert(a: AlertRecord): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO alert (alert_id, at, body) VALUES (?, ?, ?)", a.alert_id, a.at, JSON.stringify(a));
  }

  setWebhook(hook: Webhook): void {
    this.#put("webhook", hook);
  }

  webhook(): { url: string } | null {
    const hook = this.#get<Webhook>("webhook");
    return hook ? { url: hook.url } : null;
  }

  /** The most recent alerts, newest first. */
  list(limit = 50): AlertRecord[] {
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM alert ORDER BY at DESC, alert_id DESC LIMIT ?", limit)
      .toArray()
      .map((r) => JSON.parse(r.body) as AlertRecord);
  }

  /** Measures each campaign at `now` from its objects' real-time cells. */
  async #measure(c: WatchedCampaign, now: number): Promise<CampaignWindow> {
    const t = windowTimes(now);
    const questions: CellQuery[] = [
      { granularity: "minute", from: t.minute, to: t.minute + MINUTE },
      { granularity: "minute", ...t.lastHour },
      ...t.baselineHours.map((h): CellQuery => ({ granularity: "hour", from: h, to: h + HOUR })),
    ];
    const shards = Array.from({ length: maxShards(c.shard_plan) }, (_, s) =>
      campaignStub(this.env.CAMPAIGN, c.campaign_id, s, c.jurisdiction),
    );
    const [answers, spent] = await Promise.all([
      Promise.all(shards.map((stub) => stub.cellsMany(questions))),
      // What the budget rule itself counted today (late clicks dated today included), so alerts and verdicts agree.
      Promise.all(shards.map((stub) => stub.spent(t.today))).then((s) => s.reduce((n, x) => n + x, 0)),
    ]);
    const part = (i: number) => answers.flatMap((a) => a[i]);
    const hour = part(1);
    const baseline = t.baselineHours.reduce((n, _, d) => n + traffic(part(2 + d)), 0) / (7 * 60);
    return {
      campaign_id: c.campaign_id,
      minute: t.minute,
      minute_traffic: traffic(part(0)),
      baseline_per_minute: baseline,
      hour_clicks: hour.reduce((n, p) => n + p.clicks, 0),
      hour_invalid: hour.reduce((n, p) => n + p.invalid, 0),
      spend_today: fromMicros(spent),
      daily_budget: c.daily_budget ?? null,
    };
  }

  /**
   * Evaluates the advertiser's campaigns at `now` (the cron's scheduled time; a test passes the time it needs)
   * and queues a delivery of each alert that starts. Answers the alerts raised.
   */
  async evaluate(advertiserId: string, campaigns: WatchedCampaign[], now: number): Promise<AlertRecord[]> {
    const windows = await Promise.all(campaigns.map((c) => this.#measure(c, now)));
    const open = this.#get<Episodes>("episodes") ?? {};
    const { fired, episodes } = evaluateAlerts(windows, open, now);
    const hook = this.#get<Webhook>("webhook");
    const raised = fired.map(
      (f): AlertRecord => ({
        alert_id: newId("alr"),
        advertiser_id: advertiserId,
        at: now,
        ...f,
        delivery: hook ? "pending" : "no_webhook",
        attempts: 0,
      }),
    );
    const changed = JSON.stringify(episodes) !== JSON.stringify(open);
    if (!raised.length && !changed) return [];
    this.ctx.storage.transactionSync(() => {
      if (changed) this.#put("episodes", episodes);
      for (const a of raised) this.#saveAlert(a);
      if (raised.length) {
        this.ctx.storage.sql.exec(
          "DELETE FROM alert WHERE alert_id IN (SELECT alert_id FROM alert ORDER BY at DESC, alert_id DESC LIMIT -1 OFFSET ?)",
          KEEP_ALERTS,
        );
      }
      if (hook && raised.length) {
        const outbox = this.#get<Pending[]>("outbox") ?? [];
        this.#put("outbox", [...outbox, ...raised.map((a) => ({ alert_id: a.alert_id, attempts: 0, next_at: Date.now() }))]);
      }
    });
    if (hook && raised.length) await this.ctx.storage.setAlarm(Date.now());
    return raised;
  }

  /** Delivers what is due, signed; reschedules failures with backoff and gives up after the last delay. */
  override async alarm(): Promise<void> {
    const hook = this.#get<Webhook>("webhook");
    const outbox = this.#get<Pending[]>("outbox") ?? [];
    const now = Date.now();
    const left: Pending[] = [];
    for (const p of outbox) {
      const alert = this.#alert(p.alert_id);
      if (!alert) continue;
      if (p.next_at > now) {
        left.push(p);
        continue;
      }
      const ok = hook ? await this.#deliver(hook, alert) : false;
      const attempts = p.attempts + 1;
      const delay = RETRY_DELAYS_S[attempts - 1];
      if (ok || delay === undefined) this.#saveAlert({ ...alert, attempts, delivery: ok ? "delivered" : "failed" });
      else left.push({ alert_id: p.alert_id, attempts, next_at: now + delay * 1000 });
    }
    this.#put("outbox", left);
    if (left.length) await this.ctx.storage.setAlarm(Math.min(...left.map((p) => p.next_at)));
  }

  async #deliver(hook: Webhook, a: AlertRecord): Promise<boolean> {
    // The same body on every attempt; receivers dedupe by alert_id.
    const body = JSON.stringify({
      alert_id: a.alert_id,
      advertiser_id: a.advertiser_id,
      kind: a.kind,
      campaign_id: a.campaign_id,
      at: new Date(a.at).toISOString(),
      message: a.message,
      value: a.value,
      threshold: a.threshold,
    });
    try {
      const res = await fetch(hook.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "User-Agent": "edgeclick-alerts/1",
          [SIGNATURE_HEADER]: await signature(hook.secret, Math.floor(Date.now() / 1000), body),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await res.body?.cancel();
      return res.status >= 200 && res.status < 300;
    } catch (err) {
      logLine("warn", "alert delivery failed", { alert_id: a.alert_id, error: String(err) });
      return false;
    }
  }
}
