/**
 * Malformed-input corpus: every endpoint gets bad JSON, wrong types, huge and odd strings, bad keys, bad
 * query parameters, wrong methods and unknown paths. Every answer must be a 4xx with exactly
 * `{"error":{"code","message"}}`, and nothing may change: the registry's row counts, the campaigns'
 * counters, the billing rows and the blocklist are compared before and after.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runDurableObjectAlarm } from "cloudflare:test";
import { campaignStub } from "../../durable-objects/client";
import { ADMIN, BROWSER, adminPost, call, json, seedAd, testEnv, waitFor, landingOf } from "./helpers";

const Q = "http://query.test";
const I = "http://ingest.test";
const HOUR = 3_600_000;
const SQL = "'; DROP TABLE ads; --";
const EVIL = "https://evil.example/phish";

type Seeded = Awaited<ReturnType<typeof seedAd>>;
interface World {
  a: Seeded;
  b: Seeded;
  pub: { publisher_id: string; api_key: string };
  /** A fixed metrics window, so snapshots compare the same buckets even if the hour turns. */
  start: number;
  end: number;
}
let w: World;

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const qs = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();

/** A 4xx whose body is exactly `{"error":{"code":<snake_case>,"message":<string>}}`. */
async function expectError(res: Response, label: string, status?: number, code?: string): Promise<{ code: string; message: string }> {
  const text = await res.text();
  expect(res.status, `${label}: ${text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `${label}: ${text.slice(0, 300)}`).toBeLessThan(500);
  if (status !== undefined) expect(res.status, `${label}: ${text.slice(0, 300)}`).toBe(status);
  expect(res.headers.get("Content-Type"), label).toMatch(/^application\/json/);
  expect(res.headers.get("Location"), label).toBeNull();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${label}: body is not JSON: ${text.slice(0, 300)}`);
  }
  expect(Object.keys(body as object), label).toEqual(["error"]);
  const error = (body as { error: Record<string, unknown> }).error;
  expect(Object.keys(error).sort(), label).toEqual(["code", "message"]);
  expect(error.code, label).toMatch(/^[a-z]+(_[a-z0-9]+)*$/);
  expect(typeof error.message, label).toBe("string");
  expect((error.message as string).length, label).toBeGreaterThan(0);
  // Never a stack trace or a runtime error leaking through.
  expect(error.message, label).not.toMatch(/\bat .*\.(ts|js):\d+|TypeError|RangeError|SQLITE|D1_ERROR/);
  if (code !== undefined) expect(error.code, `${label}: ${error.message}`).toBe(code);
  return error as { code: string; message: string };
}

interface Case {
  name: string;
  url: string;
  init?: RequestInit;
  status?: number;
  code?: string;
}

async function runCases(cases: Case[]): Promise<void> {
  const names = new Set<string>();
  for (const c of cases) {
    expect(names.has(c.name), `duplicate case name ${c.name}`).toBe(false);
    names.add(c.name);
  }
  // A few at a time: the point is the answers, not load.
  for (let i = 0; i < cases.length; i += 8) {
    await Promise.all(
      cases.slice(i, i + 8).map(async (c) => {
        const res = await call(c.url, c.init);
        await expectError(res, c.name, c.status, c.code);
      }),
    );
  }
}

/** Everything bad input could move. */
async function snapshot() {
  const rows: Record<string, number> = {};
  for (const t of ["advertisers", "publishers", "campaigns", "ads", "billing_daily", "rollup_runs"]) {
    rows[t] = (await testEnv.DB.prepare(`SELECT COUNT(*) AS n FROM ${t}`).first<{ n: number }>())!.n;
  }
  const metrics = async (s: Seeded) => {
    const res = await call(`${Q}/v1/metrics?${qs({ campaign_id: s.campaign_id, start: w.start, end: w.end, granularity: "hour" })}`, {
      headers: ADMIN,
    });
    expect(res.status).toBe(200);
    return (await json<{ metrics: unknown[] }>(res)).metrics;
  };
  const count = async (s: Seeded) => {
    const res = await call(`${Q}/v1/ads/${s.ad_id}/aggregated_count?${qs({ from: w.start, to: w.end })}`, { headers: bearer(s.key) });
    expect(res.status).toBe(200);
    return (await json<{ count: number }>(res)).count;
  };
  const blocklist = testEnv.BLOCKLIST.getByName("global");
  return {
    rows,
    a: { metrics: await metrics(w.a), count: await count(w.a) },
    b: { metrics: await metrics(w.b), count: await count(w.b) },
    blocklist: { version: await blocklist.version(), items: await blocklist.count() },
    spool: (await testEnv.ARCHIVE.list({ prefix: "spool/" })).objects.length,
  };
}

/** Runs the cases and checks that none of them changed anything. */
async function runUnchanged(cases: Case[]): Promise<void> {
  const before = await snapshot();
  await runCases(cases);
  expect(await snapshot()).toEqual(before);
}

