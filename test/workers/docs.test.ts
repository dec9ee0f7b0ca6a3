/**
 * GET /openapi.json and GET /dashboard: the document describes every contract endpoint, its inputs come
 * from the zod schemas, and real answers (successes and errors) match the statuses and schemas it
 * documents; the dashboard is one self-contained page whose inline code the CSP actually allows.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { INVALID_REASONS } from "../../domain/event";
import * as S from "../../domain/schemas";
import { GRANULARITIES } from "../../domain/time";
import { app } from "../../workers/query/app";
import { ADMIN, BROWSER, call, json, seedAd, waitFor } from "./helpers";

// biome-ignore lint/suspicious/noExplicitAny: the checker walks arbitrary JSON documents
type Json = any;

/** Every endpoint CONTRACT.md names (plus the two it implies: PATCH campaigns {shards, daily_budget}, GET /v1/campaigns). */
const CONTRACT = [
  "POST /v1/admin/advertisers",
  "PATCH /v1/admin/advertisers/{id}",
  "POST /v1/admin/publishers",
  "POST /v1/admin/campaigns",
  "PATCH /v1/admin/campaigns/{id}",
  "GET /v1/admin/campaigns/{id}/objects",
  "GET /v1/admin/buffers",
  "GET /v1/ops",
  "POST /v1/admin/ads",
  "POST /v1/admin/click-urls",
  "POST /v1/admin/blocklist",
  "POST /v1/admin/rollup",
  "GET /click",
  "POST /v1/events",
  "POST /v1/conversions",
  "GET /v1/ads/{ad_id}/experiment",
  "GET /v1/ads/{ad_id}/heatmap",
  "GET /v1/ads/{ad_id}/aggregated_count",
  "GET /v1/ads/popular",
  "GET /v1/metrics",
  "GET /v1/campaigns/{id}/live",
  "GET /v1/campaigns",
  "GET /v1/billing",
  "GET /v1/reconciliation",
  "GET /openapi.json",
  "GET /dashboard",
  "GET /ops",
  "GET /healthz",
  "POST /v1/admin/replay",
  "PATCH /v1/admin/publishers/{id}",
  "POST /v1/admin/ad-groups",
  // Billing at scale and audit (issue 11).
  "GET /v1/billing/restatements",
  "POST /v1/admin/compact",
  "GET /v1/statements",
  "POST /v1/admin/recalculate",
  "GET /v1/admin/recalculations/{id}",
  "POST /v1/admin/recalculations/{id}/apply",
  "POST /v1/admin/fraud-review",
  "GET /v1/admin/fraud-review",
  "POST /v1/admin/fraud-review/{id}/apply",
];
const INGEST = ["GET /click", "POST /v1/events", "POST /v1/conversions"];
const PUBLIC_DOCS = ["GET /openapi.json", "GET /dashboard", "GET /ops", "GET /healthz"];
const METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];

async function loadDoc(): Promise<Json> {
  const res = await call("http://query.test/openapi.json");
  expect(res.status).toBe(200);
  return json<Json>(res);
}

function operations(doc: Json): { key: string; path: string; method: string; op: Json; pathItem: Json }[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, pathItem]) =>
    METHODS.filter((m) => pathItem[m]).map((method) => ({
      key: `${method.toUpperCase()} ${path}`,
      path,
      method,
      op: pathItem[method],
      pathItem,
    })),
  );
}

