/**
 * What edgeclick answers, as zod schemas: the OpenAPI document's response schemas come from here, and the
 * docs test checks real answers against that document. Where a TypeScript type of the answer exists, the
 * schema is checked against it at compile time (`satisfies`).
 */
import { z } from "zod";
import type { CompactionSummary, RollupResult } from "../billing";
import { INVALID_REASONS } from "../event";
import type { MetricBucket } from "../metrics";

const count = (description?: string) => (description ? z.number().int().min(0).describe(description) : z.number().int().min(0));
const text = (description?: string) => (description ? z.string().describe(description) : z.string());
/** SQLite rows written and read per kind of statement since the object started (what the bill counts). */
const statements = z
  .record(z.string(), z.object({ calls: count(), rows_written: count(), rows_read: count() }))
  .describe("SQLite calls, rows written and rows read per kind of statement since the object started.");
const storage = z.object({
  statements,
  rows: z.record(z.string(), count()).describe("Rows stored per table."),
  rows_to_expire: count().optional(),
  database_bytes: count().optional(),
});

export const shardPlan = z
  .array(z.tuple([z.number().int(), z.number().int().min(1)]))
  .meta({ id: "ShardPlan", description: "Shard counts over time: [[from epoch ms, shards], …], oldest first." });

const byReason = z
  .partialRecord(z.enum(INVALID_REASONS), count())
  .describe("Invalid (fraud, not billed) clicks by reason code, in the order the rules check them; absent reasons are 0.");

/** The counters a metrics bucket and the live view share. */
const counters = {
  clicks: count("Clean + suspicious (billed)."),
  unique_users: count("HyperLogLog estimate, never above clicks."),
  cost: z.number(),
  invalid_clicks: count(),
  invalid_by_reason: byReason,
  suspicious_clicks: count(),
  duplicates: count(),
  over_budget_clicks: count("Clicks after the day's budget was spent: redirected, not billed, not fraud."),
  conversions: count("Conversions of these clicks (POST /v1/conversions), counted in the click's time bucket."),
  conversion_value: z.number().describe("Sum of their values, in the advertiser's currency units."),
  conversion_rate: z.number().nullable().describe("conversions ÷ clicks; null without clicks."),
};

const created = (id: string) => z.object({ [id]: z.string(), api_key: text("Shown once; stored only hashed.") });

export const advertiserCreated = created("advertiser_id")
  .extend({ jurisdiction: z.enum(["eu"]).nullable(), time_zone: z.string().describe("IANA name, canonical spelling.") })
  .meta({ id: "AdvertiserCreated" });
export const advertiserUpdated = z
  .object({
    advertiser_id: z.string(),
    time_zone: z.string(),
    limits: z
      .object({ requests_per_minute: count(), conversions_per_second: count() })
      .describe("The limits that apply to the advertiser's key on POST /v1/conversions."),
  })
  .meta({ id: "AdvertiserUpdated" });
const publisherLimits = z
  .object({ requests_per_minute: count(), events_per_second: count() })
  .describe("The limits that apply to the publisher's key on POST /v1/events.");
export const publisherCreated = created("publisher_id").extend({ limits: publisherLimits }).meta({ id: "PublisherCreated" });
export const publisherUpdated = z.object({ publisher_id: z.string(), limits: publisherLimits }).meta({ id: "PublisherUpdated" });
export const campaignCreated = z.object({ campaign_id: z.string() }).meta({ id: "CampaignCreated" });
export const campaignUpdated = z
  .object({ campaign_id: z.string(), shard_plan: shardPlan, daily_budget: z.number().nullable() })
  .meta({ id: "CampaignUpdated" });
export const adCreated = z
  .object({ ad_id: z.string(), click_url: text("Ready link on the ingest base URL; append `&user_id=…`.") })
  .meta({ id: "AdCreated" });
export const clickUrl = z.object({ click_url: text("Link signed for this ad and publisher.") }).meta({ id: "ClickUrl" });
export const blocklistResult = z
  .object({
    ips: count("IPs in the request."),
    user_agents: count("User-Agents in the request."),
    added: count("Entries that were new."),
    version: count("Blocklist version after the change."),
  })
  .meta({ id: "BlocklistResult" });

