/**
 * A deterministic traffic scenario and an independent calculation of what edgeclick must report for it.
 *
 * The oracle below shares no code with domain/: it is the contract's counting rules written out plainly
 * (sets, maps, one pass in posting order), so the tests compare two independent implementations.
 */

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/** Seeded PRNG (mulberry32), so the scenario is the same on every run. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}

export interface PostedEvent {
  event_id: string;
  timestamp: number;
  ad_id: string;
  user_id?: string | null;
  ip_address: string;
  user_agent: string;
  device_type: string;
  os: string;
  country: string;
  cost_per_click?: number;
}

/** One `POST /v1/events`: its events, and the country the edge reports for the request (or none). */
export interface Post {
  edgeCountry: string | null;
  events: PostedEvent[];
}

export interface AdInfo {
  ad_id: string;
  campaign_id: string;
  advertiser_id: string;
  cost_per_click: number;
  ad_format: string | null;
  /** The campaign's daily budget (campaigns on one shard only: the oracle spends it in posting order). */
  daily_budget?: number | null;
}

export const BROWSERS = [
  {
    ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    device_type: "desktop",
    os: "Windows",
  },
  {
    ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1",
    device_type: "mobile",
    os: "iOS",
  },
  {
    ua: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
    device_type: "mobile",
    os: "Android",
  },
  {
    ua: "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 Version/16.6 Mobile/15E148 Safari/604.1",
    device_type: "tablet",
    os: "iOS",
  },
] as const;
export const BOTS = ["curl/8.4.0", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "python-requests/2.31.0"];
export const BLOCKED_UA = "EvilClicker/6.6 (automation)";
export const BLOCKED_IP = "10.66.6.6";
const COUNTRIES = ["US", "DE", "FR", "GB", "JP"];

/**
 * Builds the posts: ordinary traffic over the last 50 minutes, resent events, double clicks (some from a
 * different IP), bots, blocklisted IPs and User-Agents, one IP over 100 events in a minute, one over 10
 * in a second, geo mismatches, late events (2–3 h old, some of them duplicates), and explicit costs.
 */