beforeAll(async () => {
  const now = Date.now();
  w = {
    a: await seedAd({ landing_url: "https://a.example/landing" }),
    b: await seedAd({ landing_url: "https://b.example/landing" }),
    pub: (await adminPost("publishers", { name: "Network" })) as World["pub"],
    start: Math.floor(now / HOUR) * HOUR - HOUR,
    end: Math.floor(now / HOUR) * HOUR + 2 * HOUR,
  };
  // Non-zero counters to start from, so "nothing moved" is not "zero stayed zero".
  for (const s of [w.a, w.b]) {
    const res = await call(`${s.click_url}&user_id=seed`, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": "192.0.2.200" } });
    expect(res.status).toBe(302);
  }
});

// ------------------------------------------------------------------------------------------ admin

const ADMIN_POSTS = ["advertisers", "publishers", "campaigns", "ads", "click-urls", "blocklist", "rollup"] as const;

function adminCase(
  name: string,
  path: string,
  body: BodyInit | undefined,
  status?: number,
  code?: string,
  method = "POST",
  headers: Record<string, string> = ADMIN,
): Case {
  return { name, url: `${Q}/v1/admin/${path}`, init: { method, headers, body }, status, code };
}

/** Bodies no admin endpoint can take. */
function badBodies(path: string, method = "POST"): Case[] {
  const n = (s: string) => `${method} ${path}: ${s}`;
  const cases: Case[] = [
    adminCase(n("unterminated JSON"), path, "{", 400, "invalid_json", method),
    adminCase(n("trailing comma"), path, '{"name":"x",}', 400, "invalid_json", method),
    adminCase(n("trailing garbage"), path, '{"name":"x"} x', 400, "invalid_json", method),
    adminCase(n("NaN literal"), path, '{"cost_per_click":NaN}', 400, "invalid_json", method),
    adminCase(n("single quotes"), path, "{'name':'x'}", 400, "invalid_json", method),
    adminCase(n("array"), path, "[]", 400, "invalid_request", method),
    adminCase(n("string"), path, '"name"', 400, "invalid_request", method),
    adminCase(n("number"), path, "42", 400, "invalid_request", method),
    adminCase(n("null"), path, "null", 400, "invalid_request", method),
    adminCase(n("true"), path, "true", 400, "invalid_request", method),
    adminCase(n("not UTF-8"), path, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, "invalid_encoding", method),
    adminCase(n("2 MiB body"), path, `{"name":"${"x".repeat(2 * 1024 * 1024)}"}`, 413, "payload_too_large", method),
    adminCase(n("deeply nested"), path, `{"name":${"[".repeat(5000)}${"]".repeat(5000)}}`, 400, "invalid_request", method),
  ];
  // `POST /v1/admin/rollup` takes an empty body (today and yesterday); everything else needs one.
  if (path !== "rollup")
    cases.push(
      adminCase(n("empty body"), path, "", 400, "empty_body", method),
      adminCase(n("whitespace body"), path, " \n\t ", 400, "empty_body", method),
    );
  if (path !== "blocklist")
    cases.push(
      adminCase(
        n("100 KB field"),
        path,
        JSON.stringify({ name: "x".repeat(100 * 1024), campaign_id: "x".repeat(100 * 1024) }),
        413,
        "payload_too_large",
        method,
      ),
    );
  return cases;
}

const LONE_SURROGATE = '"a\\ud800b"'; // valid JSON, not valid Unicode text
const BAD_TEXT: [string, string][] = [
  ["number", "1"],
  ["null", "null"],
  ["array", '["x"]'],
  ["object", '{"x":1}'],
  ["boolean", "true"],
  ["empty", '""'],
  ["blank", '"   "'],
  ["10 KB", JSON.stringify("x".repeat(10 * 1024))],
  ["NUL byte", '"a\\u0000b"'],
  ["bell", '"a\\u0007b"'],
  ["newline", '"a\\nb"'],
  ["lone surrogate", LONE_SURROGATE],
];

function adminFieldCases(): Case[] {
  const cases: Case[] = [];
  const obj = (fields: Record<string, string>) =>
    `{${Object.entries(fields)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(",")}}`;
  for (const path of ["advertisers", "publishers"]) {
    cases.push(adminCase(`${path}: no name`, path, "{}", 400, "invalid_request"));
    cases.push(adminCase(`${path}: misspelt key`, path, '{"nam":"x"}', 400, "invalid_request"));
    for (const [label, v] of BAD_TEXT) cases.push(adminCase(`${path}: name ${label}`, path, obj({ name: v }), 400, "invalid_request"));
  }

  const campaign = (over: Record<string, string>) =>
    obj({ advertiser_id: JSON.stringify(w.a.advertiser_id), name: '"C"', cost_per_click: "0.5", ...over });
  for (const [label, v] of [
    ["1e308", "1e308"],
    ["-0.01", "-0.01"],
    ['"1"', '"1"'],
    ["null", "null"],
    ["true", "true"],
    ["1001", "1001"],
    ["7 decimals", "0.1234567"],
    ["array", "[1]"],
    ["-1e308", "-1e308"],
    ["huge exponent", "1e999"],
  ] as const) {
    cases.push(adminCase(`campaigns: cost_per_click ${label}`, "campaigns", campaign({ cost_per_click: v }), 400, "invalid_request"));
  }
  cases.push(adminCase("campaigns: Infinity literal", "campaigns", campaign({ cost_per_click: "Infinity" }), 400, "invalid_json"));
  cases.push(
    adminCase(
      "campaigns: no cost_per_click",
      "campaigns",
      obj({ advertiser_id: JSON.stringify(w.a.advertiser_id), name: '"C"' }),
      400,
      "invalid_request",
    ),
  );
  for (const [label, v] of [
    ["SQL", JSON.stringify(SQL)],
    ["number", "123"],
    ["empty", '""'],
    ["65 chars", JSON.stringify("a".repeat(65))],
    ["null", "null"],
    ["emoji", '"adv_😀"'],
  ] as const) {
    cases.push(adminCase(`campaigns: advertiser_id ${label}`, "campaigns", campaign({ advertiser_id: v }), 400, "invalid_request"));
  }
  cases.push(adminCase("campaigns: unknown advertiser", "campaigns", campaign({ advertiser_id: '"adv_doesnotexist"' }), 404, "not_found"));
  for (const [label, v] of BAD_TEXT.filter(([l]) => l !== "10 KB"))
    cases.push(adminCase(`campaigns: name ${label}`, "campaigns", campaign({ name: v }), 400, "invalid_request"));
  for (const v of ["0", "17", "1.5", '"2"', "-1"])
    cases.push(adminCase(`campaigns: shards ${v}`, "campaigns", campaign({ shards: v }), 400, "invalid_request"));

  const ad = (over: Record<string, string>) =>
    obj({ campaign_id: JSON.stringify(w.a.campaign_id), landing_url: '"https://ok.example/"', ...over });
  cases.push(adminCase("ads: unknown campaign", "ads", ad({ campaign_id: '"cmp_doesnotexist"' }), 404, "not_found"));
  cases.push(adminCase("ads: campaign_id SQL", "ads", ad({ campaign_id: JSON.stringify(SQL) }), 400, "invalid_request"));
  cases.push(adminCase("ads: no landing_url", "ads", obj({ campaign_id: JSON.stringify(w.a.campaign_id) }), 400, "invalid_request"));
  for (const url of BAD_LANDING_URLS)
    cases.push(
      adminCase(
        `ads: landing_url ${JSON.stringify(url).slice(0, 60)}`,
        "ads",
        ad({ landing_url: JSON.stringify(url) }),
        400,
        "invalid_request",
      ),
    );
  cases.push(
    adminCase("ads: landing_url lone surrogate", "ads", ad({ landing_url: '"https://example.com/\\ud800"' }), 400, "invalid_request"),
  );
  for (const v of ["42", '"bad format!"', JSON.stringify("f".repeat(100)), '""'])
    cases.push(adminCase(`ads: ad_format ${v.slice(0, 20)}`, "ads", ad({ ad_format: v }), 400, "invalid_request"));

  const clickUrl = (over: Record<string, string>) =>
    obj({ ad_id: JSON.stringify(w.a.ad_id), publisher_id: JSON.stringify(w.pub.publisher_id), ...over });
  cases.push(adminCase("click-urls: unknown ad", "click-urls", clickUrl({ ad_id: '"ad_doesnotexist"' }), 404, "not_found"));
  cases.push(adminCase("click-urls: unknown publisher", "click-urls", clickUrl({ publisher_id: '"pub_doesnotexist"' }), 404, "not_found"));
  cases.push(adminCase("click-urls: ad_id number", "click-urls", clickUrl({ ad_id: "42" }), 400, "invalid_request"));
  cases.push(adminCase("click-urls: publisher SQL", "click-urls", clickUrl({ publisher_id: JSON.stringify(SQL) }), 400, "invalid_request"));
  cases.push(adminCase("click-urls: no publisher", "click-urls", obj({ ad_id: JSON.stringify(w.a.ad_id) }), 400, "invalid_request"));

  for (const [label, body] of [
    ["nothing", "{}"],
    ["empty lists", '{"ips":[],"user_agents":[]}'],
    ["ips not a list", '{"ips":"192.0.2.1"}'],
    ["bad IPv4", '{"ips":["999.1.1.1"]}'],
    ["IP with SQL", JSON.stringify({ ips: [`192.0.2.1${SQL}`] })],
    ["IP null", '{"ips":[null]}'],
    ["IP number", '{"ips":[3232235777]}'],
    ["IPv6 garbage", '{"ips":["::::"]}'],
    ["user agent empty", '{"user_agents":[""]}'],
    ["user agent number", '{"user_agents":[42]}'],
    ["user agent NUL", '{"user_agents":["evil\\u0000bot"]}'],
    ["user agent lone surrogate", `{"user_agents":[${LONE_SURROGATE}]}`],
    ["user agent too long", JSON.stringify({ user_agents: ["u".repeat(1025)] })],
    ["10,001 IPs", JSON.stringify({ ips: Array.from({ length: 10_001 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) })],
  ] as const) {
    cases.push(adminCase(`blocklist: ${label}`, "blocklist", body, 400, "invalid_request"));
  }

  for (const v of [
    '"2026-13-01"',
    '"2026-02-30"',
    '"yesterday"',
    "20260101",
    "null",
    '"2026-1-1"',
    '"0000-00-00"',
    '"0050-01-01"',
    JSON.stringify(SQL),
    '"2026-01-01T00:00:00Z"',
  ]) {
    cases.push(adminCase(`rollup: date ${v}`, "rollup", `{"date":${v}}`, 400, "invalid_request"));
  }

  const patch = (id: string, body: string, status: number, code: string, label: string) =>
    adminCase(`PATCH campaigns: ${label}`, `campaigns/${id}`, body, status, code, "PATCH");
  for (const v of ["0", "17", '"2"', "1.5", "null"])
    cases.push(patch(w.a.campaign_id, `{"shards":${v}}`, 400, "invalid_request", `shards ${v}`));
  cases.push(patch(w.a.campaign_id, "{}", 400, "invalid_request", "no shards"));
  cases.push(patch("cmp_doesnotexist", '{"shards":2}', 404, "not_found", "unknown campaign"));
  cases.push(patch(encodeURIComponent(SQL), '{"shards":2}', 404, "not_found", "SQL id"));
  return cases;
}

/** landing_url values that must never be registered: a click could only ever go to a plain http(s) page. */
const BAD_LANDING_URLS = [
  "javascript:alert(1)",
  "JAVASCRIPT:alert(document.cookie)",
  " javascript:alert(1)",
  "java\tscript:alert(1)",
  "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
  "vbscript:msgbox(1)",
  "file:///etc/passwd",
  "ftp://files.example/x",
  "blob:https://example.com/uuid",
  "//evil.example/",
  "/relative/path",
  "example.com",
  "https://user:pw@example.com/",
  "https://user@example.com/",
  "https://example.com\\@evil.example/",
  "https://exa\nmple.com/",
  "https://example.com/\r\nSet-Cookie: x=1",
  "https://example.com/\u0000",
  "https://example.com/a b",
  "https://example.com/\u007f",
  "http://",
  "https://",
  "",
  `https://example.com/${"a".repeat(2100)}`,
];

describe("corpus: admin endpoints", () => {
  it("answers bad bodies on every admin endpoint with a 4xx JSON error and writes nothing", async () => {
    const cases = [...ADMIN_POSTS.flatMap((p) => badBodies(p)), ...badBodies(`campaigns/${w.a.campaign_id}`, "PATCH")];
    await runUnchanged(cases);
  });

  it("answers wrong types, odd text, absurd costs and bad URLs field by field, and writes nothing", async () => {
    await runUnchanged(adminFieldCases());
  });

  it("wants the admin token: 401 without valid credentials, 403 for an advertiser or publisher key", async () => {
    const routes: [string, string][] = [
      ...ADMIN_POSTS.map((p) => ["POST", p] as [string, string]),
      ["POST", "replay"],
      ["DELETE", "blocklist"],
      ["PATCH", `campaigns/${w.a.campaign_id}`],
      ["PATCH", `publishers/${w.pub.publisher_id}`],
      // Reads of the admin: the same credentials, no body.
      ["GET", "buffers"],
      ["GET", `campaigns/${w.a.campaign_id}/objects`],
      ["GET", "../ops"],
    ];
    const cases: Case[] = [];
    const valid = '{"name":"should never be created"}';
    for (const [method, path] of routes) {
      const n = (s: string) => `${method} ${path}: ${s}`;
      const body = method === "GET" ? undefined : valid;
      for (const [label, headers] of [
        ["no Authorization", {}],
        ["empty Authorization", { Authorization: "" }],
        ["Bearer without token", { Authorization: "Bearer" }],
        ["Bearer and spaces", { Authorization: "Bearer    " }],
        ["Basic scheme", { Authorization: `Basic ${btoa("admin:test-admin-token")}` }],
        ["token without scheme", { Authorization: "test-admin-token" }],
        ["token with extra words", { Authorization: "Bearer test-admin-token extra" }],
        ["token prefix", { Authorization: "Bearer test-admin-toke" }],
        ["token suffix", { Authorization: "Bearer test-admin-token-x" }],
        ["SQL token", { Authorization: `Bearer ${SQL.replace(/ /g, "")}` }],
        ["10 KB token", { Authorization: `Bearer ${"t".repeat(10_000)}` }],
      ] as const) {
        cases.push(adminCase(n(label), path, body, 401, "unauthorized", method, headers));
      }
      cases.push(adminCase(n("advertiser key"), path, body, 403, "forbidden", method, bearer(w.a.key)));
      cases.push(adminCase(n("publisher key"), path, body, 403, "forbidden", method, bearer(w.pub.api_key)));
      // Credentials are checked before the body (or a bad query) is even read.
      if (method === "GET")
        cases.push(adminCase(n("no key, bad query"), `${path}?minutes=oops&colo=x`, undefined, 401, "unauthorized", method, {}));
      else cases.push(adminCase(n("no key, bad body"), path, "{", 401, "unauthorized", method, {}));
    }
    await runUnchanged(cases);
  });

  it("answers wrong methods with 405 and an Allow header, unknown admin paths with 404", async () => {
    const cases: Case[] = [];
    for (const path of ADMIN_POSTS) {
      // The blocklist also takes DELETE (removing entries).
      for (const method of ["GET", "PUT", "DELETE", "PATCH"].filter((m) => !(path === "blocklist" && m === "DELETE")))
        cases.push(adminCase(`${method} ${path}`, path, method === "GET" ? undefined : "{}", 405, "method_not_allowed", method));
    }
    for (const method of ["GET", "POST", "PUT", "DELETE"])
      cases.push(
        adminCase(
          `${method} campaigns/:id`,
          `campaigns/${w.a.campaign_id}`,
          method === "GET" ? undefined : "{}",
          405,
          "method_not_allowed",
          method,
        ),
      );
    for (const path of ["nope", "advertisers/x/y", "ads/x/y", "", "../v1/metrics"])
      cases.push(adminCase(`unknown admin path ${path}`, path, "{}", 404, "not_found"));
    await runUnchanged(cases);
    const res = await call(`${Q}/v1/admin/advertisers`, { headers: ADMIN });
    expect(res.headers.get("Allow")).toBe("POST");
  });

  it("stores SQL-looking, emoji and right-to-left names as plain data", async () => {
    for (const name of [SQL, "Café 😀 Ünïcödé", "שלום עולם مرحبا", "Robert'); DROP TABLE advertisers;--"]) {
      const adv = await adminPost("advertisers", { name });
      const row = await testEnv.DB.prepare("SELECT name FROM advertisers WHERE advertiser_id = ?")
        .bind(adv.advertiser_id)
        .first<{ name: string }>();
      expect(row!.name).toBe(name);
      const cmp = await adminPost("campaigns", { advertiser_id: adv.advertiser_id, name, cost_per_click: 0.1 });
      const list = await json<{ campaigns: { campaign_id: string; name: string }[] }>(
        await call(`${Q}/v1/campaigns`, { headers: bearer(adv.api_key) }),
      );
      expect(list.campaigns).toEqual([expect.objectContaining({ campaign_id: cmp.campaign_id, name })]);
    }
    // The tables are all still there.
    for (const t of ["advertisers", "campaigns", "ads"])
      expect((await testEnv.DB.prepare(`SELECT COUNT(*) AS n FROM ${t}`).first<{ n: number }>())!.n).toBeGreaterThan(0);
  });
});

// ----------------------------------------------------------------------------------------- ingest

describe("corpus: ingest", () => {
  it("answers bad /click requests with a 4xx JSON error and records nothing", async () => {
    const click = (q: string) => `${I}/click${q}`;
    const cases: Case[] = [
      { name: "no parameters", url: click(""), status: 400, code: "invalid_request" },
      { name: "no ad_id", url: click("?user_id=u1"), status: 400, code: "invalid_request" },
      { name: "empty ad_id", url: click("?ad_id="), status: 400, code: "invalid_request" },
      { name: "blank ad_id", url: click("?ad_id=%20%20"), status: 400, code: "invalid_request" },
      { name: "SQL ad_id", url: click(`?ad_id=${encodeURIComponent(SQL)}`), status: 400, code: "invalid_request" },
      { name: "NUL ad_id", url: click("?ad_id=ad%00x"), status: 400, code: "invalid_request" },
      { name: "emoji ad_id", url: click(`?ad_id=${encodeURIComponent("ad_😀")}`), status: 400, code: "invalid_request" },
      { name: "broken UTF-8 ad_id", url: click("?ad_id=ad_%ED%A0%80"), status: 400, code: "invalid_request" },
      { name: "RTL ad_id", url: click(`?ad_id=${encodeURIComponent("ad_\u202eevil")}`), status: 400, code: "invalid_request" },
      { name: "100 KB ad_id", url: click(`?ad_id=${"a".repeat(100 * 1024)}`), status: 400, code: "invalid_request" },
      { name: "unknown ad", url: click("?ad_id=ad_doesnotexist&url=https://evil.example/"), status: 404, code: "unknown_ad" },
      { name: "ambiguous ad_id", url: click(`?ad_id=${w.a.ad_id}&ad_id=${w.b.ad_id}`), status: 400, code: "invalid_request" },
      { name: "ad_id case-changed", url: click(`?ad_id=${w.a.ad_id.toUpperCase()}`), status: 404, code: "unknown_ad" },
      ...["POST", "PUT", "DELETE", "PATCH"].map((method) => ({
        name: `${method} /click`,
        url: click(`?ad_id=${w.a.ad_id}`),
        init: { method },
        status: 405,
        code: "method_not_allowed",
      })),
      { name: "unknown ingest path", url: `${I}/nope`, status: 404, code: "not_found" },
      { name: "unknown v1 ingest path", url: `${I}/v1/nope`, status: 404, code: "not_found" },
      { name: "click with trailing path", url: `${I}/click/x?ad_id=${w.a.ad_id}`, status: 404, code: "not_found" },
    ];
    await runUnchanged(cases);
  });

  it("answers bad POST /v1/events requests with a 4xx JSON error and records nothing", async () => {
    const events = `${I}/v1/events`;
    const post = (
      name: string,
      body: BodyInit | undefined,
      status: number,
      code: string,
      headers: Record<string, string> = bearer(w.pub.api_key),
      method = "POST",
    ): Case => ({
      name,
      url: events,
      init: { method, headers, body },
      status,
      code,
    });
    const good = JSON.stringify([{ event_id: "never", timestamp: Date.now(), ad_id: w.a.ad_id }]);
    const cases: Case[] = [
      post("no Authorization", good, 401, "unauthorized", {}),
      post("Bearer without token", good, 401, "unauthorized", { Authorization: "Bearer" }),
      post("Basic scheme", good, 401, "unauthorized", { Authorization: `Basic ${btoa(w.pub.api_key)}` }),
      post("unknown key", good, 401, "unauthorized", bearer("ek_pub_doesnotexist")),
      post("admin token", good, 401, "unauthorized", ADMIN),
      post("advertiser key", good, 403, "forbidden", bearer(w.a.key)),
      post("another advertiser key", good, 403, "forbidden", bearer(w.b.key)),
      post("empty body", "", 400, "empty_body"),
      post("whitespace body", "\n \n", 400, "empty_body"),
      post("unterminated array", "[", 400, "invalid_json"),
      post("unterminated event", `[{"event_id":"x",`, 400, "invalid_json"),
      post("trailing comma", `[{"event_id":"x"},]`, 400, "invalid_json"),
      post("plain text", "hello world", 400, "invalid_json"),
      post("null", "null", 400, "invalid_json"),
      post("number", "42", 400, "invalid_json"),
      post("string", '"events"', 400, "invalid_json"),
      post("true", "true", 400, "invalid_json"),
      post("NaN", "NaN", 400, "invalid_json"),
      post("not UTF-8", new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d]), 400, "invalid_encoding"),
      post("2 MiB body", `[${JSON.stringify("x".repeat(2 * 1024 * 1024))}]`, 413, "payload_too_large"),
      post(
        "1,001 events",
        JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ event_id: `e${i}`, timestamp: Date.now(), ad_id: w.a.ad_id }))),
        413,
        "too_many_events",
      ),
      post(
        "1,001 NDJSON lines",
        Array.from({ length: 1001 }, (_, i) => JSON.stringify({ event_id: `n${i}`, timestamp: Date.now(), ad_id: w.a.ad_id })).join("\n"),
        413,
        "too_many_events",
      ),
      ...["GET", "PUT", "DELETE", "PATCH"].map((m) =>
        post(`${m} /v1/events`, m === "GET" ? undefined : good, 405, "method_not_allowed", bearer(w.pub.api_key), m),
      ),
      // The key is checked before the body: no key and a bad body is still 401.
      post("no key, bad body", "{", 401, "unauthorized", {}),
    ];
    await runUnchanged(cases);
  });

  it("rejects every bad event of a batch by index, with a reason, and records none of them", async () => {
    const now = Date.now();
    const ok = { event_id: "x", timestamp: now, ad_id: w.a.ad_id };
    const bad: unknown[] = [
      null,
      42,
      "event",
      [],
      true,
      { timestamp: now, ad_id: w.a.ad_id },
      { event_id: null, timestamp: now, ad_id: w.a.ad_id },
      { ...ok, event_id: "" },
      { ...ok, event_id: "has space" },
      { ...ok, event_id: "e".repeat(1000) },
      { ...ok, event_id: 42 },
      { event_id: "no-ad", timestamp: now },
      { ...ok, ad_id: SQL },
      { ...ok, ad_id: "ad_doesnotexist" },
      { ...ok, ad_id: w.a.ad_id.toUpperCase() },
      { ...ok, timestamp: undefined },
      { ...ok, timestamp: "yesterday" },
      { ...ok, timestamp: -1 },
      { ...ok, timestamp: 1e308 },
      { ...ok, timestamp: 1.5 },
      { ...ok, timestamp: now + 10 * 60_000 },
      { ...ok, timestamp: now - 8 * 86_400_000 },
      { ...ok, timestamp: "2026-02-30T00:00:00Z" },
      { ...ok, timestamp: null },
      { ...ok, timestamp: 8_999_999_999_999_999 },
      { ...ok, cost_per_click: 1e308 },
      { ...ok, cost_per_click: -0.01 },
      { ...ok, cost_per_click: "1" },
      { ...ok, cost_per_click: true },
      { ...ok, cost_per_click: 0.1234567 },
      { ...ok, country: "ZZ" },
      { ...ok, country: "U S" },
      { ...ok, country: 1 },
      { ...ok, ip_address: "999.0.0.1" },
      { ...ok, ip_address: "::::" },
      { ...ok, ip_address: SQL },
      { ...ok, user_id: "u".repeat(100 * 1024) },
      { ...ok, user_id: "a\u0000b" },
      { ...ok, user_id: "a\ud800b" },
      { ...ok, user_id: 42 },
      { ...ok, user_agent: "Mozilla\u0000/5.0" },
      { ...ok, user_agent: "x".repeat(2000) },
      { ...ok, device_type: "toaster" },
      { ...ok, ad_format: "bad format!" },
      { ...ok, referer: "r".repeat(10 * 1024) },
      { ...ok, city: "c".repeat(1000) },
      { ...ok, os: 7 },
    ];
    const before = await snapshot();
    const res = await call(`${I}/v1/events`, { method: "POST", headers: bearer(w.pub.api_key), body: JSON.stringify(bad) });
    expect(res.status).toBe(202);
    const out = await json<{ accepted: number; rejected: { index: number; code: string; message: string }[] }>(res);
    expect(out.accepted).toBe(0);
    expect(out.rejected.map((r) => r.index)).toEqual(bad.map((_, i) => i));
    for (const r of out.rejected) {
      expect(Object.keys(r).sort()).toEqual(["code", "index", "message"]);
      expect(r.code, JSON.stringify(bad[r.index])?.slice(0, 80)).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(r.message.length).toBeGreaterThan(0);
    }
    expect(await snapshot()).toEqual(before);
  });
});