const rollupDate = z.object({
  date: z.string(),
  files: count("Parquet files read."),
  events: count(),
  rows: count(),
  rows_written: count("D1 rows written, deletes of the old rows included."),
}) satisfies z.ZodType<RollupResult>;
export const rollupResult = z
  .object({
    rows: count("Billing rows written."),
    dates: z.array(rollupDate),
    run_id: text("The run: its jobs are in D1 (rollup_jobs)."),
    jobs: count("Jobs run: one per campaign × date × user partition."),
  })
  .meta({ id: "RollupResult" });

export const replayResult = z
  .object({
    swept: count("Spool files handed to their objects and removed."),
    events: count("Events in them (repeats of recorded events count nothing)."),
    failed: count("Files kept for the next try."),
  })
  .meta({ id: "ReplayResult" });

export const edgeBuffers = z
  .object({
    colo: z.string(),
    buffers: z.array(
      z.object({
        name: text("<colo>:<slot>"),
        waiting_rows: count("Batches not yet confirmed by their campaign objects."),
        delivered: count("Events forwarded since the object started."),
        failures: count("Forward attempts failed in a row."),
        statements,
      }),
    ),
  })
  .meta({ id: "EdgeBuffers" });

export const campaignObjects = z
  .object({
    campaign_id: z.string(),
    shards: z.array(
      z.object({
        shard: count(),
        backlog: z.object({
          log_rows: count(),
          last_seq: count(),
          checkpoint_seq: count(),
          open_messages: count("Archive messages cut but not yet confirmed in R2."),
          unsent_messages: count("Of those, never sent."),
          unsealed: z.boolean().describe("Log rows not yet cut into archive messages."),
          unforwarded_rows: count("Admitted rows not yet forwarded to their counting shards."),
          oldest_unarchived_at: z.number().int().nullable().describe("Receive time of the oldest event still in the log."),
          events_per_second: z.number(),
        }),
        memory: z.object({ rule_minutes: count(), rule_entries: count(), rule_bytes: count(), cell_partitions: count(), cells: count() }),
        storage,
      }),
    ),
    leaderboards: z.object({ global: storage, advertiser: storage }).describe("The same storage figures for the leaderboards."),
  })
  .meta({ id: "CampaignObjects" });

export const ops = z
  .object({
    as_of: z.string(),
    window_minutes: count(),
    ingest: z
      .object({
        events: count("Events judged in the window (clicks + invalid + duplicates + late)."),
        clicks: count(),
        invalid: count(),
        duplicates: count(),
        suspicious: count(),
        late_events: count(),
        invalid_by_reason: byReason,
        events_per_second: z.number(),
      })
      .describe("What the campaign objects judged in the window."),
    fraud: z.object({
      rate: z.number().describe("Invalid share of judged clicks."),
      band: z.tuple([z.number(), z.number()]),
      within_band: z.boolean().describe("Also true below 100 judged clicks, where a rate means little."),
    }),
    archive: z.object({
      log_rows: count("Log rows not yet archived."),
      open_messages: count("Archive messages sent and not yet confirmed."),
      unsent_messages: count(),
      oldest_unarchived_age_s: count("Age of the oldest event not yet confirmed in the archive."),
    }),
    queues: z
      .object({
        spooled_files: count()
          .nullable()
          .describe(
            "Files of events waiting in the R2 spool: dead letters and edge fallbacks, replayed by the cron or POST /v1/admin/replay " +
              "(null when the batch Worker did not answer: alert batch_unreachable).",
          ),
        spooled_files_more: z.boolean().describe("More files wait than were counted."),
        oldest_spooled_age_s: count(),
      })
      .describe("The dead-letter queue drains into the spool, so what waits there is the dead-letter count."),
    rollups: z.object({
      recent: z.array(z.object({ date: z.string(), files: count(), events: count(), rows: count(), computed_at: z.number().int() })),
      last_run_at: z.string().nullable(),
    }),
    reconciliation: z
      .array(
        z.object({
          campaign_id: z.string(),
          date: z.string(),
          realtime_clicks: count(),
          late_clicks: count(),
          billed_clicks: count(),
          drift: z.number().describe("Unexplained difference as a share of what real time saw."),
        }),
      )
      .describe("Real time against billing per campaign for today and yesterday."),
    campaigns: z.array(
      z.object({
        campaign_id: z.string(),
        shard_plan: shardPlan,
        events_per_second: z.number(),
        log_rows: count(),
        open_messages: count(),
        unsent_messages: count(),
        archive_lag_s: count(),
      }),
    ),
    campaigns_inspected: count(),
    alerts: z.array(z.object({ code: z.string(), message: z.string() })),
  })
  .meta({ id: "Ops" });