export function buildScenario(ads: AdInfo[], now: number, seed = 7): Post[] {
  const r = prng(seed);
  const users = Array.from({ length: 80 }, (_, i) => `user-${i}`);
  const ips = Array.from({ length: 60 }, (_, i) => `10.20.${Math.floor(i / 200)}.${(i % 200) + 1}`);
  let n = 0;
  const id = () => `scn-${seed}-${n++}`;
  const start = now - 50 * MINUTE;
  const ordinary = (t: number): PostedEvent => {
    const b = r.pick(BROWSERS);
    return {
      event_id: id(),
      timestamp: t,
      ad_id: r.pick(ads).ad_id,
      user_id: r.next() < 0.1 ? null : r.pick(users),
      ip_address: r.pick(ips),
      user_agent: b.ua,
      device_type: b.device_type,
      os: b.os,
      country: r.pick(COUNTRIES),
      ...(r.next() < 0.1 ? { cost_per_click: 0.05 + r.int(20) / 100 } : {}),
    };
  };

  const stream: PostedEvent[] = [];
  for (let i = 0; i < 2400; i++) stream.push(ordinary(start + r.int(50 * MINUTE)));
  stream.sort((a, b) => a.timestamp - b.timestamp);

  // Double clicks: the same user on the same ad a few seconds later, a new event_id; a third of them from another IP.
  const doubles: PostedEvent[] = [];
  for (let i = 0; i < 200; i++) {
    const e = stream[r.int(stream.length)];
    if (!e.user_id) continue;
    const sameMinuteLater = Math.min(e.timestamp + r.int(5000), Math.floor(e.timestamp / MINUTE) * MINUTE + MINUTE - 1);
    doubles.push({ ...e, event_id: id(), timestamp: sameMinuteLater, ip_address: r.next() < 0.33 ? r.pick(ips) : e.ip_address });
  }
  // Bots, blocklisted IPs and User-Agents.
  const bad: PostedEvent[] = [];
  for (let i = 0; i < 60; i++)
    bad.push({ ...ordinary(start + r.int(50 * MINUTE)), user_agent: r.pick(BOTS), device_type: "bot", os: "unknown" });
  for (let i = 0; i < 30; i++) bad.push({ ...ordinary(start + r.int(50 * MINUTE)), ip_address: BLOCKED_IP });
  for (let i = 0; i < 25; i++) bad.push({ ...ordinary(start + r.int(50 * MINUTE)), user_agent: BLOCKED_UA });
  // One IP over 100 events in one minute (at most 3 a second), one IP with 15 in one second.
  const minuteStart = Math.floor((now - 20 * MINUTE) / MINUTE) * MINUTE;
  // IP limits are per campaign, so each flood targets one campaign's ads: the burst the sharded one.
  const inCampaign = (c: string) => ads.filter((a) => a.campaign_id === c);
  const flooded = inCampaign(ads[0].campaign_id);
  const bursted = inCampaign(ads.find((a) => a.campaign_id !== ads[0].campaign_id)!.campaign_id);
  // Distinct users, so none of them is a duplicate (duplicates do not count towards the IP limits).
  for (let i = 0; i < 130; i++) {
    bad.push({
      ...ordinary(minuteStart + Math.floor(i / 3) * 1000 + (i % 3) * 10),
      ip_address: "10.99.0.1",
      ad_id: r.pick(flooded).ad_id,
      user_id: `flood-${i}`,
    });
  }
  const second = Math.floor((now - 10 * MINUTE) / 1000) * 1000;
  for (let i = 0; i < 15; i++)
    bad.push({ ...ordinary(second + i * 30), ip_address: "10.99.0.2", ad_id: r.pick(bursted).ad_id, user_id: `burst-${i}` });

  const mixed = [...stream, ...doubles, ...bad];
  // Interleave by time, but keep arrival order deterministic.
  mixed.sort((a, b) => a.timestamp - b.timestamp || a.event_id.localeCompare(b.event_id));

  // Late events: 2–3 hours old; some are then resent.
  const late: PostedEvent[] = [];
  for (let i = 0; i < 60; i++) late.push(ordinary(now - 2 * HOUR - r.int(HOUR)));

  const posts: Post[] = [];
  for (let i = 0; i < mixed.length; i += 900) posts.push({ edgeCountry: null, events: mixed.slice(i, i + 900) });
  posts.push({ edgeCountry: null, events: late });
  // Resent events: exact copies of earlier events (normal and late ones).
  const resent = [...Array.from({ length: 120 }, () => r.pick(mixed)), ...late.slice(0, 10)];
  posts.push({ edgeCountry: null, events: resent.map((e) => ({ ...e })) });
  // The edge sees this publisher in the US: posted countries other than US are geo mismatches.
  posts.push({ edgeCountry: "US", events: Array.from({ length: 80 }, () => ordinary(now - r.int(30 * MINUTE))) });
  return posts;
}

// ---------------------------------------------------------------------------------------------------
// The oracle.

export type Verdict = "clean" | "suspicious" | "invalid" | "duplicate" | "over_budget";

export interface Judged {
  e: PostedEvent;
  ad: AdInfo;
  verdict: Verdict;
  reason: string | null;
  late: boolean;
  cost: number;
}

const BOT_WORDS = /bot|crawler|spider|curl|wget|python-requests|headless/i;