// ------------------------------------------------------------------------------------------ reads

const READS = (s: Seeded) => ({
  count: (q: Record<string, string | number>) => `${Q}/v1/ads/${s.ad_id}/aggregated_count?${qs(q)}`,
  popular: (q: Record<string, string | number>) => `${Q}/v1/ads/popular?${qs(q)}`,
  metrics: (q: Record<string, string | number>) => `${Q}/v1/metrics?${qs(q)}`,
  live: (q: Record<string, string | number>) => `${Q}/v1/campaigns/${s.campaign_id}/live?${qs(q)}`,
  billing: (q: Record<string, string | number>) => `${Q}/v1/billing?${qs(q)}`,
  reconciliation: (q: Record<string, string | number>) => `${Q}/v1/reconciliation?${qs(q)}`,
  campaigns: () => `${Q}/v1/campaigns`,
});

/** One valid request per read endpoint, for the auth and method probes. */
function validReads(s: Seeded): [string, string][] {
  const r = READS(s);
  const now = Date.now();
  return [
    ["aggregated_count", r.count({ from: now - HOUR, to: now })],
    ["popular", r.popular({ window: 60, top_n: 10 })],
    ["metrics", r.metrics({ campaign_id: s.campaign_id, start: now - HOUR, end: now })],
    ["live", r.live({ minutes: 5 })],
    ["billing", r.billing({ campaign_id: s.campaign_id, from: "2026-01-01", to: "2026-02-01" })],
    ["reconciliation", r.reconciliation({ date: "2026-01-01" })],
    ["campaigns", r.campaigns()],
  ];
}