export const eventsResult = z
  .object({
    accepted: count("Events durably recorded."),
    rejected: z.array(z.object({ index: count("Position in the request."), code: z.string(), message: z.string() })),
  })
  .meta({ id: "EventsResult" });

export const aggregatedCount = z
  .object({
    ad_id: z.string(),
    from: z.string(),
    to: z.string(),
    filter: z.string().nullable(),
    count: count("Clicks (clean + suspicious) in [from, to)."),
  })
  .meta({ id: "AggregatedCount" });

export const popularAds = z
  .object({
    window: count("Minutes."),
    top_n: count(),
    ads: z.array(z.object({ ad_id: z.string(), campaign_id: z.string(), count: count("Clicks in the window.") })),
  })
  .meta({ id: "PopularAds" });

export const metricBucket = z
  .object({
    timestamp: text("Bucket start, UTC."),
    ...counters,
    late_events: count("Late events dated in this bucket (kept out of the counts above, billed)."),
    group: z
      .string()
      .nullable()
      .optional()
      .describe('Value of the group_by dimension; for the pair country,device_type both, e.g. "US,mobile".'),
  })
  .meta({ id: "MetricBucket" }) satisfies z.ZodType<MetricBucket>;

export const metrics = z
  .object({
    ad_id: z.string().optional(),
    campaign_id: z.string(),
    start: z.string(),
    end: z.string(),
    granularity: z.enum(["minute", "hour", "day"]),
    tz: z.string().describe("The zone hour and day buckets start in; bucket timestamps are their start instants in UTC."),
    group_by: z.string().nullable(),
    filter: z.string().nullable(),
    metrics: z.array(metricBucket),
  })
  .meta({ id: "Metrics", description: "Empty buckets are included as zeros; with group_by, one entry per bucket and group." });

export const live = z
  .object({
    campaign_id: z.string(),
    minutes: count(),
    ...counters,
    late_events: count("Late events that arrived in the window (they belong to older buckets and are billed)."),
    spend: z.number().describe("Billed cost of today's (UTC) clicks so far, late ones included: what the daily budget is spent by."),
    daily_budget: z.number().nullable().describe("The campaign's daily budget; null: none."),
    pacing: z
      .number()
      .nullable()
      .describe("(spend ÷ daily_budget) ÷ (elapsed share of the UTC day): 1 spends evenly, 1.2 is 20 % fast; null without a budget."),
    from: text("Start of the window (a minute boundary)."),
    as_of: text("When the counters were read."),
  })
  .meta({ id: "Live" });

export const campaigns = z
  .object({
    campaigns: z.array(
      z.object({
        campaign_id: z.string(),
        advertiser_id: z.string(),
        name: z.string(),
        cost_per_click: z.number(),
        daily_budget: z.number().nullable().describe("Billed cost allowed per UTC day; null: none."),
        shards: count("Shards now."),
        shard_plan: shardPlan,
        ad_groups: z.array(z.object({ ad_group_id: z.string(), name: z.string() })),
        ads: z.array(
          z.object({
            ad_id: z.string(),
            landing_url: z.string(),
            ad_format: z.string().nullable(),
            ad_group_id: z.string().nullable(),
            click_id_param: z.string().nullable().describe("The landing URL's parameter that carries the click id; null: none."),
            variants: z
              .array(z.object({ name: z.string(), landing_url: z.string(), weight: z.number() }))
              .nullable()
              .describe("A/B variants, picked by weight per user; null: the one landing_url."),
          }),
        ),
      }),
    ),
  })
  .meta({ id: "Campaigns" });

