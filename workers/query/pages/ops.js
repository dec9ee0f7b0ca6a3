// The operator's page (GET /ops). $ and el come from common.js, served in front of this file.
(() => {
  // Every value is shown as it came, String(null) included, as text.
  const cell = (v, cls) => el("td", cls ? { class: cls } : null, String(v));
  const row = (cells) => el("tr", null, ...cells);
  const item = (v, cls) => el("li", { class: cls }, String(v));
  const tiles = (box, pairs) => {
    box.replaceChildren(...pairs.map(([k, v, cls]) => el("div", null, el("b", cls ? { class: cls } : null, String(v)), String(k))));
  };
  let token = sessionStorage.getItem("edgeclick-ops-token");
  let timer = null;
  async function load() {
    const res = await fetch("/v1/ops?minutes=60", { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) {
      $("msg").textContent = `The API answered ${res.status}: check the token.`;
      $("signin").hidden = false;
      return;
    }
    $("signin").hidden = true;
    const o = await res.json();
    $("asof").textContent = `as of ${o.as_of}`;
    $("window").textContent = o.window_minutes;
    const alerts = o.alerts.map((a) => item(`${a.code}: ${a.message}`, "bad"));
    $("alerts").replaceChildren(...(alerts.length ? alerts : [item("none", "ok")]));
    tiles($("ingest"), [
      ["events/s", o.ingest.events_per_second],
      ["clicks", o.ingest.clicks],
      ["invalid", o.ingest.invalid],
      ["duplicates", o.ingest.duplicates],
      ["late events", o.ingest.late_events],
      ["fraud rate (band 5–30 %)", `${(o.fraud.rate * 100).toFixed(1)} %`, o.fraud.within_band ? "ok" : "bad"],
      ...Object.entries(o.ingest.invalid_by_reason).map(([r, n]) => [r, n]),
    ]);
    tiles($("archive"), [
      ["log rows", o.archive.log_rows],
      ["open messages", o.archive.open_messages],
      ["unsent messages", o.archive.unsent_messages],
      ["oldest unarchived (s)", o.archive.oldest_unarchived_age_s, o.archive.oldest_unarchived_age_s > 300 ? "bad" : "ok"],
    ]);
    $("campaigns").replaceChildren(
      ...o.campaigns.map((c) =>
        row([
          cell(c.campaign_id),
          cell(c.shard_plan.at(-1)[1], "num"),
          cell(c.events_per_second, "num"),
          cell(c.log_rows, "num"),
          cell(c.open_messages, "num"),
          cell(c.archive_lag_s, "num"),
        ]),
      ),
    );
    $("rollups").replaceChildren(
      ...o.rollups.recent.map((r) =>
        row([cell(r.date), cell(r.files, "num"), cell(r.events, "num"), cell(r.rows, "num"), cell(new Date(r.computed_at).toISOString())]),
      ),
    );
    $("recon").replaceChildren(
      ...o.reconciliation.map((r) =>
        row([
          cell(r.campaign_id),
          cell(r.date),
          cell(r.realtime_clicks, "num"),
          cell(r.late_clicks, "num"),
          cell(r.billed_clicks, "num"),
          cell(`${(r.drift * 100).toFixed(1)} %`, Math.abs(r.drift) > 0.05 ? "num bad" : "num"),
        ]),
      ),
    );
  }
  function start() {
    clearInterval(timer);
    load().catch((e) => {
      $("msg").textContent = String(e);
    });
    timer = setInterval(() => load().catch(() => {}), 5000);
  }
  $("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("edgeclick-ops-token", token);
    start();
  });
  if (token) start();
})();