describe("corpus: query API", () => {
  it("answers bad query parameters on every read endpoint with a 400 and changes nothing", async () => {
    const r = READS(w.a);
    const now = Date.now();
    const from = now - HOUR;
    const far = 8_999_999_999_999_999; // a safe integer, beyond what a Date can hold
    const get = (name: string, url: string, code = "invalid_request", status = 400): Case => ({
      name,
      url,
      init: { headers: bearer(w.a.key) },
      status,
      code,
    });
    const cases: Case[] = [
      get("count: no from/to", r.count({})),
      get("count: no to", r.count({ from })),
      get("count: no from", r.count({ to: now })),
      get("count: from abc", r.count({ from: "abc", to: now })),
      get("count: from empty", r.count({ from: "", to: now })),
      get("count: from 31 Feb", r.count({ from: "2026-02-31", to: now })),
      get("count: from negative", r.count({ from: -1, to: now })),
      get("count: from fraction", r.count({ from: 1.5, to: now })),
      get("count: from SQL", r.count({ from: SQL, to: now })),
      get("count: to before from", r.count({ from: now, to: from }), "invalid_range"),
      get("count: to equals from", r.count({ from, to: from }), "invalid_range"),
      get("count: to beyond dates", r.count({ from, to: far })),
      get("count: both beyond dates", r.count({ from: far - 1, to: far })),
      get("count: year 0050", r.count({ from: "0050-01-01", to: now })),
      get("count: filter without value", r.count({ from, to: now, filter: "country" })),
      get("count: filter empty value", r.count({ from, to: now, filter: "country:" })),
      get("count: filter unknown dimension", r.count({ from, to: now, filter: "nope:1" })),
      get("count: filter no dimension", r.count({ from, to: now, filter: ":US" })),
      get("count: filter city", r.count({ from, to: now, filter: "city:Berlin" })),
      get("count: filter 1 KB", r.count({ from, to: now, filter: `country:${"U".repeat(1024)}` })),
      get("count: filter NUL", r.count({ from, to: now, filter: "os:a\u0000b" })),

      ...["0", "1441", "abc", "-5", "1.5", "", "1e9", "Infinity"].map((v) =>
        get(`popular: window ${JSON.stringify(v)}`, r.popular({ window: v })),
      ),
      ...["0", "101", "abc", "-1", "2.5", "", "1e3"].map((v) => get(`popular: top_n ${JSON.stringify(v)}`, r.popular({ top_n: v }))),

      get("metrics: neither ad nor campaign", r.metrics({ start: from, end: now })),
      get("metrics: both ad and campaign", r.metrics({ ad_id: w.a.ad_id, campaign_id: w.a.campaign_id, start: from, end: now })),
      get("metrics: no start", r.metrics({ campaign_id: w.a.campaign_id, end: now })),
      get("metrics: no end", r.metrics({ campaign_id: w.a.campaign_id, start: from })),
      get("metrics: start abc", r.metrics({ campaign_id: w.a.campaign_id, start: "abc", end: now })),
      get("metrics: end before start", r.metrics({ campaign_id: w.a.campaign_id, start: now, end: from }), "invalid_range"),
      get("metrics: granularity week", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, granularity: "week" })),
      get("metrics: granularity MINUTE", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, granularity: "MINUTE" })),
      get("metrics: granularity empty", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, granularity: "" })),
      get("metrics: group_by nope", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, group_by: "nope" })),
      get("metrics: group_by city", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, group_by: "city" })),
      get("metrics: group_by SQL", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, group_by: SQL })),
      get("metrics: filter country", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, filter: "country" })),
      get("metrics: filter nope:1", r.metrics({ campaign_id: w.a.campaign_id, start: from, end: now, filter: "nope:1" })),
      get("metrics: campaign_id SQL", r.metrics({ campaign_id: SQL, start: from, end: now })),
      get(
        "metrics: a year of minutes",
        r.metrics({ campaign_id: w.a.campaign_id, start: now - 365 * 86_400_000, end: now, granularity: "minute" }),
        "range_too_large",
      ),
      get(
        "metrics: minutes since 1970",
        r.metrics({ campaign_id: w.a.campaign_id, start: 0, end: now, granularity: "minute" }),
        "range_too_large",
      ),
      get("metrics: days to the end of time", r.metrics({ campaign_id: w.a.campaign_id, start: 0, end: far, granularity: "day" })),
      get("metrics: minutes to the end of time", r.metrics({ campaign_id: w.a.campaign_id, start: now, end: far, granularity: "minute" })),

      ...["0", "1441", "abc", "-1", "1.5", "", "NaN"].map((v) => get(`live: minutes ${JSON.stringify(v)}`, r.live({ minutes: v }))),

      get("billing: no campaign", r.billing({ from: "2026-01-01", to: "2026-02-01" })),
      get("billing: no from", r.billing({ campaign_id: w.a.campaign_id, to: "2026-02-01" })),
      get("billing: no to", r.billing({ campaign_id: w.a.campaign_id, from: "2026-01-01" })),
      get("billing: from abc", r.billing({ campaign_id: w.a.campaign_id, from: "abc", to: "2026-02-01" })),
      get("billing: to before from", r.billing({ campaign_id: w.a.campaign_id, from: "2026-02-01", to: "2026-01-01" }), "invalid_range"),
      get("billing: 401 days", r.billing({ campaign_id: w.a.campaign_id, from: "2025-01-01", to: "2026-02-06" }), "range_too_large"),
      get("billing: beyond dates", r.billing({ campaign_id: w.a.campaign_id, from: far - 86_400_000, to: far })),
      get("billing: campaign SQL", r.billing({ campaign_id: SQL, from: "2026-01-01", to: "2026-02-01" })),
      get("billing: campaign 100 chars", r.billing({ campaign_id: "c".repeat(100), from: "2026-01-01", to: "2026-02-01" })),

      get("reconciliation: no date", r.reconciliation({})),
      ...["abc", "2026-02-30", "2026-1-1", "20260101", "0000-01-01", "0050-06-01", SQL, "2026-01-01T00:00:00Z", ""].map((v) =>
        get(`reconciliation: date ${JSON.stringify(v)}`, r.reconciliation({ date: v })),
      ),
    ];
    await runUnchanged(cases);
  });

  it("answers unknown and malformed ids in paths with 404", async () => {
    const cases: Case[] = [];
    const now = Date.now();
    for (const [label, id] of [
      ["unknown", "ad_doesnotexist"],
      ["SQL", SQL],
      ["NUL", "a\u0000b"],
      ["emoji", "😀"],
      ["10 KB", "x".repeat(10_000)],
      ["broken UTF-8", "%ED%A0%80"],
      ["bad escape", "%zz"],
      ["lone percent", "a%"],
    ] as const) {
      const enc = ["broken UTF-8", "bad escape", "lone percent"].includes(label) ? id : encodeURIComponent(id);
      cases.push({
        name: `aggregated_count of ${label} ad`,
        url: `${Q}/v1/ads/${enc}/aggregated_count?${qs({ from: now - HOUR, to: now })}`,
        init: { headers: bearer(w.a.key) },
        status: 404,
        code: "not_found",
      });
      cases.push({
        name: `live of ${label} campaign`,
        url: `${Q}/v1/campaigns/${enc}/live`,
        init: { headers: bearer(w.a.key) },
        status: 404,
        code: "not_found",
      });
    }
    await runUnchanged(cases);
  });

  it("needs a reader's key on every read endpoint: 401 without, 403 for a publisher key", async () => {
    const cases: Case[] = [];
    for (const [name, url] of validReads(w.a)) {
      for (const [label, headers] of [
        ["no Authorization", {}],
        ["Bearer without token", { Authorization: "Bearer" }],
        ["Basic scheme", { Authorization: `Basic ${btoa(w.a.key)}` }],
        ["key without scheme", { Authorization: w.a.key }],
        ["unknown key", bearer("ek_adv_doesnotexist")],
        ["truncated key", bearer(w.a.key.slice(0, -1))],
        ["key with extra words", { Authorization: `Bearer ${w.a.key} x` }],
      ] as const) {
        cases.push({ name: `${name}: ${label}`, url, init: { headers }, status: 401, code: "unauthorized" });
      }
      cases.push({ name: `${name}: publisher key`, url, init: { headers: bearer(w.pub.api_key) }, status: 403, code: "forbidden" });
    }
    await runUnchanged(cases);
  });

  it("answers wrong methods with 405 and unknown paths with 404", async () => {
    const cases: Case[] = [];
    for (const [name, url] of validReads(w.a)) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        cases.push({
          name: `${method} ${name}`,
          url,
          init: { method, headers: bearer(w.a.key), body: "{}" },
          status: 405,
          code: "method_not_allowed",
        });
      }
    }
    for (const path of [
      "/v1/nope",
      "/v1/ads",
      `/v1/ads/${w.a.ad_id}`,
      `/v1/ads/${w.a.ad_id}/nope`,
      `/v1/campaigns/${w.a.campaign_id}`,
      `/v1/campaigns/${w.a.campaign_id}/live/x`,
      "/v2/metrics",
      "/v1/metrics/x",
    ]) {
      cases.push({ name: `unknown path ${path}`, url: `${Q}${path}`, init: { headers: bearer(w.a.key) }, status: 404, code: "not_found" });
    }
    await runUnchanged(cases);
    const res = await call(validReads(w.a)[0][1], { method: "POST", headers: bearer(w.a.key) });
    expect(res.headers.get("Allow")).toBe("GET, HEAD");
  });
});