const AD_GROUP = "The ad group of the clicked ad when the click was recorded; null for ads without a group.";

export const billing = z
  .object({
    campaign_id: z.string(),
    from: z.string(),
    to: z.string(),
    rows: z.array(
      z.object({
        date: z.string().describe("A local date in time_zone."),
        country: z.string(),
        device_type: z.string(),
        ad_group_id: z.string().nullable().describe(AD_GROUP),
        clicks: count(),
        unique_users: count("Exact, per row (a user may click in several rows: unique users do not add up)."),
        cost: z.number(),
        invalid_clicks: count(),
        status: z
          .enum(["final", "provisional"])
          .describe(
            "final only when no event for the date can still be accepted (7 days after it ends) and everything received until then was archived when the row was computed.",
          ),
        archived_through: z
          .string()
          .nullable()
          .describe("Completeness watermark: every event received before this time was in the archive when the row was computed."),
        suspicious_clicks: count(),
        duplicates: count(),
        late_events: count(),
        over_budget_clicks: count("Clicks the campaign object counted over the day's budget: not billed, not fraud."),
        event_id_repeats: count(
          "Events billed as duplicates because their event_id came earlier that day in another minute (real time dedups event_id per minute).",
        ),
        time_zone: z.string().describe("The IANA time zone the row's date is a local date of (the advertiser's; UTC by default)."),
      }),
    ),
  })
  .meta({ id: "Billing" });

export const reconciliation = z
  .object({
    date: z.string(),
    campaigns: z.array(
      z.object({
        campaign_id: z.string(),
        realtime_clicks: count(),
        billed_clicks: count(),
        difference: z.number().int().describe("billed_clicks − realtime_clicks."),
        late_clicks: count("Clicks billed but kept out of real-time buckets as late."),
        event_id_repeats: count(
          "Clicks in real time that billing counts as duplicates: their event_id came earlier that day in another minute.",
        ),
        unexplained: z.number().int().describe("difference − late_clicks + event_id_repeats; 0 when the two agree."),
        billing_status: z.enum(["final", "provisional", "not_rolled_up"]),
      }),
    ),
  })
  .meta({ id: "Reconciliation" });

export const health = z
  .object({
    ok: z.boolean(),
    service: z.string(),
    migrations: count("D1 migrations applied.").optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: "Health" });

// ---------------------------------------------------------------------------------------------------
// Advertiser controls (issue 13): exports, keys, blocklist removal, alerts

export const blocklistRemoved = z
  .object({
    ips: count("IPs in the request."),
    user_agents: count("User-Agents in the request."),
    removed: count("Entries that were on the list (others are ignored)."),
    version: count("Blocklist version after the change."),
  })
  .meta({ id: "BlocklistRemoved" });

export const keyCreated = z
  .object({ key_id: text("Names the key in GET and DELETE /v1/keys."), api_key: text("Shown once; stored only hashed.") })
  .meta({ id: "KeyCreated" });
export const keys = z
  .object({
    account: text("The advertiser or publisher the keys belong to."),
    keys: z.array(
      z.object({
        key_id: z.string(),
        created_at: text("ISO-8601."),
        last_used_at: z.string().nullable().describe("ISO-8601; written at most every few minutes per isolate; null if never used since."),
        current: z.boolean().describe("The key of this request."),
      }),
    ),
  })
  .meta({ id: "Keys" });
export const keyRevoked = z.object({ key_id: z.string(), revoked: z.literal(true) }).meta({ id: "KeyRevoked" });

const alertRecord = z.object({
  alert_id: z.string(),
  advertiser_id: z.string(),
  kind: text("traffic_spike, invalid_rate_high, invalid_rate_low."),
  campaign_id: z.string(),
  at: text("When the condition was seen (ISO-8601)."),
  message: z.string(),
  value: z.number().describe("What was measured (clicks in the minute, or the invalid share)."),
  threshold: z.number().describe("The bound it crossed."),
  delivery: z.enum(["pending", "delivered", "failed", "no_webhook"]),
  attempts: count("Delivery attempts so far."),
});
export const alerts = z
  .object({
    webhook: z.object({ url: z.string() }).nullable().describe("Where alerts are delivered; null: nowhere (they are still listed)."),
    alerts: z.array(alertRecord),
  })
  .meta({ id: "Alerts" });