function resolve(doc: Json, node: Json): Json {
  while (node && typeof node.$ref === "string") {
    expect(node.$ref, "only local references").toMatch(/^#\//);
    node = node.$ref
      .slice(2)
      .split("/")
      .reduce((n: Json, part: string) => n?.[part], doc);
    expect(node, "reference resolves").toBeDefined();
  }
  return node;
}

const isType = (v: unknown, t: string) =>
  t === "null"
    ? v === null
    : t === "integer"
      ? Number.isInteger(v)
      : t === "array"
        ? Array.isArray(v)
        : t === "object"
          ? typeof v === "object" && v !== null && !Array.isArray(v)
          : typeof v === t;

/**
 * What in `value` does not fit `schema`: the subset of JSON Schema the document uses, and strict about
 * fields: an answer's field the document does not declare is a problem, so the two cannot drift apart.
 */
function mismatches(doc: Json, value: unknown, schema: Json, at = "$"): string[] {
  const s = resolve(doc, schema);
  if (s.anyOf)
    return (s.anyOf as Json[]).some((o) => mismatches(doc, value, o, at).length === 0)
      ? []
      : [`${at}: fits none of anyOf (${JSON.stringify(value)})`];
  const types: string[] = s.type === undefined ? [] : [].concat(s.type);
  if (types.length && !types.some((t) => isType(value, t))) return [`${at}: expected ${types.join("|")}, got ${JSON.stringify(value)}`];
  if (s.enum && !s.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} is not one of ${s.enum.join(", ")}`];
  if (typeof value === "number" && s.minimum !== undefined && value < s.minimum) return [`${at}: ${value} < ${s.minimum}`];
  const out: string[] = [];
  if (isType(value, "object")) {
    const obj = value as Record<string, unknown>;
    const names: string[] | undefined = s.propertyNames?.enum;
    if (names) for (const k of Object.keys(obj)) if (!names.includes(k)) out.push(`${at}.${k}: not one of the documented keys`);
    for (const k of s.required ?? []) if (!(k in obj)) out.push(`${at}.${k}: missing`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = s.properties?.[k] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
      if (sub) out.push(...mismatches(doc, v, sub, `${at}.${k}`));
      else out.push(`${at}.${k}: not in the document`);
    }
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      const sub = s.prefixItems?.[i] ?? s.items;
      if (sub) out.push(...mismatches(doc, v, sub, `${at}[${i}]`));
    });
  }
  return out;
}

/** Calls an endpoint and checks its status is documented for the operation and its JSON body fits. */
async function conforms(doc: Json, opKey: string, url: string, init?: RequestInit): Promise<Json> {
  const [method, path] = opKey.split(" ");
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${opKey} is documented`).toBeDefined();
  const res = await call(url, init);
  const documented = op.responses[String(res.status)];
  const text = await res.text();
  expect(documented, `${opKey} answered ${res.status}, which it does not document: ${text}`).toBeDefined();
  const response = resolve(doc, documented);
  if (res.headers.get("Content-Type")?.startsWith("text/csv")) {
    expect(response.content?.["text/csv"], `${opKey} documents its CSV answer`).toBeDefined();
    return text;
  }
  const media = response.content?.["application/json"];
  if (!media) return null;
  const body = JSON.parse(text);
  expect(mismatches(doc, body, media.schema), `${opKey} ${res.status}`).toEqual([]);
  return body;
}