// ----------------------------------------------------------------------------------------- probes

describe("probes", () => {
  it("shows another advertiser's ads and campaigns as 404 on every read endpoint, exactly like ones that do not exist", async () => {
    // A has traffic, on the leaderboard too, so an answer that leaked it would show it.
    await runDurableObjectAlarm(campaignStub(testEnv.CAMPAIGN, w.a.campaign_id, 0));
    const now = Date.now();
    const asB = { headers: bearer(w.b.key) };
    const probes: [string, (id: { ad: string; cmp: string }) => string][] = [
      ["aggregated_count", ({ ad }) => `${Q}/v1/ads/${ad}/aggregated_count?${qs({ from: now - HOUR, to: now + HOUR })}`],
      ["metrics by ad", ({ ad }) => `${Q}/v1/metrics?${qs({ ad_id: ad, start: now - HOUR, end: now + HOUR })}`],
      ["metrics by campaign", ({ cmp }) => `${Q}/v1/metrics?${qs({ campaign_id: cmp, start: now - HOUR, end: now + HOUR })}`],
      ["live", ({ cmp }) => `${Q}/v1/campaigns/${cmp}/live?minutes=60`],
      ["billing", ({ cmp }) => `${Q}/v1/billing?${qs({ campaign_id: cmp, from: "2026-01-01", to: "2026-12-31" })}`],
    ];
    for (const [name, url] of probes) {
      const foreign = await expectError(await call(url({ ad: w.a.ad_id, cmp: w.a.campaign_id }), asB), `${name} foreign`, 404);
      const missing = await expectError(await call(url({ ad: "ad_doesnotexist", cmp: "cmp_doesnotexist" }), asB), `${name} missing`, 404);
      expect(foreign.code, name).toBe(missing.code);
      // The message names only what was asked for: the same sentence with another id.
      expect(foreign.message.replace(/\b(ad|cmp)_[a-z0-9]+/g, "ID"), name).toBe(missing.message.replace(/\b(ad|cmp)_[a-z0-9]+/g, "ID"));
      // The owner and the admin do see it.
      expect((await call(url({ ad: w.a.ad_id, cmp: w.a.campaign_id }), { headers: bearer(w.a.key) })).status, name).toBe(200);
      expect((await call(url({ ad: w.a.ad_id, cmp: w.a.campaign_id }), { headers: ADMIN })).status, name).toBe(200);
    }

    // Lists only ever show the caller's own: the admin's popular list has A's ad, B's has not.
    const popular = async (headers: Record<string, string>) =>
      (await json<{ ads: { ad_id: string; campaign_id: string }[] }>(await call(`${Q}/v1/ads/popular?window=60&top_n=100`, { headers })))
        .ads;
    await waitFor("A's ad on the global leaderboard", async () => (await popular(ADMIN)).some((x) => x.ad_id === w.a.ad_id));
    await waitFor("A's ad on A's leaderboard", async () => (await popular(bearer(w.a.key))).some((x) => x.ad_id === w.a.ad_id));
    const seenByB = await popular(bearer(w.b.key));
    expect(seenByB.map((x) => x.ad_id)).not.toContain(w.a.ad_id);
    expect(seenByB.every((x) => x.campaign_id === w.b.campaign_id)).toBe(true);

    const campaigns = async (key: string) =>
      (
        await json<{ campaigns: { campaign_id: string; advertiser_id: string }[] }>(
          await call(`${Q}/v1/campaigns`, { headers: bearer(key) }),
        )
      ).campaigns;
    expect((await campaigns(w.b.key)).map((c) => c.campaign_id)).toEqual([w.b.campaign_id]);
    expect((await campaigns(w.a.key)).map((c) => c.campaign_id)).toEqual([w.a.campaign_id]);

    const today = new Date().toISOString().slice(0, 10);
    const rec = await json<{ campaigns: { campaign_id: string }[] }>(await call(`${Q}/v1/reconciliation?date=${today}`, asB));
    expect(rec.campaigns.map((c) => c.campaign_id)).toEqual([w.b.campaign_id]);
  });

  it("answers forged, moved and mangled signatures with 403 bad_signature, and counts each as invalid", async () => {
    const s = await seedAd({ landing_url: "https://sig.example/" });
    const other = await seedAd({ landing_url: "https://other.example/" });
    const pub = await adminPost("publishers", { name: "Pub" });
    const pub2 = await adminPost("publishers", { name: "Pub2" });
    const { click_url } = await adminPost("click-urls", { ad_id: s.ad_id, publisher_id: pub.publisher_id });
    const good = new URL(click_url);
    const sig = good.searchParams.get("sig")!;
    const [kid, tag] = sig.split(".");
    const link = (params: Record<string, string>, base = `${I}/click`) => `${base}?${new URLSearchParams(params)}`;
    const flipped = tag.slice(0, -2) + (tag.at(-2) === "A" ? "B" : "A") + tag.at(-1);
    const forged: [string, string][] = [
      ["random tag", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: `${kid}.${"A".repeat(43)}` })],
      ["one character changed", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: `${kid}.${flipped}` })],
      ["truncated", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: sig.slice(0, -4) })],
      ["unknown key id", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: `k9.${tag}` })],
      ["no key id", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: tag })],
      ["empty sig", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: "" })],
      ["sig without pub", link({ ad_id: s.ad_id, sig })],
      ["pub without sig", link({ ad_id: s.ad_id, pub: pub.publisher_id })],
      ["other publisher", link({ ad_id: s.ad_id, pub: pub2.publisher_id, sig })],
      ["SQL publisher", link({ ad_id: s.ad_id, pub: SQL, sig })],
      ["not base64", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: `${kid}.!!!!` })],
      ["1 KB sig", link({ ad_id: s.ad_id, pub: pub.publisher_id, sig: `${kid}.${"A".repeat(1024)}` })],
    ];
    const moved = link({ ad_id: other.ad_id, pub: pub.publisher_id, sig });
    let ip = 0;
    // Fresh IP and user per click, so only the signature can make them invalid (not a burst or duplicate).
    const headers = () => ({ "User-Agent": BROWSER, "CF-Connecting-IP": `198.51.100.${++ip}` });
    for (const [label, url] of forged) {
      const res = await call(url, { headers: headers() });
      await expectError(res, label, 403, "bad_signature");
    }
    await expectError(await call(moved, { headers: headers() }), "moved to another ad", 403, "bad_signature");
    expect((await call(good.toString(), { headers: headers() })).status).toBe(302);

    const totals = async (t: Seeded) => {
      const now = Date.now();
      const res = await call(
        `${Q}/v1/metrics?${qs({ campaign_id: t.campaign_id, start: now - HOUR, end: now + HOUR, granularity: "hour" })}`,
        { headers: bearer(t.key) },
      );
      const { metrics } = await json<{ metrics: { clicks: number; invalid_clicks: number; invalid_by_reason: Record<string, number> }[] }>(
        res,
      );
      return {
        clicks: metrics.reduce((n, m) => n + m.clicks, 0),
        invalid: metrics.reduce((n, m) => n + m.invalid_clicks, 0),
        bad_signature: metrics.reduce((n, m) => n + (m.invalid_by_reason.bad_signature ?? 0), 0),
      };
    };
    expect(await totals(s)).toEqual({ clicks: 1, invalid: forged.length, bad_signature: forged.length });
    expect(await totals(other)).toEqual({ clicks: 0, invalid: 1, bad_signature: 1 });
  });

  it("never takes the Location from the request: redirect parameters change nothing", async () => {
    const s = await seedAd({ landing_url: "https://registered.example/path?a=1" });
    const pub = await adminPost("publishers", { name: "Pub" });
    const { click_url } = await adminPost("click-urls", { ad_id: s.ad_id, publisher_id: pub.publisher_id });
    const names = [
      "url",
      "redirect",
      "redirect_uri",
      "landing_url",
      "next",
      "return_to",
      "returnUrl",
      "dest",
      "destination",
      "goto",
      "to",
      "u",
      "r",
      "target",
      "continue",
      "location",
    ];
    const values = [
      EVIL,
      "//evil.example/",
      "javascript:alert(1)",
      "/\\evil.example",
      "https:evil.example",
      "%0d%0aLocation:%20https://evil.example/",
    ];
    let n = 0;
    for (const base of [s.click_url, click_url]) {
      for (const name of names) {
        for (const value of values) {
          const url = `${base}&user_id=r${n++}&${name}=${encodeURIComponent(value)}`;
          const res = await call(url, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": `203.0.113.${n % 250}` } });
          expect(res.status, url).toBe(302);
          expect(landingOf(res.headers.get("Location")), url).toBe("https://registered.example/path?a=1");
        }
      }
    }
    // A Location header or Host sent by the client changes nothing either.
    const res = await call(`${s.click_url}&user_id=hdr`, {
      headers: { Location: EVIL, "X-Forwarded-Host": "evil.example", Referer: EVIL },
    });
    expect(landingOf(res.headers.get("Location"))).toBe("https://registered.example/path?a=1");
  });

  it("takes a flood from one IP: every person is redirected, and the burst beyond 10 a second is invalid", async () => {
    const s = await seedAd({ landing_url: "https://flood.example/" });
    const ip = "198.18.77.77";
    const n = 40;
    const t0 = Date.now();
    // One after the other, as fast as they come: a burst within a second or two of event time.
    for (let i = 0; i < n; i++) {
      const res = await call(`${s.click_url}&user_id=f${i}`, { headers: { "User-Agent": BROWSER, "CF-Connecting-IP": ip } });
      expect(res.status).toBe(302);
      expect(landingOf(res.headers.get("Location"))).toBe("https://flood.example/");
    }
    const t1 = Date.now();
    const seconds = Math.floor(t1 / 1000) - Math.floor(t0 / 1000) + 1;
    const res = await call(`${Q}/v1/metrics?${qs({ campaign_id: s.campaign_id, start: t0 - HOUR, end: t1 + HOUR, granularity: "hour" })}`, {
      headers: bearer(s.key),
    });
    const { metrics } = await json<{ metrics: { clicks: number; invalid_clicks: number; invalid_by_reason: Record<string, number> }[] }>(
      res,
    );
    const clicks = metrics.reduce((a, m) => a + m.clicks, 0);
    const invalid = metrics.reduce((a, m) => a + m.invalid_clicks, 0);
    const burst = metrics.reduce((a, m) => a + (m.invalid_by_reason.ip_burst_second ?? 0), 0);
    expect(clicks + invalid).toBe(n);
    expect(clicks).toBeLessThanOrEqual(10 * seconds);
    expect(burst).toBe(invalid);
    expect(burst).toBeGreaterThanOrEqual(n - 10 * seconds);
    expect(burst).toBeGreaterThan(0);
  });
});
