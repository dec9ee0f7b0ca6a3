/**
 * Advertiser alerts: what is measured about a campaign, the rules that raise an alert (data: one entry per
 * kind), episodes (an alert fires once when its condition starts, not every minute it holds), webhook
 * signatures and the delivery backoff. Pure, so the alert object and the tests share one rule.
 */
import { hmac, toHex } from "./crypto";
import { DAY, HOUR, MINUTE, floorTo } from "./time";

/** What an evaluation measures about one campaign at `now` (from its objects' real-time cells). */
export interface CampaignWindow {
  campaign_id: string;
  /** The last complete minute: its start. */
  minute: number;
  /** Traffic (clicks + invalid clicks) in that minute. */
  minute_traffic: number;
  /** Mean traffic per minute in the same clock hour of each of the 7 days before (a day without traffic counts 0). */
  baseline_per_minute: number;
  /** Clicks and invalid clicks over the 60 complete minutes up to `minute`. */
  hour_clicks: number;
  hour_invalid: number;
  /** Cost of today's (UTC) billable clicks so far. */
  spend_today: number;
  /** The campaign's daily budget, when it has one. */
  daily_budget: number | null;
}

export interface Firing {
  message: string;
  value: number;
  threshold: number;
  /**
   * An episode of its own, open until `until` whether the condition still holds or not: a budget alert is one
   * episode per UTC day (`id`: the date), so it fires once a day even when a raised budget stops and restarts it.
   */
  episode?: { id: string; until: number };
}

/** A rule: the condition holds (and what to say) or it does not (null). */
export type AlertRule = (w: CampaignWindow) => Firing | null;

/** A spike pages only from this many events a minute, so a quiet campaign (1 → 4 clicks) does not. */
export const SPIKE_MIN_PER_MINUTE = 20;
export const SPIKE_FACTOR = 3;
/** The seed's fraud band (§10.1): an hour's invalid share outside it means an attack, or a filter that stopped. */
export const INVALID_BAND: [low: number, high: number] = [0.05, 0.3];
/** An hour's invalid share is judged from this many events on (the ops view's threshold too). */
export const INVALID_MIN_EVENTS = 100;
/** An episode ends once its condition has not held for this long: a flapping condition is one episode. */
export const EPISODE_QUIET_MS = 10 * MINUTE;

const share = (w: CampaignWindow) => w.hour_invalid / (w.hour_clicks + w.hour_invalid);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function invalidRate(outside: (rate: number) => boolean, bound: number, words: string): AlertRule {
  return (w) => {
    if (w.hour_clicks + w.hour_invalid < INVALID_MIN_EVENTS || !outside(share(w))) return null;
    return {
      message: `Invalid clicks were ${pct(share(w))} of the last hour's traffic, ${words} ${pct(bound)}.`,
      value: share(w),
      threshold: bound,
    };
  };
}

/** Spend reached `part` of the daily budget (a campaign without a budget never fires it); once per UTC day. */
export function budgetSpent(part: number): AlertRule {
  return (w) =>
    w.daily_budget !== null && w.daily_budget > 0 && w.spend_today >= part * w.daily_budget
      ? {
          message: `Today's spend ${w.spend_today} reached ${pct(part)} of the daily budget ${w.daily_budget}.`,
          value: w.spend_today,
          threshold: part * w.daily_budget,
          episode: { id: new Date(floorTo(w.minute, DAY)).toISOString().slice(0, 10), until: floorTo(w.minute, DAY) + DAY },
        }
      : null;
}

/** Every kind of alert, by code. Adding one is one line here. */
export const ALERT_KINDS = {
  traffic_spike: (w) => {
    const threshold = Math.max(SPIKE_FACTOR * w.baseline_per_minute, SPIKE_MIN_PER_MINUTE);
    if (w.minute_traffic < threshold || w.minute_traffic <= SPIKE_FACTOR * w.baseline_per_minute) return null;
    return {
      message: `${w.minute_traffic} clicks in the minute from ${new Date(w.minute).toISOString()}, over ${SPIKE_FACTOR}× the 7-day baseline for that hour (${w.baseline_per_minute.toFixed(2)} a minute).`,
      value: w.minute_traffic,
      threshold,
    };
  },
  invalid_rate_high: invalidRate((r) => r > INVALID_BAND[1], INVALID_BAND[1], "above"),
  invalid_rate_low: invalidRate((r) => r < INVALID_BAND[0], INVALID_BAND[0], "below"),
  budget_80: budgetSpent(0.8),
  budget_100: budgetSpent(1),
} satisfies Record<string, AlertRule>;

export type AlertKind = keyof typeof ALERT_KINDS;

/** Open episodes by `kind:campaign_id` (`:id` for an episode of its own): when it started, last held, and must end. */
export type Episodes = Record<string, { since: number; held: number; until?: number }>;

export interface NewAlert extends Omit<Firing, "episode"> {
  kind: AlertKind;
  campaign_id: string;
}

/** The alerts that start now (their condition holds and no episode of it is open), and the episodes after `now`. */
export function evaluateAlerts(windows: CampaignWindow[], open: Episodes, now: number): { fired: NewAlert[]; episodes: Episodes } {
  const episodes: Episodes = {};
  const fired: NewAlert[] = [];
  for (const w of windows) {
    for (const [kind, rule] of Object.entries(ALERT_KINDS) as [AlertKind, AlertRule][]) {
      const base = `${kind}:${w.campaign_id}`;
      const firing = rule(w);
      if (firing) {
        const { episode, ...f } = firing;
        const key = episode ? `${base}:${episode.id}` : base;
        if (!open[key]) fired.push({ kind, campaign_id: w.campaign_id, ...f });
        episodes[key] = { since: open[key]?.since ?? now, held: now, ...(episode ? { until: episode.until } : {}) };
      }
      // Episodes that did not hold now end after EPISODE_QUIET_MS of quiet, and not before their own end.
      for (const [key, e] of Object.entries(open)) {
        if ((key !== base && !key.startsWith(`${base}:`)) || key in episodes) continue;
        if (now - e.held < EPISODE_QUIET_MS || (e.until ?? 0) > now) episodes[key] = e;
      }
    }
  }
  return { fired, episodes };
}

/** The cells an evaluation reads, at `now`: the last complete minute, its hour, and that hour on each of the 7 days before. */
export function windowTimes(now: number) {
  const minute = floorTo(now, MINUTE) - MINUTE;
  const hour = floorTo(minute, HOUR);
  return {
    minute,
    lastHour: { from: minute - 59 * MINUTE, to: minute + MINUTE },
    baselineHours: Array.from({ length: 7 }, (_, i) => hour - (i + 1) * DAY),
    today: floorTo(minute, DAY),
  };
}

/** The header a delivery carries, and what it signs: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = "Edgeclick-Signature";

export async function signature(secret: string, timestampS: number, body: string): Promise<string> {
  return `t=${timestampS},v1=${toHex(await hmac(secret, `${timestampS}.${body}`))}`;
}

/** Seconds before each retry of a failed delivery; after the last, the delivery is given up (`failed`). */
export const RETRY_DELAYS_S = [10, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600];