describe("GET /openapi.json", () => {
  it("is public OpenAPI 3.1 JSON, cacheable and readable from any origin", async () => {
    const res = await call("http://query.test/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=300");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const doc = JSON.parse(await res.text());
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(doc.servers[0].url).toBe("http://query.test");
  });

  it("lists every contract endpoint, ingest ones on the ingest base URL", async () => {
    const doc = await loadDoc();
    const ops = operations(doc);
    const keys = ops.map((o) => o.key);
    for (const k of CONTRACT) expect(keys, k).toContain(k);
    for (const o of ops) {
      const servers = o.pathItem.servers ?? o.op.servers;
      if (INGEST.includes(o.key))
        expect(
          servers?.map((s: Json) => s.url),
          o.key,
        ).toEqual(["http://ingest.test"]);
      else if (o.key === "GET /healthz")
        expect(
          servers?.map((s: Json) => s.url),
          "both Workers",
        ).toEqual(["http://query.test", "http://ingest.test"]);
      else expect(servers, `${o.key} is on the query base URL`).toBeUndefined();
    }
    expect(new Set(ops.map((o) => o.op.operationId)).size, "operationIds are unique").toBe(ops.length);
  });

  it("documents every route the query Worker registers", async () => {
    const doc = await loadDoc();
    const keys = new Set(operations(doc).map((o) => o.key));
    // `/` only says where the documentation is.
    const routes = app.routes.filter((r) => r.method !== "ALL" && r.path !== "/");
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) expect(keys, `${r.method} ${r.path}`).toContain(`${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  });

  it("gives every operation a success, its 4xx errors in the error shape, and its credentials", async () => {
    const doc = await loadDoc();
    const schemes = doc.components.securitySchemes;
    for (const name of ["adminToken", "advertiserKey", "publisherKey"])
      expect(schemes[name]).toMatchObject({ type: "http", scheme: "bearer" });
    const error = resolve(doc, { $ref: "#/components/schemas/Error" });
    expect(mismatches(doc, { error: { code: "x", message: "y" } }, error)).toEqual([]);
    expect(mismatches(doc, { error: { code: "x" } }, error)).not.toEqual([]);

    for (const { key, path, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => /^[23]\d\d$/.test(s)),
        `${key} has a success`,
      ).toBe(true);
      const errors = statuses.filter((s) => /^4\d\d$/.test(s));
      if (!PUBLIC_DOCS.includes(key)) expect(errors.length, `${key} documents errors`).toBeGreaterThan(0);
      for (const s of errors) {
        const r = resolve(doc, op.responses[s]);
        expect(r.description, `${key} ${s}`).toBeTruthy();
        expect(r.content["application/json"].schema, `${key} ${s}`).toEqual({ $ref: "#/components/schemas/Error" });
      }
      const security = (op.security ?? doc.security ?? []).flatMap((req: Json) => Object.keys(req));
      if (path.startsWith("/v1/admin/") || path === "/v1/ops") {
        expect(security, key).toEqual(["adminToken"]);
        expect(errors, key).toEqual(expect.arrayContaining(["400", "401", "403"]));
      } else if (key === "POST /v1/events") {
        expect(security, key).toEqual(["publisherKey"]);
        expect(errors, key).toEqual(expect.arrayContaining(["400", "401", "403", "413", "429"]));
        expect(resolve(doc, op.responses["429"]).headers["Retry-After"], key).toBeDefined();
      } else if (path.startsWith("/v1/keys")) {
        // An account's own keys: advertisers and publishers alike.
        expect(security.sort(), key).toEqual(["adminToken", "advertiserKey", "publisherKey"]);
        expect(errors, key).toEqual(expect.arrayContaining(["401", "404"]));
      } else if (key === "POST /v1/conversions") {
        expect(security, key).toEqual(["advertiserKey"]);
        expect(errors, key).toEqual(expect.arrayContaining(["400", "401", "403", "413"]));
      } else if (path.startsWith("/v1/")) {
        expect(security.sort(), key).toEqual(["adminToken", "advertiserKey"]);
        expect(errors, key).toEqual(expect.arrayContaining(["401", "403"]));
      } else {
        expect(security, `${key} needs no key`).toEqual([]);
      }
      for (const p of op.parameters ?? []) {
        if (p.in === "path") expect(path, `${key} declares {${p.name}}`).toContain(`{${p.name}}`);
        expect(p.schema, `${key} ${p.name}`).toBeDefined();
      }
    }
  });

  it("takes its inputs from the zod schemas that validate them", async () => {
    const doc = await loadDoc();
    const params = (key: string) => {
      const [m, p] = key.split(" ");
      return Object.fromEntries(
        (doc.paths[p][m.toLowerCase()].parameters as Json[]).filter((x) => x.in === "query").map((x) => [x.name, x]),
      );
    };
    const queries: [string, z.ZodObject][] = [
      ["GET /click", S.clickParams],
      ["GET /v1/ads/{ad_id}/aggregated_count", S.aggregatedCountQuery],
      ["GET /v1/ads/popular", S.popularQuery],
      ["GET /v1/metrics", S.metricsQuery],
      ["GET /v1/campaigns/{id}/live", S.liveQuery],
      ["GET /v1/billing", S.billingQuery],
      ["GET /v1/reconciliation", S.reconciliationQuery],
      ["GET /v1/billing/restatements", S.restatementsQuery],
      ["GET /v1/statements", S.statementQuery],
    ];
    for (const [key, schema] of queries) {
      const documented = params(key);
      expect(Object.keys(documented).sort(), key).toEqual(Object.keys(schema.shape).sort());
      for (const [name, field] of Object.entries(schema.shape)) {
        expect(documented[name].required, `${key} ${name}`).toBe(!(field as z.ZodType).safeParse(undefined).success);
      }
    }
    expect(params("GET /v1/metrics").granularity.schema.enum).toEqual([...GRANULARITIES]);
    expect(params("GET /v1/metrics").group_by.schema.enum).toEqual([...S.GROUPINGS]);
    expect(params("GET /v1/ads/popular").top_n.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100 });

    // Request bodies: the documented fields are the zod schema's, and documented examples pass validation.
    const bodies: [string, z.ZodObject, string][] = [
      ["POST /v1/admin/advertisers", S.createAdvertiser, "application/json"],
      ["POST /v1/admin/publishers", S.createPublisher, "application/json"],
      ["PATCH /v1/admin/publishers/{id}", S.updatePublisher, "application/json"],
      ["POST /v1/admin/campaigns", S.createCampaign, "application/json"],
      ["PATCH /v1/admin/campaigns/{id}", S.updateCampaign, "application/json"],
      ["POST /v1/admin/ads", S.createAd, "application/json"],
      ["POST /v1/admin/click-urls", S.createClickUrl, "application/json"],
      ["POST /v1/admin/blocklist", S.blocklistBody, "application/json"],
      ["POST /v1/admin/rollup", S.rollupBody, "application/json"],
    ];
    for (const [key, schema, type] of bodies) {
      const [m, p] = key.split(" ");
      const media = doc.paths[p][m.toLowerCase()].requestBody.content[type];
      const s = resolve(doc, media.schema);
      expect(Object.keys(s.properties).sort(), key).toEqual(Object.keys(schema.shape).sort());
      expect((s.required ?? []).sort(), key).toEqual(
        Object.keys(schema.shape)
          .filter((k) => !schema.shape[k].safeParse(undefined).success)
          .sort(),
      );
      if (media.example !== undefined) expect(schema.safeParse(media.example).success, `${key} example`).toBe(true);
    }
    const posted = doc.paths["/v1/events"].post.requestBody.content["application/json"];
    expect(z.array(S.postedEvent).safeParse(posted.example).success, "events example").toBe(true);
    const event = resolve(doc, posted.schema.items);
    expect(Object.keys(event.properties).sort()).toEqual(Object.keys(S.postedEvent.shape).sort());
    expect(event.required.sort()).toEqual(["ad_id", "event_id", "timestamp"]);
    expect(doc.paths["/v1/events"].post.requestBody.content["application/x-ndjson"]).toBeDefined();
  });

  it("documents what the endpoints really answer, successes and errors alike", async () => {
    const doc = await loadDoc();
    const post = (body: unknown, headers: Record<string, string> = ADMIN): RequestInit => ({
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    const Q = "http://query.test";

    const adv = await conforms(doc, "POST /v1/admin/advertisers", `${Q}/v1/admin/advertisers`, post({ name: "Docs", time_zone: "UTC" }));
    await conforms(doc, "PATCH /v1/admin/advertisers/{id}", `${Q}/v1/admin/advertisers/${adv.advertiser_id}`, {
      ...post({ time_zone: "Europe/Amsterdam" }),
      method: "PATCH",
    });
    await conforms(doc, "PATCH /v1/admin/advertisers/{id}", `${Q}/v1/admin/advertisers/${adv.advertiser_id}`, {
      ...post({ time_zone: "Mars/Olympus" }),
      method: "PATCH",
    });
    const key = { Authorization: `Bearer ${adv.api_key}` };
    const pub = await conforms(doc, "POST /v1/admin/publishers", `${Q}/v1/admin/publishers`, post({ name: "Docs news" }));
    const { campaign_id } = await conforms(
      doc,
      "POST /v1/admin/campaigns",
      `${Q}/v1/admin/campaigns`,
      post({ advertiser_id: adv.advertiser_id, name: "C", cost_per_click: 0.5, daily_budget: 1000 }),
    );
    const { ad_id, click_url } = await conforms(
      doc,
      "POST /v1/admin/ads",
      `${Q}/v1/admin/ads`,
      post({ campaign_id, landing_url: "https://example.com/" }),
    );
    await conforms(doc, "PATCH /v1/admin/publishers/{id}", `${Q}/v1/admin/publishers/${pub.publisher_id}`, {
      ...post({ events_per_second: 9000 }),
      method: "PATCH",
    });
    const group = await conforms(doc, "POST /v1/admin/ad-groups", `${Q}/v1/admin/ad-groups`, post({ campaign_id, name: "Docs group" }));
    expect(group.ad_group_id).toMatch(/^adg_/);
    await conforms(doc, "POST /v1/admin/ad-groups", `${Q}/v1/admin/ad-groups`, post({ campaign_id: "cmp_nope", name: "x" }));
    await conforms(doc, "POST /v1/admin/click-urls", `${Q}/v1/admin/click-urls`, post({ ad_id, publisher_id: pub.publisher_id }));
    await conforms(doc, "PATCH /v1/admin/campaigns/{id}", `${Q}/v1/admin/campaigns/${campaign_id}`, {
      ...post({ shards: 1 }),
      method: "PATCH",
    });
    await conforms(doc, "PATCH /v1/admin/campaigns/{id}", `${Q}/v1/admin/campaigns/${campaign_id}`, {
      ...post({ daily_budget: 500.25 }),
      method: "PATCH",
    });
    await conforms(doc, "PATCH /v1/admin/campaigns/{id}", `${Q}/v1/admin/campaigns/${campaign_id}`, {
      ...post({ daily_budget: -1 }),
      method: "PATCH",
    });
    await conforms(
      doc,
      "POST /v1/admin/blocklist",
      `${Q}/v1/admin/blocklist`,
      post({ user_agents: [`docs-test-agent-${crypto.randomUUID()}`] }),
    );
    await conforms(doc, "POST /v1/admin/rollup", `${Q}/v1/admin/rollup`, post({}));
    await conforms(doc, "DELETE /v1/admin/blocklist", `${Q}/v1/admin/blocklist`, { ...post({ ips: ["198.51.100.77"] }), method: "DELETE" });
    const second = await conforms(doc, "POST /v1/keys", `${Q}/v1/keys`, post({}, key));
    const listed = await conforms(doc, "GET /v1/keys", `${Q}/v1/keys`, { headers: key });
    expect(listed.keys).toHaveLength(2);
    await conforms(doc, "DELETE /v1/keys/{key_id}", `${Q}/v1/keys/${second.key_id}`, { method: "DELETE", headers: key });
    await conforms(doc, "DELETE /v1/keys/{key_id}", `${Q}/v1/keys/${listed.keys[0].key_id}`, { method: "DELETE", headers: key });
    await conforms(doc, "GET /v1/keys", `${Q}/v1/keys`, { headers: ADMIN });
    await conforms(doc, "PUT /v1/alerts/webhook", `${Q}/v1/alerts/webhook`, {
      ...post({ url: "https://example.com/h" }, key),
      method: "PUT",
    });
    await conforms(doc, "GET /v1/alerts", `${Q}/v1/alerts`, { headers: key });
    await conforms(doc, "GET /v1/alerts", `${Q}/v1/alerts?limit=0`, { headers: key });
    await conforms(doc, "POST /v1/admin/compact", `${Q}/v1/admin/compact`, post({}));
    const day = new Date().toISOString().slice(0, 10);
    const rec = await conforms(doc, "POST /v1/admin/recalculate", `${Q}/v1/admin/recalculate`, post({ from: day, to: day, campaign_id }));
    await conforms(doc, "POST /v1/admin/recalculate", `${Q}/v1/admin/recalculate`, post({ from: day, to: "2020-01-01" }));
    await conforms(doc, "GET /v1/admin/recalculations/{id}", `${Q}/v1/admin/recalculations/${rec.recalculation_id}`, { headers: ADMIN });
    await conforms(doc, "GET /v1/admin/recalculations/{id}", `${Q}/v1/admin/recalculations/nope`, { headers: ADMIN });
    await conforms(doc, "POST /v1/admin/recalculations/{id}/apply", `${Q}/v1/admin/recalculations/${rec.recalculation_id}/apply`, post({}));
    await conforms(doc, "POST /v1/admin/recalculations/{id}/apply", `${Q}/v1/admin/recalculations/${rec.recalculation_id}/apply`, post({}));
    await conforms(doc, "POST /v1/admin/fraud-review", `${Q}/v1/admin/fraud-review`, post({ from: day, to: day }));
    await conforms(doc, "GET /v1/admin/fraud-review", `${Q}/v1/admin/fraud-review`, { headers: ADMIN });
    await conforms(doc, "POST /v1/admin/fraud-review/{id}/apply", `${Q}/v1/admin/fraud-review/nope/apply`, post({}));

    // Clicks: billed, a bot, an unknown ad; and posted events with one rejected.
    expect((await call(`${click_url}&user_id=a`, { headers: { "User-Agent": BROWSER, "CF-IPCountry": "DE" } })).status).toBe(302);
    expect((await call(`${click_url}&user_id=b`, { headers: { "User-Agent": "curl/8" } })).status).toBe(302);
    await conforms(doc, "GET /click", "http://ingest.test/click?ad_id=ad_nope");
    await conforms(doc, "GET /click", "http://ingest.test/click");
    const events = await conforms(
      doc,
      "POST /v1/events",
      "http://ingest.test/v1/events",
      post([{ event_id: crypto.randomUUID(), timestamp: Date.now(), ad_id, user_id: "c" }, { ad_id }], {
        Authorization: `Bearer ${pub.api_key}`,
      }),
    );
    expect(events.rejected).toHaveLength(1);
    await conforms(doc, "POST /v1/events", "http://ingest.test/v1/events", post([], {}));
    const location = (await call(`${click_url}&user_id=conv`, { headers: { "User-Agent": BROWSER } })).headers.get("Location")!;
    const click_id = new URL(location).searchParams.get("ec_click_id");
    const conversions = await conforms(
      doc,
      "POST /v1/conversions",
      "http://ingest.test/v1/conversions",
      post(
        [
          { conversion_id: "o-1", click_id, value: 3 },
          { conversion_id: "o-2", click_id: "nope" },
        ],
        { Authorization: `Bearer ${adv.api_key}` },
      ),
    );
    expect(conversions).toEqual({ accepted: 1, rejected: [{ index: 1, code: "unknown_click", message: expect.any(String) }] });
    await conforms(doc, "POST /v1/conversions", "http://ingest.test/v1/conversions", post([], { Authorization: `Bearer ${pub.api_key}` }));

    const now = Date.now();
    const from = new Date(now - 3_600_000).toISOString(),
      to = new Date(now + 60_000).toISOString();
    const today = new Date(now).toISOString().slice(0, 10);
    const campaigns = await conforms(doc, "GET /v1/campaigns", `${Q}/v1/campaigns`, { headers: key });
    expect(campaigns.campaigns).toHaveLength(1);
    // Counted within a second of the answers (the edge buffer forwards them).
    const live = await waitFor("the clicks counted", async () => {
      const body = await conforms(doc, "GET /v1/campaigns/{id}/live", `${Q}/v1/campaigns/${campaign_id}/live?minutes=60`, { headers: key });
      return body.clicks + body.invalid_clicks === 4 ? body : null;
    });
    // Two browsers, a bot, and the converted click.
    expect(live).toMatchObject({ clicks: 3, invalid_clicks: 1, invalid_by_reason: { bot_ua: 1 }, conversions: 1, conversion_value: 3 });
    await conforms(doc, "GET /v1/metrics", `${Q}/v1/metrics?campaign_id=${campaign_id}&start=${from}&end=${to}&granularity=minute`, {
      headers: key,
    });
    await conforms(
      doc,
      "GET /v1/metrics",
      `${Q}/v1/metrics?ad_id=${ad_id}&start=${from}&end=${to}&granularity=hour&group_by=country&tz=Asia/Tokyo`,
      {
        headers: key,
      },
    );
    await conforms(
      doc,
      "GET /v1/ads/{ad_id}/aggregated_count",
      `${Q}/v1/ads/${ad_id}/aggregated_count?from=${from}&to=${to}&filter=country:DE`,
      { headers: key },
    );
    await conforms(doc, "GET /v1/ads/popular", `${Q}/v1/ads/popular?window=60&top_n=10`, { headers: key });
    const summary = await conforms(doc, "GET /v1/ads/{ad_id}/experiment", `${Q}/v1/ads/${ad_id}/experiment`, { headers: key });
    expect(summary).toMatchObject({ ad_id, variants: [], best: null, significant: false });
    await conforms(doc, "GET /v1/ads/{ad_id}/experiment", `${Q}/v1/ads/${ad_id}/experiment?from=${to}&to=${from}`, { headers: key });
    await conforms(doc, "GET /v1/ads/{ad_id}/experiment", `${Q}/v1/ads/ad_nope/experiment`, { headers: key });
    const heat = await conforms(doc, "GET /v1/ads/{ad_id}/heatmap", `${Q}/v1/ads/${ad_id}/heatmap?from=${from}&to=${to}`, { headers: key });
    expect(heat).toMatchObject({ cols: 20, rows: 20, cells: [] });
    await conforms(doc, "GET /v1/ads/{ad_id}/heatmap", `${Q}/v1/ads/${ad_id}/heatmap?from=${from}`, { headers: key });
    await conforms(doc, "GET /v1/billing", `${Q}/v1/billing?campaign_id=${campaign_id}&from=${today}&to=${to}`, { headers: key });
    await conforms(doc, "GET /v1/reconciliation", `${Q}/v1/reconciliation?date=${today}`, { headers: key });
    for (const path of [
      `/v1/metrics?campaign_id=${campaign_id}&start=${from}&end=${to}`,
      `/v1/billing?campaign_id=${campaign_id}&from=${today}&to=${to}`,
      `/v1/reconciliation?date=${today}`,
    ])
      expect(await conforms(doc, `GET ${path.split("?")[0]}`, `${Q}${path}&format=csv`, { headers: key })).toMatch(/^\w+,/);
    await conforms(doc, "GET /v1/billing/restatements", `${Q}/v1/billing/restatements?campaign_id=${campaign_id}`, { headers: key });
    await conforms(doc, "GET /v1/billing/restatements", `${Q}/v1/billing/restatements?from=2026-13-01`, { headers: key });
    await conforms(doc, "GET /v1/statements", `${Q}/v1/statements?campaign_id=${campaign_id}&month=${today.slice(0, 7)}`, {
      headers: key,
    });
    await conforms(doc, "GET /v1/statements", `${Q}/v1/statements?campaign_id=${campaign_id}&month=2026-13`, { headers: key });
    await conforms(doc, "GET /v1/ops", `${Q}/v1/ops?minutes=60`, { headers: ADMIN });
    await conforms(doc, "GET /v1/admin/buffers", `${Q}/v1/admin/buffers`, { headers: ADMIN });
    await conforms(doc, "GET /v1/admin/campaigns/{id}/objects", `${Q}/v1/admin/campaigns/${campaign_id}/objects`, { headers: ADMIN });
    await conforms(doc, "POST /v1/admin/replay", `${Q}/v1/admin/replay`, post({}));
    await conforms(doc, "GET /healthz", `${Q}/healthz`);
    await conforms(doc, "GET /healthz", "http://ingest.test/healthz");

    // Errors: each is a documented status with the error shape.
    await conforms(doc, "GET /v1/campaigns", `${Q}/v1/campaigns`);
    await conforms(doc, "GET /v1/campaigns", `${Q}/v1/campaigns`, { headers: { Authorization: `Bearer ${pub.api_key}` } });
    await conforms(doc, "GET /v1/campaigns/{id}/live", `${Q}/v1/campaigns/cmp_nope/live`, { headers: key });
    await conforms(doc, "GET /v1/metrics", `${Q}/v1/metrics?campaign_id=${campaign_id}&start=${to}&end=${from}`, { headers: key });
    await conforms(doc, "GET /v1/reconciliation", `${Q}/v1/reconciliation?date=2026-02-30`, { headers: key });
    await conforms(
      doc,
      "POST /v1/admin/campaigns",
      `${Q}/v1/admin/campaigns`,
      post({ advertiser_id: "adv_nope", name: "C", cost_per_click: 1 }),
    );
    await conforms(doc, "POST /v1/admin/ads", `${Q}/v1/admin/ads`, post({ campaign_id, landing_url: "javascript:alert(1)" }));
    await conforms(doc, "POST /v1/admin/advertisers", `${Q}/v1/admin/advertisers`, post({ name: "x" }, key));
    await conforms(doc, "GET /v1/ops", `${Q}/v1/ops?minutes=0`, { headers: ADMIN });
    await conforms(doc, "GET /v1/ads/{ad_id}/aggregated_count", `${Q}/v1/ads/${ad_id}/aggregated_count?from=${from}`, { headers: key });
  });

  it("checks answers strictly enough to catch drift", async () => {
    // The checker above must be able to fail, or the test before proves nothing.
    const doc = await loadDoc();
    const live = { $ref: "#/components/schemas/Live" };
    const good = {
      campaign_id: "c",
      minutes: 60,
      clicks: 1,
      unique_users: 1,
      cost: 0.5,
      invalid_clicks: 0,
      invalid_by_reason: {},
      suspicious_clicks: 0,
      duplicates: 0,
      over_budget_clicks: 0,
      late_events: 0,
      conversions: 0,
      conversion_value: 0,
      conversion_rate: null,
      spend: 0.5,
      daily_budget: null,
      pacing: null,
      from: "x",
      as_of: "y",
    };
    expect(mismatches(doc, good, live)).toEqual([]);
    expect(mismatches(doc, { ...good, surprise: 1 }, live)).toEqual(["$.surprise: not in the document"]);
    expect(mismatches(doc, { ...good, clicks: "1" }, live)).toHaveLength(1);
    const { clicks: _, ...missing } = good;
    expect(mismatches(doc, missing, live)).toEqual(["$.clicks: missing"]);
    expect(mismatches(doc, { ...good, invalid_by_reason: { bot_ua: 2 } }, live)).toEqual([]);
    expect(mismatches(doc, { ...good, invalid_by_reason: { made_up: 2 } }, live)).toEqual([
      "$.invalid_by_reason.made_up: not in the document",
    ]);
  });
});

describe("GET /dashboard and GET /ops", () => {
  async function page(path = "/dashboard") {
    const res = await call(`http://query.test${path}`);
    return { res, html: await res.text() };
  }

  async function sha256(text: string): Promise<string> {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
  }

  it.each(["/dashboard", "/ops"])(
    "%s is an uncached HTML page, public, under a strict CSP that allows exactly its inline code",
    async (path) => {
      const { res, html } = await page(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      expect(html).toMatch(/^<!doctype html>/i);

      const header = res.headers.get("Content-Security-Policy")!;
      const directives = header.split(";").map((d) => d.trim().split(/\s+/));
      const csp = Object.fromEntries(directives.map(([name, ...values]) => [name, values]));
      expect(Object.keys(csp), "each directive once (browsers ignore repeats)").toHaveLength(directives.length);
      expect(csp["default-src"]).toEqual(["'none'"]);
      expect(csp["connect-src"]).toEqual(["'self'"]);
      expect(csp["frame-ancestors"]).toEqual(["'none'"]);
      expect(header).not.toMatch(/'unsafe-inline'|'unsafe-eval'|'unsafe-hashes'|\*|https?:/);

      // Exactly one inline script and one inline style, and the CSP names their hashes: the page runs.
      const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      const styles = [...html.matchAll(/<style([^>]*)>([\s\S]*?)<\/style>/g)];
      expect(scripts).toHaveLength(1);
      expect(styles).toHaveLength(1);
      expect(scripts[0][1], "no external script").toBe("");
      expect(csp["script-src"]).toEqual([await sha256(scripts[0][2])]);
      expect(csp["style-src"]).toEqual([await sha256(styles[0][2])]);
    },
  );

  it.each(["/dashboard", "/ops"])("%s is self-contained and uses nothing the CSP would block", async (path) => {
    const { html } = await page(path);
    expect(html, "no external resources").not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    expect(html, "no inline event handlers").not.toMatch(/<[^>]+\son[a-z]+\s*=/i);
    expect(html, "no style attributes").not.toMatch(/<[^>]+\sstyle\s*=/i);
    expect(html).not.toMatch(/\beval\(|new Function\(/);
    expect(html, "data goes in as text").not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it("reads the public API with the advertiser's key and shows what the brief asks for", async () => {
    const { html } = await page();
    for (const needle of [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the page's own source text, literally
      "Authorization: `Bearer ${key}`",
      "localStorage",
      'id="forget"',
      "#key=",
      '"/v1/campaigns"',
      "/live?minutes=60",
      "/v1/metrics?campaign_id=",
      "granularity=minute",
      "granularity=hour&group_by=",
      '"country"',
      '"device_type"',
      '"/v1/ads/popular?window=60&top_n=10"',
      "/v1/billing?campaign_id=",
      "/v1/reconciliation?date=",
      "invalid_by_reason",
      "suspicious_clicks",
      "duplicates",
      "late_events",
      "unique_users",
      "invalid_clicks",
      "Key not valid",
      "every(2000,",
    ]) {
      expect(html, needle).toContain(needle);
    }
    expect(html).toContain('createElementNS("http://www.w3.org/2000/svg"');
    // The ops page reads the admin view and shows the alerts first.
    const ops = (await page("/ops")).html;
    for (const needle of ['"/v1/ops?minutes=60"', "o.alerts", "fraud rate", "oldest unarchived", "sessionStorage"])
      expect(ops, needle).toContain(needle);
    // A readable label for every invalid reason the counting rules can give.
    for (const reason of INVALID_REASONS) expect(html, reason).toMatch(new RegExp(`\\b${reason}: "[^"]+"`));
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toMatch(/<label for="key">/);
  });

  it("needs no key, while the API it calls does", async () => {
    expect((await call("http://query.test/dashboard")).status).toBe(200);
    expect((await call("http://query.test/v1/campaigns")).status).toBe(401);
    const s = await seedAd();
    expect((await call("http://query.test/v1/campaigns", { headers: { Authorization: `Bearer ${s.key}` } })).status).toBe(200);
  });
});