/** The contract's rules, one pass over the posts in order, per campaign. */
export function judgeAll(posts: Post[], ads: AdInfo[], receivedAt: number[], latenessMs = HOUR): Judged[] {
  const adOf = new Map(ads.map((a) => [a.ad_id, a]));
  const seenIds = new Map<string, Set<string>>();
  const seenUserMinutes = new Map<string, Set<string>>();
  const ipSecond = new Map<string, number>();
  const ipMinute = new Map<string, number>();
  /** Billed micros per campaign and UTC day of event time. */
  const spent = new Map<string, number>();
  const out: Judged[] = [];
  posts.forEach((post, p) => {
    for (const e of post.events) {
      const ad = adOf.get(e.ad_id)!;
      const c = ad.campaign_id;
      if (!seenIds.has(c)) seenIds.set(c, new Set());
      if (!seenUserMinutes.has(c)) seenUserMinutes.set(c, new Set());
      const ids = seenIds.get(c)!;
      const ums = seenUserMinutes.get(c)!;
      const um = `${e.ad_id}|${e.user_id}|${Math.floor(e.timestamp / MINUTE)}`;
      const late = receivedAt[p] - e.timestamp > latenessMs;
      let verdict: Verdict;
      let reason: string | null = null;
      if (ids.has(e.event_id)) [verdict, reason] = ["duplicate", "event_id"];
      else if (e.user_id && ums.has(um)) [verdict, reason] = ["duplicate", "user_minute"];
      else {
        const sKey = `${c}|${e.ip_address}|${Math.floor(e.timestamp / 1000)}`;
        const mKey = `${c}|${e.ip_address}|${Math.floor(e.timestamp / MINUTE)}`;
        ipSecond.set(sKey, (ipSecond.get(sKey) ?? 0) + 1);
        ipMinute.set(mKey, (ipMinute.get(mKey) ?? 0) + 1);
        if (e.ip_address === BLOCKED_IP) reason = "blocklisted_ip";
        else if (e.user_agent === BLOCKED_UA) reason = "blocklisted_ua";
        else if (BOT_WORDS.test(e.user_agent)) reason = "bot_ua";
        else if (ipSecond.get(sKey)! > 10) reason = "ip_burst_second";
        else if (ipMinute.get(mKey)! > 100) reason = "ip_rate_minute";
        const day = `${c}|${Math.floor(e.timestamp / (24 * HOUR))}`;
        const budget = ad.daily_budget ?? null;
        if (reason) verdict = "invalid";
        // Over once the day's billed cost has reached the budget; the click that reaches or crosses it is billed.
        else if (budget !== null && (spent.get(day) ?? 0) >= Math.round(budget * 1e6)) verdict = "over_budget";
        else if (post.edgeCountry && e.country !== post.edgeCountry) [verdict, reason] = ["suspicious", "geo_mismatch"];
        else verdict = "clean";
        if (verdict === "clean" || verdict === "suspicious")
          spent.set(day, (spent.get(day) ?? 0) + Math.round((e.cost_per_click ?? ad.cost_per_click) * 1e6));
      }
      ids.add(e.event_id);
      if (e.user_id) ums.add(um);
      const click = verdict === "clean" || verdict === "suspicious";
      out.push({ e, ad, verdict, reason, late, cost: click ? (e.cost_per_click ?? ad.cost_per_click) : 0 });
    }
  });
  return out;
}

export interface Expected {
  clicks: number;
  cost: number;
  invalid_clicks: number;
  invalid_by_reason: Record<string, number>;
  suspicious_clicks: number;
  duplicates: number;
  over_budget_clicks: number;
  unique_users: number;
  /** The scenario posts no conversions: none, and a rate of 0 wherever there are clicks. */
  conversions: number;
  conversion_value: number;
  conversion_rate: number | null;
}

/** Totals of some judged events (late ones excluded unless asked for). */
export function totals(judged: Judged[]): Expected {
  const users = new Set<string>();
  const t: Expected = {
    clicks: 0,
    cost: 0,
    invalid_clicks: 0,
    invalid_by_reason: {},
    suspicious_clicks: 0,
    duplicates: 0,
    over_budget_clicks: 0,
    unique_users: 0,
    conversions: 0,
    conversion_value: 0,
    conversion_rate: null,
  };
  let micros = 0;
  for (const j of judged) {
    if (j.verdict === "clean" || j.verdict === "suspicious") {
      t.clicks++;
      micros += Math.round(j.cost * 1e6);
      if (j.e.user_id) users.add(j.e.user_id);
      if (j.verdict === "suspicious") t.suspicious_clicks++;
    } else if (j.verdict === "invalid") {
      t.invalid_clicks++;
      t.invalid_by_reason[j.reason!] = (t.invalid_by_reason[j.reason!] ?? 0) + 1;
    } else if (j.verdict === "over_budget") t.over_budget_clicks++;
    else t.duplicates++;
  }
  t.cost = micros / 1e6;
  t.unique_users = users.size;
  t.conversion_rate = t.clicks > 0 ? 0 : null;
  return t;
}

export function groupBy<K>(items: Judged[], key: (j: Judged) => K): Map<K, Judged[]> {
  const m = new Map<K, Judged[]>();
  for (const j of items) {
    const k = key(j);
    const list = m.get(k);
    if (list) list.push(j);
    else m.set(k, [j]);
  }
  return m;
}
