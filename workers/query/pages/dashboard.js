// The advertiser dashboard (GET /dashboard). $ and el come from common.js, served in front of this file.
(() => {
  const STORE_KEY = "edgeclick.apiKey",
    STORE_CAMPAIGN = "edgeclick.campaign";
  const MIN = 60000,
    HOUR = 3600000,
    DAY = 86400000;
  const REASONS = {
    blocklisted_ip: "Blocklisted IP address",
    blocklisted_ua: "Blocklisted User-Agent",
    bot_ua: "Bot or automated tool (User-Agent)",
    ip_burst_second: "Burst: over 10 clicks in a second from one IP",
    ip_rate_minute: "Rate: over 100 clicks in a minute from one IP",
    bad_signature: "Link signature does not match",
    rate_limited: "Over the edge rate limit for one IP",
  };
  const nf = new Intl.NumberFormat(undefined);
  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 6 });
  const pct = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
  let regions = null;
  try {
    regions = new Intl.DisplayNames(["en"], { type: "region" });
  } catch (e) {
    /* older browsers: codes only */
  }

  let key = null,
    campaigns = [],
    selected = null;
  // Bumped on every sign-in, sign-out and campaign change: answers to older requests are dropped.
  let generation = 0;

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path) {
    let res;
    try {
      res = await fetch(path, { headers: { Authorization: `Bearer ${key}` }, cache: "no-store" });
    } catch (e) {
      throw new ApiError(0, "network", "Cannot reach the API. Is the server running?");
    }
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      /* not JSON */
    }
    if (!res.ok) {
      const err = body?.error || {};
      throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText || "Request failed");
    }
    return body;
  }

  function explain(err) {
    if (!(err instanceof ApiError)) return `Something went wrong in this page: ${err.message}`;
    if (err.status === 401) return "Key not valid. Check it, or paste another key.";
    if (err.status === 403) return "This key may not read metrics (is it a publisher key?).";
    if (err.status === 404) return "Not found: the campaign does not exist or is not yours.";
    if (err.status === 429) return "Too many requests; retrying shortly.";
    if (err.status === 0) return err.message;
    if (err.status >= 500) return `The API had a problem (${err.status}); retrying.`;
    return `${err.message} (${err.code})`;
  }

  function status(text, bad) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("bad", !!bad);
  }

  // ----- small DOM helpers (and el, from common.js): API data only ever becomes text nodes, never markup -----
  const num = (n) => el("td", { class: "n" }, nf.format(n));
  const cash = (n) => el("td", { class: "n" }, money.format(n));
  // A bar of billed (valid) and invalid segments, as fractions of the row's scale; decorative, the
  // numbers are in the neighbouring cells.
  function bar(valid, invalid) {
    const seg = (fraction, cls) => {
      const s = el("span", { class: cls });
      s.style.width = `${Math.max(0, Math.min(100, fraction * 100)).toFixed(1)}%`; // CSSOM: allowed by the CSP
      return s;
    };
    return el(
      "td",
      { class: "bar", "aria-hidden": "true" },
      el("div", null, valid > 0 ? seg(valid, "ok") : null, invalid > 0 ? seg(invalid, "inv") : null),
    );
  }
  function fill(tbody, rows, emptyText, columns) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, emptyText))]));
  }
  function country(code) {
    if (!code || code === "XX") return "Unknown (XX)";
    try {
      const name = regions?.of(code);
      return name && name !== code ? `${name} (${code})` : code;
    } catch (e) {
      return code;
    }
  }
  const iso = (ms) => new Date(ms).toISOString();
  const utcDay = (ms) => iso(ms).slice(0, 10);
  const floor = (ms, step) => Math.floor(ms / step) * step;
  const campaignName = (id) => {
    const c = campaigns.find((k) => k.campaign_id === id);
    return c ? c.name : id;
  };

  // Each panel shows its own error, so one failing call does not blank the others.
  function panel(id) {
    return $(id).closest("section");
  }
  function panelError(id, err) {
    const p = panel(id).querySelector(".error");
    p.hidden = !err;
    p.textContent = err ? explain(err) : "";
  }

  // ----- panels -----
  async function loadLive(g) {
    const live = await api(`/v1/campaigns/${encodeURIComponent(selected)}/live?minutes=60`);
    if (g !== generation) return;
    const set = (id, value, sub) => {
      const dd = $(id);
      dd.firstChild.textContent = value;
      if (sub) dd.lastChild.textContent = sub;
    };
    const all = live.clicks + live.invalid_clicks;
    set("live-clicks", nf.format(live.clicks));
    set("live-users", nf.format(live.unique_users));
    set("live-cost", money.format(live.cost));
    set(
      "live-invalid",
      nf.format(live.invalid_clicks),
      all ? `${pct.format(live.invalid_clicks / all)} of all clicks, not billed` : "fraud, not billed",
    );
    $("live-invalid").parentElement.classList.toggle("some", live.invalid_clicks > 0);
    set("live-suspicious", nf.format(live.suspicious_clicks));
    set("live-duplicates", nf.format(live.duplicates));
    set("live-late", nf.format(live.late_events));
    set("live-over-budget", nf.format(live.over_budget_clicks));
    $("live-over-budget").parentElement.classList.toggle("some", live.over_budget_clicks > 0);
    set(
      "live-spend",
      money.format(live.spend),
      live.daily_budget === null
        ? "no daily budget"
        : `of ${money.format(live.daily_budget)} today (${live.daily_budget > 0 ? pct.format(live.spend / live.daily_budget) : "all"} spent)`,
    );
    // 1 spends the budget evenly over the UTC day; above it the budget runs out before midnight.
    set(
      "live-pacing",
      live.pacing === null ? "–" : `${live.pacing.toFixed(2)}×`,
      live.pacing === null ? "no daily budget" : live.pacing > 1 ? "faster than even: runs out early" : "on or under even pace",
    );
    set("live-conversions", nf.format(live.conversions));
    set("live-conversion-value", nf.format(live.conversion_value));
    set("live-conversion-rate", live.conversion_rate === null ? "–" : pct.format(live.conversion_rate));
    $("live-asof").textContent = `as of ${live.as_of.slice(11, 19)} UTC, refreshed every 2 s`;
    const reasons = Object.entries(live.invalid_by_reason || {})
      .filter((r) => r[1] > 0)
      .sort((a, b) => b[1] - a[1]);
    fill(
      $("reasons"),
      reasons.map(([code, n]) =>
        el(
          "tr",
          null,
          el("td", null, REASONS[code] || code, " ", el("span", { class: "id muted" }, code)),
          num(n),
          el("td", { class: "n" }, pct.format(n / live.invalid_clicks)),
          bar(0, n / live.invalid_clicks),
        ),
      ),
      "No invalid clicks in the last hour.",
      4,
    );
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    for (const c of children) e.append(c);
    return e;
  }
  function niceStep(max) {
    const raw = Math.max(1, max / 4),
      p = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(1, m * p);
    return raw;
  }

  // The series the chart shows, for the export button.
  let chartPath = null;

  async function loadChart(g) {
    const end = floor(Date.now(), MIN) + MIN,
      start = end - HOUR;
    const path = `/v1/metrics?campaign_id=${encodeURIComponent(selected)}&start=${iso(start)}&end=${iso(end)}&granularity=minute`;
    const r = await api(path);
    if (g !== generation) return;
    chartPath = path;
    const b = r.metrics;
    const W = 960,
      H = 240,
      L = 40,
      R = 6,
      T = 10,
      B = 24;
    const step = niceStep(Math.max(0, ...b.map((x) => Math.max(x.clicks, x.invalid_clicks))));
    const top = step * 4,
      y = (v) => T + (H - T - B) * (1 - v / top),
      slot = (W - L - R) / Math.max(1, b.length);
    const totalClicks = b.reduce((s, x) => s + x.clicks, 0),
      totalInvalid = b.reduce((s, x) => s + x.invalid_clicks, 0);
    const chart = svg(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-h chart-desc" },
      svg(
        "desc",
        { id: "chart-desc" },
        `${nf.format(totalClicks)} billed clicks and ${nf.format(totalInvalid)} invalid clicks in the last hour.`,
      ),
    );
    for (let i = 0; i <= 4; i++) {
      const v = step * i;
      chart.append(
        svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
        svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, nf.format(v)),
      );
    }
    const bw = Math.max(1, slot * 0.36);
    b.forEach((x, i) => {
      const left = L + i * slot,
        minute = x.timestamp.slice(11, 16);
      const group = svg(
        "g",
        {},
        svg("title", {}, `${minute} UTC: ${x.clicks} billed, ${x.invalid_clicks} invalid`),
        svg("rect", { class: "hit", x: left, y: T, width: slot, height: H - T - B }),
        svg("rect", { class: "valid", x: left + slot * 0.12, y: y(x.clicks), width: bw, height: y(0) - y(x.clicks) }),
        svg("rect", {
          class: "inv",
          x: left + slot * 0.12 + bw + 1,
          y: y(x.invalid_clicks),
          width: bw,
          height: y(0) - y(x.invalid_clicks),
        }),
      );
      chart.append(group);
      if (minute.endsWith("0")) chart.append(svg("text", { x: left + slot / 2, y: H - 6, "text-anchor": "middle" }, minute));
    });
    $("chart").replaceChildren(chart);
    fill(
      $("chart-table"),
      b
        .filter((x) => x.clicks || x.invalid_clicks)
        .reverse()
        .map((x) => el("tr", null, el("td", null, x.timestamp.slice(11, 16)), num(x.clicks), num(x.invalid_clicks), cash(x.cost))),
      "No clicks in the last hour.",
      4,
    );
  }

  // Hourly buckets per group, summed here: clicks, invalid and cost add up (unique users would not).
  async function loadBreakdown(g, dim, tbodyId, label) {
    const end = floor(Date.now(), HOUR) + HOUR,
      start = end - DAY;
    const r = await api(
      "/v1/metrics?campaign_id=" +
        encodeURIComponent(selected) +
        "&start=" +
        iso(start) +
        "&end=" +
        iso(end) +
        "&granularity=hour&group_by=" +
        dim,
    );
    if (g !== generation) return;
    const sums = new Map();
    for (const x of r.metrics) {
      const k = x.group == null ? "" : x.group;
      const s = sums.get(k) || { group: k, clicks: 0, invalid: 0, cost: 0 };
      s.clicks += x.clicks;
      s.invalid += x.invalid_clicks;
      s.cost += x.cost;
      sums.set(k, s);
    }
    const rows = [...sums.values()].filter((s) => s.clicks || s.invalid).sort((a, b) => b.clicks - a.clicks || b.invalid - a.invalid);
    const max = Math.max(1, ...rows.map((s) => s.clicks + s.invalid));
    fill(
      $(tbodyId),
      rows.map((s) =>
        el(
          "tr",
          null,
          el("td", null, label(s.group)),
          num(s.clicks),
          num(s.invalid),
          cash(Math.round(s.cost * 1e6) / 1e6),
          bar(s.clicks / max, s.invalid / max),
        ),
      ),
      "No clicks in the last 24 hours.",
      5,
    );
  }

  async function loadTopAds(g) {
    const r = await api("/v1/ads/popular?window=60&top_n=10");
    if (g !== generation) return;
    const landing = new Map();
    for (const c of campaigns) for (const a of c.ads || []) landing.set(a.ad_id, a.landing_url);
    fill(
      $("top-ads"),
      r.ads.map((a, i) => {
        let host = "";
        try {
          host = new URL(landing.get(a.ad_id)).host;
        } catch (e) {
          /* unknown ad */
        }
        return el(
          "tr",
          a.campaign_id === selected ? { class: "current" } : null,
          el("td", null, String(i + 1)),
          el("td", null, el("span", { class: "id" }, a.ad_id), host ? el("span", { class: "muted" }, ` → ${host}`) : null),
          el("td", null, campaignName(a.campaign_id)),
          num(a.count),
        );
      }),
      "No clicks in the last 60 minutes.",
      4,
    );
  }

  async function loadHeatmap(g) {
    const ads = campaigns.find((c) => c.campaign_id === selected)?.ads || [];
    const pick = $("heat-ad");
    if (pick.dataset.campaign !== selected) {
      pick.dataset.campaign = selected;
      pick.replaceChildren(...ads.map((a) => el("option", { value: a.ad_id }, a.ad_id)));
    }
    const grid = $("heatmap");
    if (!pick.value) return grid.replaceChildren();
    const end = floor(Date.now(), HOUR) + HOUR;
    const r = await api(`/v1/ads/${encodeURIComponent(pick.value)}/heatmap?from=${iso(end - DAY)}&to=${iso(end)}`);
    if (g !== generation) return;
    const max = Math.max(0, ...r.cells.map((c) => c.clicks));
    const w = 400 / r.cols,
      h = 400 / r.rows;
    grid.replaceChildren(
      ...r.cells.map((c) =>
        svg(
          "rect",
          { class: "heat", x: c.col * w, y: c.row * h, width: w, height: h, "fill-opacity": (0.15 + (0.85 * c.clicks) / max).toFixed(3) },
          svg("title", null, `column ${c.col}, row ${c.row}: ${nf.format(c.clicks)} clicks`),
        ),
      ),
    );
    $("heat-note").textContent = max
      ? `${nf.format(r.cells.reduce((s, c) => s + c.clicks, 0))} clean clicks with a position; darker cells took more.`
      : "No clean clicks with a position (x, y, w, h on the link) in the last 24 hours.";
  }

  async function loadBilling(g) {
    const now = Date.now(),
      from = utcDay(now - 6 * DAY),
      to = utcDay(now + DAY);
    const r = await api(`/v1/billing?campaign_id=${encodeURIComponent(selected)}&from=${from}&to=${to}`);
    if (g !== generation) return;
    $("billing-range").textContent = `${from} to ${utcDay(now)}`;
    const rows = r.rows.slice().sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : b.clicks - a.clicks));
    fill(
      $("billing"),
      rows.map((x) =>
        el(
          "tr",
          null,
          el("td", null, x.date),
          el("td", null, country(x.country)),
          el("td", null, x.device_type),
          num(x.clicks),
          num(x.unique_users),
          cash(x.cost),
          num(x.invalid_clicks),
          el("td", null, el("span", { class: `badge ${x.status}` }, x.status)),
        ),
      ),
      "No billed rows yet: the rollup runs every 10 minutes.",
      8,
    );
    const sum = (f) => rows.reduce((s, x) => s + x[f], 0);
    $("billing-total").replaceChildren(
      ...(rows.length
        ? [
            el(
              "tr",
              null,
              el("td", { colspan: "3" }, "Total"),
              num(sum("clicks")),
              el("td"),
              cash(Math.round(sum("cost") * 1e6) / 1e6),
              num(sum("invalid_clicks")),
              el("td"),
            ),
          ]
        : []),
    );
  }

  async function loadReconciliation(g) {
    const r = await api(`/v1/reconciliation?date=${utcDay(Date.now())}`);
    if (g !== generation) return;
    fill(
      $("recon"),
      r.campaigns.map((c) =>
        el(
          "tr",
          c.campaign_id === selected ? { class: "current" } : null,
          el("td", null, campaignName(c.campaign_id)),
          num(c.realtime_clicks),
          num(c.billed_clicks),
          el("td", { class: "n" }, (c.difference > 0 ? "+" : "") + nf.format(c.difference)),
          num(c.late_clicks || 0),
          el("td", null, el("span", { class: `badge ${c.billing_status || ""}` }, (c.billing_status || "").replace(/_/g, " "))),
        ),
      ),
      "No campaigns.",
      6,
    );
  }

  /** Downloads the chart's series as the API's CSV export (the same numbers as its JSON). */
  async function exportCsv() {
    if (!chartPath) return;
    try {
      const res = await fetch(`${chartPath}&format=csv`, { headers: { Authorization: `Bearer ${key}` }, cache: "no-store" });
      if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, "The export failed");
      const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "")?.[1] || "metrics.csv";
      const a = el("a", { href: URL.createObjectURL(await res.blob()), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      panelError("chart", null);
    } catch (err) {
      panelError("chart", err);
    }
  }

  const when = (s) => (s ? s.slice(0, 16).replace("T", " ") : "never");

  async function loadAlerts(g) {
    const r = await api("/v1/alerts?limit=20");
    if (g !== generation) return;
    $("webhook").textContent = r.webhook ? `Delivered to ${r.webhook.url}` : "No webhook set: alerts are only listed here.";
    fill(
      $("alerts"),
      r.alerts.map((a) =>
        el(
          "tr",
          a.campaign_id === selected ? { class: "current" } : null,
          el("td", null, when(a.at)),
          el("td", null, a.kind.replace(/_/g, " ")),
          el("td", null, campaignName(a.campaign_id)),
          el("td", null, a.message),
          el("td", null, el("span", { class: `badge ${a.delivery}` }, a.delivery.replace(/_/g, " "))),
        ),
      ),
      "No alerts.",
      5,
    );
  }

  async function loadKeys(g) {
    const r = await api("/v1/keys");
    if (g !== generation) return;
    fill(
      $("keys"),
      r.keys.map((k) =>
        el(
          "tr",
          null,
          el("td", null, k.key_id),
          el("td", null, when(k.created_at)),
          el("td", null, when(k.last_used_at)),
          el("td", null, k.current ? "this key" : ""),
        ),
      ),
      "No keys.",
      4,
    );
  }

  // ----- polling -----
  // One timer chain per panel: the next request starts only after the previous answered, and nothing
  // is fetched while the tab is hidden.
  function every(ms, panelId, load) {
    const g = generation;
    const tick = async () => {
      if (g !== generation) return;
      if (!document.hidden) {
        try {
          await load(g);
          if (g === generation) panelError(panelId, null);
        } catch (err) {
          if (g !== generation) return;
          if (err instanceof ApiError && err.status === 401) return keyRejected();
          panelError(panelId, err);
        }
      }
      if (g === generation) setTimeout(tick, ms);
    };
    tick();
  }

  function watch(campaignId) {
    generation++;
    selected = campaignId;
    localStorage.setItem(STORE_CAMPAIGN, campaignId);
    every(2000, "live-clicks", loadLive);
    every(10000, "chart", loadChart);
    every(10000, "top-ads", loadTopAds);
    every(60000, "by-country", (g) => loadBreakdown(g, "country", "by-country", country));
    every(60000, "by-device", (g) => loadBreakdown(g, "device_type", "by-device", (d) => d || "unknown"));
    every(60000, "billing", loadBilling);
    every(60000, "recon", loadReconciliation);
    every(30000, "alerts", loadAlerts);
    every(60000, "keys", loadKeys);
    every(10000, "heatmap", loadHeatmap);
  }

  function showKeyForm(message, bad) {
    generation++;
    $("main").hidden = true;
    $("signed-in").hidden = true;
    $("key-form").hidden = false;
    status(message, bad);
  }

  function keyRejected() {
    showKeyForm("Key not valid. Check it, or paste another key.", true);
    $("key").focus();
  }

  async function signIn() {
    const g = ++generation;
    status("Loading your campaigns…");
    let r;
    try {
      r = await api("/v1/campaigns");
    } catch (err) {
      if (g !== generation) return;
      if (err instanceof ApiError && err.status === 401) return keyRejected();
      return showKeyForm(explain(err), true);
    }
    if (g !== generation) return;
    campaigns = r.campaigns;
    $("key-form").hidden = true;
    $("signed-in").hidden = false;
    $("key-hint").textContent = `key …${key.slice(-4)}`;
    if (!campaigns.length) {
      $("campaign").replaceChildren(el("option", { value: "" }, "No campaigns"));
      $("main").hidden = true;
      return status("This key has no campaigns yet.");
    }
    $("campaign").replaceChildren(
      ...campaigns.map((c) => el("option", { value: c.campaign_id }, `${c.name} (${money.format(c.cost_per_click)} per click)`)),
    );
    const remembered = localStorage.getItem(STORE_CAMPAIGN);
    const first = campaigns.some((c) => c.campaign_id === remembered) ? remembered : campaigns[0].campaign_id;
    $("campaign").value = first;
    $("main").hidden = false;
    status("");
    watch(first);
  }

  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("key").value.trim();
    if (!value) return;
    key = value;
    localStorage.setItem(STORE_KEY, key);
    $("key").value = "";
    signIn();
  });
  $("export-csv").addEventListener("click", exportCsv);
  $("forget").addEventListener("click", () => {
    localStorage.removeItem(STORE_KEY);
    localStorage.removeItem(STORE_CAMPAIGN);
    key = null;
    campaigns = [];
    showKeyForm("Key forgotten. It is no longer stored in this browser.");
    $("key").focus();
  });
  $("heat-ad").addEventListener("change", () => loadHeatmap(generation).catch((err) => panelError("heatmap", err)));
  $("campaign").addEventListener("change", (e) => {
    if (e.target.value) watch(e.target.value);
  });

  // A link may carry the key once as #key=…: it is stored, then removed from the address bar and history entry.
  const m = /^#key=(.+)$/.exec(location.hash);
  if (m) {
    try {
      localStorage.setItem(STORE_KEY, decodeURIComponent(m[1]));
    } catch (e) {
      /* storage disabled */
    }
    history.replaceState(null, "", location.pathname + location.search);
  }
  key = localStorage.getItem(STORE_KEY);
  if (key) signIn();
  else showKeyForm("Paste your advertiser API key to see your campaigns.");
})();