export const webhookSet = z
  .object({
    url: z.string(),
    secret: z.string().nullable().describe("The generated secret, shown this once; null when you gave your own."),
    signature_header: text("The header each delivery carries."),
  })
  .meta({ id: "WebhookSet" });

// Attribution (issue 12)

export const experiment = z
  .object({
    ad_id: z.string(),
    from: z.string(),
    to: z.string(),
    variants: z.array(
      z.object({
        name: z.string(),
        weight: z.number().nullable().describe("Its weight on the ad (null: a variant the ad does not list, e.g. a link's own label)."),
        clicks: count("Clean + suspicious clicks sent to it."),
        conversions: count(),
        conversion_rate: z.number().nullable().describe("conversions ÷ clicks; null without clicks."),
      }),
    ),
    best: z.string().nullable().describe("The variant with the highest conversion rate (null: no variant has clicks)."),
    runner_up: z.string().nullable(),
    method: text("How significance is judged."),
    alpha: z.number(),
    z: z.number().nullable().describe("z statistic of best against runner_up (null: fewer than two variants with clicks)."),
    p_value: z.number().nullable(),
    significant: z.boolean().describe("Whether best's lead over runner_up is significant at alpha."),
  })
  .meta({ id: "Experiment" });

export const heatmap = z
  .object({
    ad_id: z.string(),
    from: text("Start of the first hour counted."),
    to: z.string(),
    cols: count("Grid columns (the creative's width in equal parts)."),
    rows: count("Grid rows."),
    cells: z
      .array(
        z.object({ col: count("0 = left edge."), row: count("0 = top edge."), clicks: count("Clean clicks that landed in the cell.") }),
      )
      .describe("Cells with clicks, row by row; a cell not listed has none."),
  })
  .meta({ id: "Heatmap" });

export const adGroupCreated = z.object({ ad_group_id: z.string() }).meta({ id: "AdGroupCreated" });

// Billing at scale and audit (issue 11): restatements.

const billedValues = z
  .object({
    clicks: count(),
    unique_users: count(),
    cost: z.number(),
    invalid_clicks: count(),
    suspicious_clicks: count(),
    duplicates: count(),
    late_events: count(),
    event_id_repeats: count(),
  })
  .nullable();

export const restatements = z
  .object({
    restatements: z.array(
      z.object({
        restatement_id: z.number().int(),
        campaign_id: z.string(),
        date: z.string(),
        country: z.string(),
        device_type: z.string(),
        ad_group_id: z.string().nullable().describe(AD_GROUP),
        old: billedValues.describe("The published row before (null: the row did not exist)."),
        new: billedValues.describe("The row after (null: the row went)."),
        cause: z.enum(["late_events", "recalculation", "fraud_review"]).describe("Why it changed."),
        run_id: z.string(),
        recorded_at: z.string(),
      }),
    ),
  })
  .meta({ id: "Restatements" });

export const compactionResult = z
  .object({
    skipped: count("Hour folders another compaction was working on (left to it)."),
    folders: count("Hour folders with small files that were looked at."),
    campaigns: count("Campaign-hours compacted."),
    files_before: count("Files merged."),
    files_after: count("Compacted parts written in their place."),
    events: count("Events in those parts."),
  })
  .meta({ id: "CompactionResult" }) satisfies z.ZodType<CompactionSummary & { skipped: number }>;

const statementCounts = {
  clicks: count(),
  cost: z.number(),
  invalid_clicks: count(),
  suspicious_clicks: count(),
  duplicates: count(),
  late_events: count(),
  event_id_repeats: count(),
  over_budget_clicks: count("Clicks after the day's budget was spent: not billed."),
};

