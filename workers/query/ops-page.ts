/**
 * `GET /ops`: the operator's page beside the dashboard. It reads `GET /v1/ops` with the admin token the
 * operator pastes (kept in this tab only), every 5 s, and shows the alerts first.
 */
import { pageHandler } from "./page";

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d232b;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center}
header h1{font-size:16px;margin:0}main{padding:16px 20px;display:grid;gap:16px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 16px}
h2{font-size:14px;margin:0 0 8px}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f4;font-variant-numeric:tabular-nums}
.num{text-align:right}.bad{color:#b42318;font-weight:600}.ok{color:#067647}
#alerts li{margin:4px 0}form{display:flex;gap:8px}input{flex:1;padding:6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:8px}
.grid div{background:#f6f7f9;border-radius:4px;padding:8px}.grid b{display:block;font-size:20px}
`;

const BODY = `
<header><h1>edgeclick operations</h1><span id="asof"></span></header>
<main>
<section id="signin"><h2>Admin token</h2><form id="form"><input id="token" type="password" autocomplete="off" placeholder="admin token"><button>Show</button></form><p id="msg"></p></section>
<section><h2>Alerts</h2><ul id="alerts"><li>—</li></ul></section>
<section><h2>Ingest (last <span id="window">60</span> min)</h2><div class="grid" id="ingest"></div></section>
<section><h2>Archive</h2><div class="grid" id="archive"></div></section>
<section><h2>Campaign objects</h2><table><thead><tr><th>campaign</th><th class="num">shards</th><th class="num">events/s</th><th class="num">log rows</th><th class="num">open messages</th><th class="num">archive lag s</th></tr></thead><tbody id="campaigns"></tbody></table></section>
<section><h2>Billing rollups</h2><table><thead><tr><th>date</th><th class="num">files</th><th class="num">events</th><th class="num">rows</th><th>computed</th></tr></thead><tbody id="rollups"></tbody></table></section>
<section><h2>Reconciliation (real time vs billing)</h2><table><thead><tr><th>campaign</th><th>date</th><th class="num">real time</th><th class="num">late</th><th class="num">billed</th><th class="num">drift</th></tr></thead><tbody id="recon"></tbody></table></section>
</main>
`;

const SCRIPT = `
(() => {
  const $ = (id) => document.getElementById(id);
  const text = (v) => document.createTextNode(String(v));
  const cell = (v, cls) => { const td = document.createElement("td"); if (cls) td.className = cls; td.append(text(v)); return td; };
  const row = (cells) => { const tr = document.createElement("tr"); for (const c of cells) tr.append(c); return tr; };
  const tiles = (el, pairs) => { el.replaceChildren(...pairs.map(([k, v, cls]) => { const d = document.createElement("div"); const b = document.createElement("b"); if (cls) b.className = cls; b.append(text(v)); d.append(b, text(k)); return d; })); };
  let token = sessionStorage.getItem("edgeclick-ops-token");
  let timer = null;
  async function load() {
    const res = await fetch("/v1/ops?minutes=60", { headers: { Authorization: "Bearer " + token } });
    if (res.status !== 200) { $("msg").textContent = "The API answered " + res.status + ": check the token."; $("signin").hidden = false; return; }
    $("signin").hidden = true;
    const o = await res.json();
    $("asof").textContent = "as of " + o.as_of;
    $("window").textContent = o.window_minutes;
    $("alerts").replaceChildren(...(o.alerts.length ? o.alerts.map((a) => { const li = document.createElement("li"); li.className = "bad"; li.append(text(a.code + ": " + a.message)); return li; }) : [(() => { const li = document.createElement("li"); li.className = "ok"; li.append(text("none")); return li; })()]));
    tiles($("ingest"), [
      ["events/s", o.ingest.events_per_second], ["clicks", o.ingest.clicks], ["invalid", o.ingest.invalid], ["duplicates", o.ingest.duplicates],
      ["late events", o.ingest.late_events], ["fraud rate (band 5–30 %)", (o.fraud.rate * 100).toFixed(1) + " %", o.fraud.within_band ? "ok" : "bad"],
      ...Object.entries(o.ingest.invalid_by_reason).map(([r, n]) => [r, n]),
    ]);
    tiles($("archive"), [["log rows", o.archive.log_rows], ["open messages", o.archive.open_messages], ["unsent messages", o.archive.unsent_messages], ["oldest unarchived (s)", o.archive.oldest_unarchived_age_s, o.archive.oldest_unarchived_age_s > 300 ? "bad" : "ok"]]);
    $("campaigns").replaceChildren(...o.campaigns.map((c) => row([cell(c.campaign_id), cell(c.shard_plan.at(-1)[1], "num"), cell(c.events_per_second, "num"), cell(c.log_rows, "num"), cell(c.open_messages, "num"), cell(c.archive_lag_s, "num")])));
    $("rollups").replaceChildren(...o.rollups.recent.map((r) => row([cell(r.date), cell(r.files, "num"), cell(r.events, "num"), cell(r.rows, "num"), cell(new Date(r.computed_at).toISOString())])));
    $("recon").replaceChildren(...o.reconciliation.map((r) => row([cell(r.campaign_id), cell(r.date), cell(r.realtime_clicks, "num"), cell(r.late_clicks, "num"), cell(r.billed_clicks, "num"), cell((r.drift * 100).toFixed(1) + " %", Math.abs(r.drift) > 0.05 ? "num bad" : "num")])));
  }
  function start() { clearInterval(timer); load().catch((e) => { $("msg").textContent = String(e); }); timer = setInterval(() => load().catch(() => {}), 5000); }
  $("form").addEventListener("submit", (ev) => { ev.preventDefault(); token = $("token").value.trim(); sessionStorage.setItem("edgeclick-ops-token", token); start(); });
  if (token) start();
})();
`;

/** `GET /ops`. */
export const opsPageResponse = pageHandler({ title: "edgeclick: operations", style: STYLE, body: BODY, script: SCRIPT });