export const statement = z
  .object({
    campaign_id: z.string(),
    month: z.string(),
    time_zone: z.string().describe("The advertiser's IANA time zone: the month's days are local dates in it."),
    rows: z
      .array(
        z.object({
          date: z.string(),
          country: z.string(),
          device_type: z.string(),
          ad_group_id: z.string().nullable().describe(AD_GROUP),
          ...statementCounts,
          unique_users: count("Exact, per row."),
          status: z.enum(["final", "provisional"]),
          archived_through: z.string().nullable(),
        }),
      )
      .describe("The billing rows of the month, exactly as GET /v1/billing answers them."),
    days: z.array(z.object({ date: z.string(), ...statementCounts, status: z.enum(["final", "provisional"]) })),
    totals: z.object(statementCounts),
    complete: z.boolean().describe("true only when every day of the month is final."),
    files: z
      .array(z.object({ key: z.string(), size: count(), sha256: z.string(), bucket: z.enum(["main", "eu"]) }))
      .describe("The archive files the rows are computed from (every event of the campaign in the month), in key order."),
    sha256: z
      .string()
      .describe(
        "SHA-256 (hex) of the JSON text of {campaign_id, month, time_zone, rows, files}, in that order: the statement's fingerprint.",
      ),
    generated_at: z.string(),
  })
  .meta({ id: "Statement" });

// Recalculation and batch fraud review (issue 11, items 5 and 6).

export const recalculation = z
  .object({
    recalculation_id: z.string(),
    cause: z.enum(["recalculation", "fraud_review"]),
    from: z.string(),
    to: z.string(),
    campaign_id: z.string().nullable(),
    status: z.enum(["pending", "applied"]).describe("pending: shadow rows only, nothing billed changed; applied: swapped in."),
    blocklist_version: count("The blocklist's version the events were re-judged with."),
    events: count("Archived events re-judged."),
    changed: count("Events whose billed verdict the recalculation changes."),
    campaign_dates: count("Campaign-dates re-judged."),
  })
  .meta({ id: "Recalculation" });

export const appliedRecalculation = recalculation
  .extend({ rows_written: count("D1 rows written by the swap.") })
  .meta({ id: "AppliedRecalculation" });

export const recalculationDetail = recalculation
  .extend({
    differences: z
      .array(
        z.object({
          campaign_id: z.string(),
          date: z.string(),
          group: z.record(z.string(), z.string()).describe("The billing row's group (country, device_type, …)."),
          old: billedValues.describe("The published row (null: none)."),
          new: billedValues.describe("The row the recalculation computed (null: it would go)."),
        }),
      )
      .describe("Every billing row the recalculation would change, or changed when it was applied."),
  })
  .meta({ id: "RecalculationDetail" });

export const fraudReviewResult = z
  .object({
    from: z.string(),
    to: z.string(),
    found: count("Findings over those dates."),
    stored: count("Of them, new findings (a finding already stored is kept as it is)."),
    events_read: count("Archived rows read, the baseline days' included."),
    capped: z
      .boolean()
      .describe(
        "The review stopped at its cap of archived rows (r2-batch/fraud.ts REVIEW_MAX_EVENTS): click farms are those of what it read, " +
          "publisher spikes only of days it read whole with their baseline. Review fewer days at a time.",
      ),
  })
  .meta({ id: "FraudReviewResult" });

export const fraudFindings = z
  .object({
    findings: z.array(
      z.object({
        finding_id: z.string(),
        kind: z.enum(["click_farm", "publisher_spike"]),
        subject: z.string().describe("`ip_hash:…`, `user_id:…` or `publisher_id:…`."),
        window_start: z.string(),
        window_end: z.string(),
        status: z.enum(["open", "applied"]),
        recalculation_id: z.string().nullable().describe("The recalculation that applied it."),
        found_at: z.string(),
        evidence: z.object({
          field: z.enum(["ip_hash", "user_id", "publisher_id"]),
          value: z.string(),
          window_start: z.string(),
          window_end: z.string(),
          events: count("Events (not duplicates) in the window."),
          campaigns: z.record(z.string(), count()).describe("Events per campaign."),
          publishers: z.record(z.string(), count()).describe("Events per publisher."),
          invalid_rate: z.number().optional(),
          baseline: z.object({ days: count(), events_per_day: z.number(), invalid_rate: z.number() }).optional(),
        }),
      }),
    ),
  })
  .meta({ id: "FraudFindings" });
